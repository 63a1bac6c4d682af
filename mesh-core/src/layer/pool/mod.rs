//! `PoolLimit`: Envoy's cluster circuit breakers (spec §3.4) in front of an upstream service.
//!
//! `poll_ready` follows Envoy's connection pool: it checks the active-request limit
//! (`http2MaxRequests`); while the inner service is not ready the caller waits holding a pending
//! permit (`http1MaxPendingRequests`); once it is ready the caller takes an active-request permit.
//! When a limit is reached the service becomes ready anyway and `call` answers at once, without
//! calling the inner service, with what Envoy sends: `503`, `x-envoy-overloaded: true`, and the
//! [`ResponseFlag::UpstreamOverflow`] (`UO`) and [`Overflow`] extensions. As in Envoy, a request
//! stays active until its response stream ends: the permit travels in the response body
//! ([`PermitBody`]) and is released at the end of the body, on a body error, or when the body or
//! the future is dropped. Connection counting
//! (`maxConnections`, `maxRequestsPerConnection`) and `maxRetries` are for the connection pool
//! and the retry layer, through [`CircuitBreaker`] directly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::resilience::pool::{CircuitBreaker, Limit, Overflow, Permit};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The header Envoy sets on responses it refuses for overflow.
pub const X_ENVOY_OVERLOADED: &str = "x-envoy-overloaded";

/// Envoy response flags of responses a layer of this crate answered itself, set as a response
/// extension (metrics and access logs read it; the outlier detector ignores them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseFlag {
    /// `UO`: a circuit-breaker limit was reached.
    UpstreamOverflow,
    /// `UH`: no healthy upstream host.
    NoHealthyUpstream,
}

/// Applies [`PoolLimit`] with one cluster's circuit breakers; every service it makes shares them.
#[derive(Clone, Debug)]
pub struct PoolLimitLayer {
    breaker: CircuitBreaker,
}

/// The circuit-breaker service. Clones share the limits and start unreserved.
#[derive(Debug)]
pub struct PoolLimit<S> {
    inner: S,
    breaker: CircuitBreaker,
    reserved: Reserved,
}

#[derive(Debug)]
enum Reserved {
    Nothing,
    /// The request limit had room; waiting for the inner service, as a pending request once
    /// it said not ready.
    Waiting {
        pending: Option<Permit>,
    },
    /// The inner service is ready and the request permit is held.
    Ready(Permit),
    /// A limit was reached: the next call is answered with 503.
    Overflow(Overflow),
}

pin_project! {
    /// The response future of [`PoolLimit`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Called {
            #[pin]
            future: F,
            permit: Option<Permit>,
        },
        Overloaded {
            response: Option<Response<PermitBody<B>>>,
        },
        NotReady,
    }
}

pin_project! {
    /// A response body that keeps its request counted against `http2MaxRequests` until the
    /// stream ends.
    #[derive(Debug)]
    pub struct PermitBody<B> {
        #[pin]
        inner: B,
        permit: Option<Permit>,
    }
}

/// `call` without a successful `poll_ready` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("PoolLimit called before poll_ready returned ready")]
pub struct NotReady;

// === impl ResponseFlag ===

impl ResponseFlag {
    /// Envoy's short code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResponseFlag::UpstreamOverflow => "UO",
            ResponseFlag::NoHealthyUpstream => "UH",
        }
    }
}

// === impl PoolLimitLayer ===

impl PoolLimitLayer {
    /// A layer over `breaker`.
    pub const fn new(breaker: CircuitBreaker) -> Self {
        PoolLimitLayer { breaker }
    }
}

impl<S> Layer<S> for PoolLimitLayer {
    type Service = PoolLimit<S>;

    fn layer(&self, inner: S) -> PoolLimit<S> {
        PoolLimit::new(inner, self.breaker.clone())
    }
}

// === impl PoolLimit ===

