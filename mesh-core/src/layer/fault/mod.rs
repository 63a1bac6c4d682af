//! Fault injection as a tower layer (spec §1.7): delays the request, then aborts it with an HTTP
//! or gRPC status, each per the route's percentages. An aborted request is answered here and
//! never reaches the inner stack (no retries, no upstream, no outlier accounting): put this layer
//! outside the retry and balance layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::time::Sleep;
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::retry::SharedRng;
use crate::layer::timeout::{BoxError, ResponseFlag};
use crate::resilience::fault::{Abort, FaultInjector};

/// Response flag of an injected abort.
pub const ABORT_FLAG: &str = "FI";
/// Response flag of an injected delay.
pub const DELAY_FLAG: &str = "DI";

/// Injects a route's faults.
#[derive(Clone, Debug)]
pub struct FaultLayer {
    injector: Arc<FaultInjector>,
    rng: SharedRng,
}

/// The service of [`FaultLayer`].
#[derive(Clone, Debug)]
pub struct Fault<S> {
    inner: S,
    injector: Arc<FaultInjector>,
    rng: SharedRng,
}

pin_project_lite::pin_project! {
    /// The response future of [`Fault`].
    pub struct ResponseFuture<S, Req, F> {
        #[pin]
        state: State<S, Req, F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, Req, F> {
        Delaying {
            #[pin]
            sleep: Sleep,
            svc: Option<S>,
            req: Option<Req>,
            abort: Option<Abort>,
        },
        Calling {
            #[pin]
            fut: F,
            delayed: bool,
        },
        Aborting {
            abort: Abort,
            delayed: bool,
        },
    }
}

// === impl FaultLayer ===

impl FaultLayer {
    /// Faults drawn from an entropy-seeded RNG.
    pub fn new(injector: FaultInjector) -> Self {
        Self::from_rng(injector, SharedRng::from_entropy())
    }

    /// Faults drawn from `rng` (seed it for reproducible tests).
    pub fn from_rng(injector: FaultInjector, rng: SharedRng) -> Self {
        FaultLayer {
            injector: Arc::new(injector),
            rng,
        }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = Fault<S>;
    fn layer(&self, inner: S) -> Fault<S> {
        Fault {
            inner,
            injector: self.injector.clone(),
            rng: self.rng.clone(),
        }
    }
}

// === impl Fault ===

impl<S, B, RB> Service<http::Request<B>> for Fault<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone,
    S::Error: Into<BoxError>,
    RB: Default,
{
    type Response = http::Response<RB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, http::Request<B>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let decision = self.rng.with(|rng| self.injector.decide(rng));
        let state = match (decision.delay, decision.abort) {
            (None, None) => State::Calling {
                fut: self.inner.call(req),
                delayed: false,
            },
            (None, Some(abort)) => State::Aborting {
                abort,
                delayed: false,
            },
            (Some(delay), abort) => {
                // The ready service goes into the future; this one starts unreserved.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                State::Delaying {
                    sleep: tokio::time::sleep(delay),
                    svc: Some(ready),
                    req: Some(req),
                    abort,
                }
            }
        };
        ResponseFuture { state }
    }
}

impl<S, B, RB> Future for ResponseFuture<S, http::Request<B>, S::Future>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Error: Into<BoxError>,
    RB: Default,
{
    type Output = Result<http::Response<RB>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Delaying {
                    sleep,
                    svc,
                    req,
                    abort,
                } => {
                    ready!(sleep.poll(cx));
                    match (abort.take(), svc.take(), req.take()) {
                        (Some(abort), ..) => State::Aborting {
                            abort,
                            delayed: true,
                        },
                        (None, Some(mut svc), Some(req)) => State::Calling {
                            fut: svc.call(req),
                            delayed: true,
                        },
                        _ => unreachable!("polled after completion"),
                    }
                }
                StateProj::Calling { fut, delayed } => {
                    let mut rsp = ready!(fut.poll(cx)).map_err(Into::into)?;
                    if *delayed {
                        rsp.extensions_mut().insert(ResponseFlag(DELAY_FLAG));
                    }
                    return Poll::Ready(Ok(rsp));
                }
                StateProj::Aborting { abort, .. } => {
                    return Poll::Ready(Ok(abort_response(*abort)));
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// The local answer of an abort: the HTTP status, or a trailers-only gRPC response (HTTP 200
/// with `grpc-status`), flagged `FI`.
pub fn abort_response<B: Default>(abort: Abort) -> http::Response<B> {
    let mut rsp = http::Response::new(B::default());
    match abort {
        Abort::Http(status) => {
            *rsp.status_mut() = http::StatusCode::from_u16(status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        Abort::Grpc(code) => {
            let h = rsp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            h.insert("grpc-status", http::HeaderValue::from(u16::from(code)));
            h.insert(
                "grpc-message",
                http::HeaderValue::from_static("fault filter abort"),
            );
        }
    }
    rsp.extensions_mut().insert(ResponseFlag(ABORT_FLAG));
    rsp
}

#[cfg(test)]
mod tests;
