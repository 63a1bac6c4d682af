//! Retries as a tower layer (spec §5): Istio's attempt-counting retries or a ServiceProfile
//! route's budget-limited retries, with the request body replayed from a bounded buffer.
//!
//! A request is retryable only if its route retries and its body's length is known and at most
//! the bound (64 KiB by default): that body is read once, then every attempt sends a copy. Any
//! other request is forwarded once, its body streamed. Each attempt may be cut by the per-try
//! timeout (a local reset). Put the route [`Timeout`](crate::layer::timeout) outside this layer:
//! its deadline covers every attempt and backoff, and is never retried.
//!
//! The response future is one boxed async state machine (one allocation per request).

mod body;
mod policy;
mod rng;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

pub use self::body::ReplayBody;
pub use self::policy::{Attempt, IstioRetries, Next, ProfileRetries, Retries};
pub use self::rng::SharedRng;
use crate::clock::{Clock, TokioClock};
use crate::layer::timeout::BoxError;
use crate::resilience::retry::{
    MAX_REPLAY_BODY, ResponseHints, RetryState, TIMEOUT_BODY, TIMEOUT_FLAG, TIMEOUT_STATUS,
};
use crate::resilience::{ErrorOrigin, Outcome};

/// Maps an inner error to the attempt's outcome; `None` for errors never retried (local ones).
pub type ClassifyError = fn(&BoxError) -> Option<Outcome>;

/// Retries a route's requests.
#[derive(Debug)]
pub struct RetryLayer<P, C = TokioClock> {
    policy: Arc<P>,
    rng: SharedRng,
    max_body: u64,
    classify: ClassifyError,
    clock: C,
}

/// The service of [`RetryLayer`].
#[derive(Debug)]
pub struct Retry<S, P, C = TokioClock> {
    inner: S,
    policy: Arc<P>,
    rng: SharedRng,
    max_body: u64,
    classify: ClassifyError,
    clock: C,
}

/// The per-try timeout cut the last attempt (Envoy answers 504 `UT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upstream per-try timeout after {after:?}")]
pub struct PerTryTimeout {
    /// The configured per-try timeout.
    pub after: Duration,
}

/// Response extension: the response is a failure a retry budget (or `maxRetries`) refused to
/// retry (Envoy's `upstream_rq_retry_overflow`, Linkerd's budget exhaustion). Proxies count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBudgetExhausted;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// The response future of [`Retry`].
    pub struct ResponseFuture<T> {
        #[pin]
        inner: BoxFuture<Result<T, BoxError>>,
    }
}

// === impl RetryLayer ===

impl<P: Retries> RetryLayer<P> {
    /// Retries with an entropy-seeded backoff jitter, tokio's clock, a 64 KiB replay bound and
    /// [`classify_error`].
    pub fn new(policy: P) -> Self {
        Self::with_rng(policy, SharedRng::from_entropy())
    }

    /// With a given RNG (seeded in tests).
    pub fn with_rng(policy: P, rng: SharedRng) -> Self {
        RetryLayer {
            policy: Arc::new(policy),
            rng,
            max_body: MAX_REPLAY_BODY as u64,
            classify: classify_error,
            clock: TokioClock,
        }
    }
}

impl<P, C> RetryLayer<P, C> {
    /// Bodies longer than `max_body` bytes are not retried.
    pub fn with_max_body(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }

    /// How inner errors become outcomes.
    pub fn with_error_classifier(mut self, classify: ClassifyError) -> Self {
        self.classify = classify;
        self
    }

    /// The clock the budget reads.
    pub fn with_clock<C2>(self, clock: C2) -> RetryLayer<P, C2> {
        RetryLayer {
            policy: self.policy,
            rng: self.rng,
            max_body: self.max_body,
            classify: self.classify,
            clock,
        }
    }
}

impl<P, C: Clone> Clone for RetryLayer<P, C> {
    fn clone(&self) -> Self {
        RetryLayer {
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            max_body: self.max_body,
            classify: self.classify,
            clock: self.clock.clone(),
        }
    }
}

impl<S, P, C: Clone> Layer<S> for RetryLayer<P, C> {
    type Service = Retry<S, P, C>;
    fn layer(&self, inner: S) -> Retry<S, P, C> {
        Retry {
            inner,
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            max_body: self.max_body,
            classify: self.classify,
            clock: self.clock.clone(),
        }
    }
}

// === impl Retry ===

impl<S: Clone, P, C: Clone> Clone for Retry<S, P, C> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            max_body: self.max_body,
            classify: self.classify,
            clock: self.clock.clone(),
        }
    }
}

impl<S, P, C, B, RB> Service<http::Request<B>> for Retry<S, P, C>
where
    S: Service<http::Request<ReplayBody<B>>, Response = http::Response<RB>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    P: Retries,
    C: Clock,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = BoxError;
    type Future = ResponseFuture<http::Response<RB>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The ready service serves the first attempt; this one starts unreserved.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let run = Run {
            template: self.inner.clone(),
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            max_body: self.max_body,
            classify: self.classify,
            clock: self.clock.clone(),
        };
        ResponseFuture {
            inner: Box::pin(run.run(ready, req)),
        }
    }
}

