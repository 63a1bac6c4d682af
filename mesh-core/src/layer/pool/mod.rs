//! `PoolLimit`: Envoy's cluster circuit breakers (spec §3.4) in front of an upstream service.
//!
//! `poll_ready` follows Envoy's connection pools. On an HTTP/1 cluster
//! ([`UpstreamProtocol::Http1`]) a connection carries one request at a time: a request takes
//! one of `maxConnections` connection slots; when all are busy it waits, FIFO, as a pending
//! request (`http1MaxPendingRequests`) until one frees up. On an HTTP/2 cluster requests
//! multiplex: only the active-request limit (`http2MaxRequests`) is checked, and a request
//! waits as pending only while the inner service is not ready. Either way an admitted request
//! then takes an active-request permit (`http2MaxRequests` caps both protocols).
//! When a limit is reached the service becomes ready anyway and `call` answers at once, without
//! calling the inner service, with what Envoy sends: `503`, `x-envoy-overloaded: true`, and the
//! [`ResponseFlag::UpstreamOverflow`] (`UO`) and [`Overflow`] extensions. As in Envoy, a request
//! stays active (and its HTTP/1 connection busy) until its response stream ends: the permits
//! travel in the response body ([`PermitBody`]) and are released at the end of the body, on a
//! body error, or when the body or the future is dropped. `maxRequestsPerConnection` and
//! `maxRetries` are for the connection pool and the retry layer, through [`CircuitBreaker`]
//! directly.

mod body;
mod gate;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use self::body::Held;
pub use self::body::PermitBody;
pub use self::gate::GateClosed;
use self::gate::{Gate, Slot, Waiter};
use crate::resilience::pool::{CircuitBreaker, Limit, Overflow, Permit, UpstreamProtocol};

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

/// Applies [`PoolLimit`] with one cluster's circuit breakers; every service it makes shares them
/// (and, on an HTTP/1 cluster, one queue for its connections).
#[derive(Clone, Debug)]
pub struct PoolLimitLayer {
    breaker: CircuitBreaker,
    gate: Option<Gate>,
}

/// The circuit-breaker service. Clones share the limits and start unreserved.
#[derive(Debug)]
pub struct PoolLimit<S> {
    inner: S,
    breaker: CircuitBreaker,
    /// HTTP/1 clusters: the connection slots, shared by every clone.
    gate: Option<Gate>,
    reserved: Reserved,
}

#[derive(Debug)]
enum Reserved {
    Nothing,
    /// HTTP/1: every connection is busy; queued for the next one as a pending request.
    Queued {
        pending: Permit,
        waiter: Waiter,
    },
    /// Waiting for the inner service (as a pending request once it said not ready), holding
    /// the connection slot on an HTTP/1 cluster.
    Waiting {
        pending: Option<Permit>,
        connection: Option<Slot>,
    },
    /// The inner service is ready and the request permit is held.
    Ready(Held),
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
            held: Option<Held>,
        },
        Overloaded {
            response: Option<Response<PermitBody<B>>>,
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
    /// A layer over `breaker` for a multiplexing (HTTP/2) upstream: only `http2MaxRequests`
    /// bounds the requests in flight.
    pub const fn new(breaker: CircuitBreaker) -> Self {
        PoolLimitLayer {
            breaker,
            gate: None,
        }
    }

    /// A layer over `breaker` for an upstream speaking `protocol`; on HTTP/1 every service it
    /// makes shares one queue for `maxConnections` connections.
    pub fn with_protocol(breaker: CircuitBreaker, protocol: UpstreamProtocol) -> Self {
        PoolLimitLayer {
            gate: gate_for(&breaker, protocol),
            breaker,
        }
    }
}

impl<S> Layer<S> for PoolLimitLayer {
    type Service = PoolLimit<S>;

    fn layer(&self, inner: S) -> PoolLimit<S> {
        PoolLimit {
            inner,
            breaker: self.breaker.clone(),
            gate: self.gate.clone(),
            reserved: Reserved::Nothing,
        }
    }
}

