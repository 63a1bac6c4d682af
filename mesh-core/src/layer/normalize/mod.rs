//! `NormalizeLayer`: normalizes the request target once, before routing and authorization
//! (semantics.md §6.8), and rewrites the request URI to the normalized form so that the path the
//! authorization layer judges is exactly the path forwarded upstream (security.md rule 1).
//! Requests that cannot be normalized safely get 400 with `connection: close`; the reason is in
//! the response extensions as [`Rejected`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::security::normalize::{self, PathNormalization, Rejected};

/// Normalizes request paths with the mesh's `pathNormalization` mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalizeLayer {
    mode: PathNormalization,
}

/// The service built by [`NormalizeLayer`].
#[derive(Clone, Debug)]
pub struct Normalize<S> {
    inner: S,
    mode: PathNormalization,
}

pin_project! {
    /// Response future of [`Normalize`]: the inner call, or an immediate 400.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = NormalizeProj]
    enum State<F, B> {
        /// Forwarded.
        Inner {
            #[pin]
            fut: F,
        },
        /// Rejected before the inner service.
        Rejected {
            response: Option<Response<B>>,
        },
    }
}

// === impl NormalizeLayer ===

impl NormalizeLayer {
    /// A layer normalizing with `mode`.
    pub const fn new(mode: PathNormalization) -> Self {
        NormalizeLayer { mode }
    }
}

impl<S> Layer<S> for NormalizeLayer {
    type Service = Normalize<S>;

    fn layer(&self, inner: S) -> Normalize<S> {
        Normalize {
            inner,
            mode: self.mode,
        }
    }
}

// === impl Normalize ===

impl<S, ReqB, ResB> Service<Request<ReqB>> for Normalize<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: From<Bytes>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        match normalize_request(&mut req, self.mode) {
            Ok(()) => ResponseFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                },
            },
            Err(why) => ResponseFuture {
                state: State::Rejected {
                    response: Some(bad_request(why)),
                },
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            NormalizeProj::Inner { fut } => fut.poll(cx),
            NormalizeProj::Rejected { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

/// Checks the method and header names, normalizes the path and writes it back into the URI
/// (scheme and authority of an absolute-form target kept, the query untouched). `OPTIONS *`
/// passes as it is.
pub fn normalize_request<B>(req: &mut Request<B>, mode: PathNormalization) -> Result<(), Rejected> {
    normalize::check_method(req.method().as_str())?;
    for name in req.headers().keys() {
        normalize::check_header_name(name.as_str().as_bytes())?;
    }
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if target == "*" && req.method() == http::Method::OPTIONS {
        return Ok(());
    }
    let normalized = normalize::normalize(target, mode)?;
    let forwarded = normalized.path_and_query();
    if forwarded == target {
        return Ok(());
    }
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(forwarded.parse().map_err(|_| Rejected::Unforwardable)?);
    *req.uri_mut() = Uri::from_parts(parts).map_err(|_| Rejected::Unforwardable)?;
    Ok(())
}

fn bad_request<B: From<Bytes>>(why: Rejected) -> Response<B> {
    let mut res = Response::new(B::from(Bytes::from_static(b"Bad Request")));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    res.extensions_mut().insert(why);
    res
}

#[cfg(test)]
mod tests;