impl<T> Future for ResponseFuture<T> {
    type Output = Result<T, BoxError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

/// Everything one request's retries need.
struct Run<S, P, C> {
    template: S,
    policy: Arc<P>,
    rng: SharedRng,
    max_body: u64,
    classify: ClassifyError,
    clock: C,
}

impl<S, P, C> Run<S, P, C>
where
    P: Retries,
    C: Clock,
{
    async fn run<B, RB>(
        self,
        mut svc: S,
        req: http::Request<B>,
    ) -> Result<http::Response<RB>, BoxError>
    where
        S: Service<http::Request<ReplayBody<B>>, Response = http::Response<RB>> + Clone,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let per_try = self.policy.per_try_timeout();
        let (parts, body) = req.into_parts();
        let replayable = self.policy.retries_enabled()
            && body.size_hint().upper().is_some_and(|n| n <= self.max_body);
        if !replayable {
            let req = http::Request::from_parts(parts, ReplayBody::streaming(body));
            return attempt(per_try, svc.call(req)).await;
        }
        let collected = body.collect().await.map_err(Into::into)?;
        let trailers = collected.trailers().cloned();
        let data = collected.to_bytes();
        let request_is_grpc = is_grpc(&parts.headers);
        let mut state = RetryState::new();
        let mut _permit: Option<P::Permit> = None;
        loop {
            let req = http::Request::from_parts(
                parts.clone(),
                ReplayBody::buffered(data.clone(), trailers.clone()),
            );
            let result = attempt(per_try, svc.call(req)).await;
            let (outcome, hints) = match &result {
                Ok(rsp) => outcome_of(rsp),
                Err(e) => match (self.classify)(e) {
                    Some(o) => (o, ResponseHints::default()),
                    None => return result,
                },
            };
            let attempt = Attempt {
                outcome,
                hints,
                request_is_grpc,
            };
            let now = self.clock.now();
            let next = self
                .rng
                .with(|rng| self.policy.decide(&attempt, &mut state, rng, now));
            match next {
                Next::Return => return result,
                Next::Exhausted => {
                    return result.map(|mut rsp| {
                        rsp.extensions_mut().insert(RetryBudgetExhausted);
                        rsp
                    });
                }
                Next::Retry { backoff, permit } => {
                    drop(result);
                    _permit = Some(permit);
                    if !backoff.is_zero() {
                        tokio::time::sleep(backoff).await;
                    }
                    svc = self.template.clone();
                    poll_fn(|cx| svc.poll_ready(cx)).await.map_err(Into::into)?;
                }
            }
        }
    }
}

/// One attempt, cut by the per-try timeout.
async fn attempt<T, E: Into<BoxError>>(
    per_try: Option<Duration>,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, BoxError> {
    match per_try {
        Some(after) => match tokio::time::timeout(after, fut).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(PerTryTimeout { after }.into()),
        },
        None => fut.await.map_err(Into::into),
    }
}

// === impl PerTryTimeout ===

impl PerTryTimeout {
    /// The upstream did not answer in time.
    pub const fn origin(&self) -> ErrorOrigin {
        ErrorOrigin::Upstream
    }

    /// Retryable with `reset`, `5xx` or `gateway-error` (the layer already tried).
    pub const fn is_retryable(&self) -> bool {
        true
    }

    /// Envoy's answer: 504 `UT`, `upstream request timeout`.
    pub fn to_response<B: From<Bytes>>(&self) -> http::Response<B> {
        crate::layer::timeout::local_reply(TIMEOUT_STATUS, TIMEOUT_FLAG, TIMEOUT_BODY)
    }
}

/// The outcome and hints of a response.
pub fn outcome_of<B>(rsp: &http::Response<B>) -> (Outcome, ResponseHints) {
    let grpc_status = rsp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u8>().ok());
    let hints = ResponseHints {
        envoy_ratelimited: rsp.headers().contains_key("x-envoy-ratelimited"),
        early_data: false,
    };
    let status = rsp.status().as_u16();
    (
        Outcome::Response {
            status,
            grpc_status,
        },
        hints,
    )
}

/// The default error classification: a [`PerTryTimeout`] is one; a route timeout is never
/// retried; I/O errors by
/// kind (refused, unreachable: connect failure; reset, aborted, broken pipe: reset); anything
/// else is a reset after the request was sent, as Envoy counts upstream failures.
pub fn classify_error(err: &BoxError) -> Option<Outcome> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = cur {
        if e.is::<PerTryTimeout>() {
            return Some(Outcome::PerTryTimeout);
        }
        if e.is::<crate::layer::timeout::RouteTimeout>() {
            return None;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return Some(match io.kind() {
                K::ConnectionRefused
                | K::AddrNotAvailable
                | K::HostUnreachable
                | K::NetworkUnreachable => Outcome::ConnectFailure,
                _ => Outcome::Reset {
                    before_request: false,
                },
            });
        }
        cur = e.source();
    }
    Some(Outcome::Reset {
        before_request: false,
    })
}

fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests;