fn gate_for(breaker: &CircuitBreaker, protocol: UpstreamProtocol) -> Option<Gate> {
    match protocol {
        UpstreamProtocol::Http1 => Some(Gate::new(breaker.max(Limit::Connections))),
        UpstreamProtocol::Http2 => None,
    }
}

// === impl PoolLimit ===

impl<S> PoolLimit<S> {
    /// Wraps a multiplexing (HTTP/2) `inner` with `breaker`'s limits.
    pub fn new(inner: S, breaker: CircuitBreaker) -> Self {
        PoolLimitLayer::new(breaker).layer(inner)
    }

    /// Wraps `inner`, an upstream speaking `protocol`, with `breaker`'s limits. Clones share
    /// the HTTP/1 connection queue.
    pub fn with_protocol(inner: S, breaker: CircuitBreaker, protocol: UpstreamProtocol) -> Self {
        PoolLimitLayer::with_protocol(breaker, protocol).layer(inner)
    }

    /// The circuit breakers in force.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S: Clone> Clone for PoolLimit<S> {
    fn clone(&self) -> Self {
        PoolLimit {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            gate: self.gate.clone(),
            reserved: Reserved::Nothing,
        }
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

    /// Envoy's connection-pool order. HTTP/1: a free connection slot is taken at once, else
    /// the request queues as pending (checked against `max_pending_requests`) for the next
    /// one. HTTP/2: a new stream checks `max_requests`. Without a ready inner service the
    /// request waits as pending; once it is ready the request becomes active, taking a
    /// `max_requests` slot. A pending request holds no request slot.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
                r @ (Reserved::Ready(_) | Reserved::Overflow(_)) => {
                    self.reserved = r;
                    return Poll::Ready(Ok(()));
                }
                Reserved::Nothing => self.reserved = self.admit(),
                Reserved::Queued {
                    pending,
                    mut waiter,
                } => match waiter.poll_slot(cx, &self.breaker) {
                    Poll::Pending => {
                        self.reserved = Reserved::Queued { pending, waiter };
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(Ok(slot))) => {
                        self.reserved = Reserved::Waiting {
                            pending: Some(pending),
                            connection: Some(slot),
                        };
                    }
                    Poll::Ready(Ok(Err(o))) => self.reserved = Reserved::Overflow(o),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                },
                Reserved::Waiting {
                    pending,
                    connection,
                } => match self.inner.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        drop(pending);
                        self.reserved = match self.breaker.try_acquire_request() {
                            Ok(request) => Reserved::Ready(Held {
                                _request: request,
                                _connection: connection,
                            }),
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
                            connection,
                        };
                        return Poll::Pending;
                    }
                },
            }
        }
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
            Reserved::Ready(held) => ResponseFuture {
                state: State::Called {
                    future: self.inner.call(req),
                    held: Some(held),
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

impl<S> PoolLimit<S> {
    /// A new request's first step: a connection slot or a place in the queue (HTTP/1), a
    /// check of the request limit (HTTP/2).
    fn admit(&self) -> Reserved {
        let Some(gate) = &self.gate else {
            return match self.breaker.check(Limit::Requests) {
                Ok(()) => Reserved::Waiting {
                    pending: None,
                    connection: None,
                },
                Err(o) => Reserved::Overflow(o),
            };
        };
        match gate.try_slot(&self.breaker) {
            Ok(slot) => Reserved::Waiting {
                pending: None,
                connection: Some(slot),
            },
            Err(_) => match self.breaker.try_acquire_pending() {
                Ok(pending) => Reserved::Queued {
                    pending,
                    waiter: gate.wait(),
                },
                Err(o) => Reserved::Overflow(o),
            },
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
    type Output = Result<Response<PermitBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future, held } => {
                let out = ready!(future.poll(cx)).map_err(Into::into)?;
                let held = held.take();
                Poll::Ready(Ok(out.map(|inner| PermitBody::holding(inner, held))))
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
