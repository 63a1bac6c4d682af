//! The route timeout as a tower layer (spec §1.7, §5.2; ServiceProfile route `timeout`, §5.3):
//! the whole request, retries and backoff included, must finish within it, else the request
//! fails with [`RouteTimeout`] — Envoy's 504 with response flag `UT` and body
//! `upstream request timeout`. `None` (or zero) disables it, Istio's default. Put it outside the
//! retry layer. Timers are tokio's, so tests run under paused time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Sleep;
use tower_layer::Layer;
use tower_service::Service;

use crate::resilience::ErrorOrigin;
use crate::resilience::retry::{TIMEOUT_BODY, TIMEOUT_FLAG, TIMEOUT_STATUS};

/// Errors crossing tower layers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An Envoy response flag carried as a response extension (`UT`, `FI`, `DI`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponseFlag(pub &'static str);

/// Applies a route timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeoutLayer {
    timeout: Option<Duration>,
}

/// The service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeout: Option<Duration>,
}

/// The route timeout fired: answer 504 `UT`, never retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upstream request timeout after {after:?}")]
pub struct RouteTimeout {
    /// The configured timeout.
    pub after: Duration,
}

pin_project_lite::pin_project! {
    /// The response future of [`Timeout`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        after: Duration,
    }
}

// === impl TimeoutLayer ===

impl TimeoutLayer {
    /// A route timeout; `None` disables it (a zero duration is disabled too).
    pub const fn new(timeout: Option<Duration>) -> Self {
        TimeoutLayer { timeout }
    }

    /// A ServiceProfile route's timeout.
    pub fn for_profile(route: &crate::profile::ProfileRoute) -> Self {
        Self::new(route.timeout.map(|t| t.to_std()))
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            timeout: self.timeout.filter(|d| !d.is_zero()),
        }
    }
}

// === impl Timeout ===

impl<S, Req> Service<Req> for Timeout<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(req),
            sleep: self.timeout.map(tokio::time::sleep),
            after: self.timeout.unwrap_or_default(),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(res) = this.inner.poll(cx) {
            return Poll::Ready(res.map_err(Into::into));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
            return Poll::Ready(Err(RouteTimeout { after: *this.after }.into()));
        }
        Poll::Pending
    }
}

// === impl RouteTimeout ===

impl RouteTimeout {
    /// A local policy decision.
    pub const fn origin(&self) -> ErrorOrigin {
        ErrorOrigin::Local
    }

    /// A route timeout is never retried.
    pub const fn is_retryable(&self) -> bool {
        false
    }

    /// Envoy's local reply: 504, flag `UT`, body `upstream request timeout`.
    pub fn to_response<B: From<Bytes>>(&self) -> http::Response<B> {
        local_reply(TIMEOUT_STATUS, TIMEOUT_FLAG, TIMEOUT_BODY)
    }
}

/// A plain-text local reply with an Envoy response flag extension.
pub(crate) fn local_reply<B: From<Bytes>>(
    status: u16,
    flag: &'static str,
    body: &'static str,
) -> http::Response<B> {
    let mut rsp = http::Response::new(B::from(Bytes::from_static(body.as_bytes())));
    *rsp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::GATEWAY_TIMEOUT);
    rsp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    rsp.extensions_mut().insert(ResponseFlag(flag));
    rsp
}

#[cfg(test)]
mod tests;
