//! `PoolLimit`: Envoy's cluster circuit breakers (spec §3.4) in front of an upstream service.
//!
//! `poll_ready` reserves an active-request permit (`http2MaxRequests`); while the inner service
//! is not ready the caller also holds a pending permit (`http1MaxPendingRequests`). When either
//! limit is reached the service becomes ready anyway and `call` answers at once, without
//! calling the inner service, with what Envoy sends: `503`, `x-envoy-overloaded: true`, and the
//! [`ResponseFlag::UpstreamOverflow`] (`UO`) and [`Overflow`] extensions. The request permit is
//! released when the response headers arrive (or the future is dropped). Connection counting
//! (`maxConnections`, `maxRequestsPerConnection`) and `maxRetries` are for the connection pool
//! and the retry layer, through [`CircuitBreaker`] directly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::resilience::pool::{CircuitBreaker, Overflow, Permit};

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
    /// Holding a request permit (and a pending one while the inner service is not ready).
    Waiting {
        request: Permit,
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
            response: Option<Response<B>>,
        },
        NotReady,
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
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
                r @ (Reserved::Ready(_) | Reserved::Overflow(_)) => {
                    self.reserved = r;
                    return Poll::Ready(Ok(()));
                }
                Reserved::Nothing => {
                    self.reserved = match self.breaker.try_acquire_request() {
                        Ok(request) => Reserved::Waiting {
                            request,
                            pending: None,
                        },
                        Err(o) => Reserved::Overflow(o),
                    };
                }
                Reserved::Waiting { request, pending } => match self.inner.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        self.reserved = Reserved::Ready(request);
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => {
                        // Waiting for a connection: a pending request (HTTP/1 semantics).
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
                            request,
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

// === impl ResponseFuture ===

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future, permit } => {
                let out = ready!(future.poll(cx));
                drop(permit.take());
                Poll::Ready(out.map_err(Into::into))
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