impl<S> PoolLimit<S> {
    /// Wraps `inner` with `breaker`'s limits.
    pub fn new(inner: S, breaker: CircuitBreaker) -> Self {
        PoolLimit {
            inner,
            breaker,
            reserved: Reserved::Nothing,
        }
    }

    /// The circuit breakers in force.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S: Clone> Clone for PoolLimit<S> {
    fn clone(&self) -> Self {
        PoolLimit::new(self.inner.clone(), self.breaker.clone())
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for PoolLimit<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    ResB: Default,
{
    type Response = Response<PermitBody<ResB>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, ResB>;

    /// Envoy's connection-pool order: a new stream first checks `max_requests`; without a
    /// ready connection it waits as a pending request (checked against
    /// `max_pending_requests`); once a connection is ready it becomes active, checking
    /// `max_requests` again. A pending request holds no request slot.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
                r @ (Reserved::Ready(_) | Reserved::Overflow(_)) => {
                    self.reserved = r;
                    return Poll::Ready(Ok(()));
                }
                Reserved::Nothing => {
                    self.reserved = match self.breaker.check(Limit::Requests) {
                        Ok(()) => Reserved::Waiting { pending: None },
                        Err(o) => Reserved::Overflow(o),
                    };
                }
                Reserved::Waiting { pending } => match self.inner.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        drop(pending);
                        self.reserved = match self.breaker.try_acquire_request() {
                            Ok(p) => Reserved::Ready(p),
                            Err(o) => Reserved::Overflow(o),
                        };
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => {
                        let pending = match pending {
                            Some(p) => p,
                            None => match self.breaker.try_acquire_pending() {
                                Ok(p) => p,
                                Err(o) => {
                                    self.reserved = Reserved::Overflow(o);
                                    return Poll::Ready(Ok(()));
                                }
                            },
                        };
                        self.reserved = Reserved::Waiting {
                            pending: Some(pending),
                        };
                        return Poll::Pending;
                    }
                },
            }
        }
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
            Reserved::Ready(permit) => ResponseFuture {
                state: State::Called {
                    future: self.inner.call(req),
                    permit: Some(permit),
                },
            },
            Reserved::Overflow(o) => ResponseFuture {
                state: State::Overloaded {
                    response: Some(overloaded(o)),
                },
            },
            other => {
                self.reserved = other;
                ResponseFuture {
                    state: State::NotReady,
                }
            }
        }
    }
}

/// Envoy's local reply for a circuit-breaker overflow.
pub fn overloaded<B: Default>(o: Overflow) -> Response<B> {
    let mut resp = Response::new(B::default());
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    resp.headers_mut()
        .insert(X_ENVOY_OVERLOADED, HeaderValue::from_static("true"));
    resp.extensions_mut().insert(ResponseFlag::UpstreamOverflow);
    resp.extensions_mut().insert(o);
    resp
}

// === impl PermitBody ===

impl<B> PermitBody<B> {
    /// A body that holds no permit.
    pub fn new(inner: B) -> Self {
        PermitBody {
            inner,
            permit: None,
        }
    }

    /// The wrapped body (releases the permit).
    pub fn into_inner(self) -> B {
        self.inner
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Whether the request is still counted as active.
    pub fn holds_permit(&self) -> bool {
        self.permit.is_some()
    }
}

impl<B: Default> Default for PermitBody<B> {
    fn default() -> Self {
        PermitBody::new(B::default())
    }
}

impl<B: Body> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            drop(this.permit.take());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// === impl ResponseFuture ===

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<PermitBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future, permit } => {
                let out = ready!(future.poll(cx)).map_err(Into::into)?;
                let permit = permit.take();
                Poll::Ready(Ok(out.map(|inner| PermitBody { inner, permit })))
            }
            StateProj::Overloaded { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Ready(Err(NotReady.into())),
            },
            StateProj::NotReady => Poll::Ready(Err(NotReady.into())),
        }
    }
}

#[cfg(test)]
mod tests;
