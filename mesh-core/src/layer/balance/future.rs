//! The response future of [`Balance`](super::Balance): drives the chosen endpoint to
//! readiness, calls it, and reports the attempt's outcome to the outlier detector.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{BoxError, ErrorClassifier, Shared, lock};
use crate::clock::Clock;
use crate::layer::pool::ResponseFlag;
use crate::resilience::Outcome;
use crate::resilience::outlier::Recorded;
use crate::resilience::pool::Overflow;

/// One attempt in flight on one host: reports its outcome, or just its end when dropped.
pub(super) struct InFlight<C> {
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) index: usize,
    /// The host's identity and the endpoint epoch at the pick, to find it after an update.
    pub(super) id: u64,
    pub(super) epoch: u64,
    pub(super) clock: C,
    pub(super) classify: ErrorClassifier,
    pub(super) done: bool,
}

pin_project! {
    /// The response future of [`Balance`].
    pub struct ResponseFuture<S, F, Req, B, C> {
        #[pin]
        pub(super) state: State<S, F, Req, B>,
        pub(super) in_flight: Option<InFlight<C>>,
        pub(super) set_cookie: Option<HeaderValue>,
    }
}

pin_project! {
    #[project = StateProj]
    pub(super) enum State<S, F, Req, B> {
        Waiting {
            service: S,
            request: Option<Req>,
        },
        Called {
            #[pin]
            future: F,
        },
        Local {
            response: Option<Response<B>>,
        },
    }
}

// === impl InFlight ===

impl<C: Clock> InFlight<C> {
    fn finish(&mut self, outcome: Option<Outcome>) {
        if self.done {
            return;
        }
        self.done = true;
        let now = self.clock.now();
        let mut guard = lock(&self.shared);
        let shared = &mut *guard;
        let Some(index) = self.current_index(shared) else {
            return;
        };
        shared.hosts.finish_request(index);
        let Some(outcome) = outcome else { return };
        shared.advance(now);
        if let Some(o) = &mut shared.outlier
            && let Recorded::Ejected { .. } = o.record(index, outcome, now)
        {
            shared.hosts.set_healthy(index, false);
        }
    }
}

impl<C> InFlight<C> {
    /// The host's index now: unchanged in the same epoch, else looked up by identity (`None`
    /// when the endpoint was removed).
    fn current_index(&self, shared: &Shared) -> Option<usize> {
        if shared.epoch == self.epoch {
            Some(self.index)
        } else {
            shared.hosts.position_of(self.id)
        }
    }
}

impl<C> Drop for InFlight<C> {
    fn drop(&mut self) {
        if !self.done {
            let mut guard = lock(&self.shared);
            if let Some(index) = self.current_index(&guard) {
                guard.hosts.finish_request(index);
            }
        }
    }
}

fn outcome_of<B>(resp: &Response<B>) -> Outcome {
    if resp.extensions().get::<ResponseFlag>() == Some(&ResponseFlag::UpstreamOverflow) {
        return Outcome::Overflow;
    }
    Outcome::Response {
        status: resp.status().as_u16(),
        grpc_status: resp
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
    }
}

// === impl ResponseFuture ===

impl<S, Req, B, C> Future for ResponseFuture<S, S::Future, Req, B, C>
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Into<BoxError>,
    C: Clock,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Waiting { service, request } => {
                    let ready = ready!(service.poll_ready(cx));
                    let req = request.take();
                    match (ready, req) {
                        (Ok(()), Some(req)) => {
                            let future = service.call(req);
                            this.state.set(State::Called { future });
                        }
                        (Err(e), _) => return Poll::Ready(Err(failed(this.in_flight, e.into()))),
                        (Ok(()), None) => {
                            return Poll::Ready(Err(
                                "balance future polled after completion".into()
                            ));
                        }
                    }
                }
                StateProj::Called { future } => {
                    let out = ready!(future.poll(cx)).map_err(Into::into);
                    return Poll::Ready(match out {
                        Ok(mut resp) => {
                            if let Some(f) = this.in_flight.as_mut() {
                                f.finish(Some(outcome_of(&resp)));
                            }
                            if let Some(c) = this.set_cookie.take() {
                                resp.headers_mut().append(http::header::SET_COOKIE, c);
                            }
                            Ok(resp)
                        }
                        Err(e) => Err(failed(this.in_flight, e)),
                    });
                }
                StateProj::Local { response } => {
                    return Poll::Ready(
                        response
                            .take()
                            .ok_or_else(|| "balance future polled after completion".into()),
                    );
                }
            }
        }
    }
}

/// Records an endpoint error with the outlier detector and passes it on.
fn failed<C: Clock>(in_flight: &mut Option<InFlight<C>>, e: BoxError) -> BoxError {
    {
        if let Some(f) = in_flight.as_mut() {
            let outcome = if e.downcast_ref::<Overflow>().is_some() {
                Outcome::Overflow
            } else {
                (f.classify)(&e)
            };
            f.finish(Some(outcome));
        }
        e
    }
}
