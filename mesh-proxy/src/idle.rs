//! The idle timeout of downstream connections (Envoy's `common_http_protocol_options.
//! idle_timeout`, Istio's default 1 h): a connection with no request in flight for that long
//! is shut down gracefully (GOAWAY on HTTP/2, close on HTTP/1). hyper has no such timer for
//! HTTP/2 (its keep-alive PINGs keep an idle connection open forever), so each connection
//! counts its in-flight requests: a request is in flight from its arrival until its response
//! body ends or is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

/// Istio's default HTTP idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// In-flight requests of one connection, and since when none has been.
#[derive(Debug)]
pub struct IdleTracker {
    state: watch::Sender<State>,
}

#[derive(Clone, Copy, Debug)]
struct State {
    active: usize,
    since: Instant,
}

/// Holds one request in flight; dropping it ends the request.
#[derive(Debug)]
pub struct InFlight {
    tracker: Arc<IdleTracker>,
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight until it is dropped.
    #[derive(Debug)]
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        _in_flight: InFlight,
    }
}

// === impl IdleTracker ===

impl IdleTracker {
    /// A connection with nothing in flight, idle from now.
    pub fn new() -> Arc<Self> {
        let (state, _) = watch::channel(State {
            active: 0,
            since: Instant::now(),
        });
        Arc::new(IdleTracker { state })
    }

    /// A request arrived.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.state.send_modify(|s| s.active += 1);
        InFlight {
            tracker: self.clone(),
        }
    }

    /// Requests in flight now.
    pub fn active(&self) -> usize {
        self.state.borrow().active
    }

    /// Resolves once no request has been in flight for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        let mut rx = self.state.subscribe();
        loop {
            let State { active, since } = *rx.borrow_and_update();
            if active == 0 {
                if Instant::now() >= since + timeout {
                    return;
                }
                tokio::select! {
                    // Loop to re-read the state: a request may have come and gone meanwhile.
                    () = tokio::time::sleep_until(since + timeout) => {}
                    _ = rx.changed() => {}
                }
            } else if rx.changed().await.is_err() {
                // The tracker is gone with its connection: never idle.
                return std::future::pending().await;
            }
        }
    }
}

// === impl InFlight ===

impl Drop for InFlight {
    fn drop(&mut self) {
        self.tracker.state.send_modify(|s| {
            s.active = s.active.saturating_sub(1);
            if s.active == 0 {
                s.since = Instant::now();
            }
        });
    }
}

// === impl Tracked ===

impl<B> Tracked<B> {
    /// `inner`, keeping `in_flight` until dropped.
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Tracked {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `f` has resolved by now (polls once).
    fn ready<F: std::future::Future>(f: Pin<&mut F>) -> bool {
        f.poll(&mut Context::from_waker(std::task::Waker::noop()))
            .is_ready()
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_after_its_last_request_plus_the_timeout() {
        let t = IdleTracker::new();
        let timeout = Duration::from_secs(10);
        let idle = t.idle_for(timeout);
        tokio::pin!(idle);
        let first = t.start();
        let second = t.start();
        assert_eq!(t.active(), 2);
        // Requests in flight: never idle, however long they take.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!ready(idle.as_mut()));
        drop(first);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!ready(idle.as_mut()));
        // The last one ends: idle after the timeout, counted from then.
        drop(second);
        assert_eq!(t.active(), 0);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!ready(idle.as_mut()));
        // A new request restarts the wait.
        let third = t.start();
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(third);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!ready(idle.as_mut()));
        tokio::time::advance(Duration::from_secs(1)).await;
        idle.await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_tracked_body_keeps_its_request_in_flight_until_dropped() {
        let t = IdleTracker::new();
        let body = Tracked::new(http_body_util::Full::new(Bytes::from("x")), t.start());
        assert_eq!(t.active(), 1);
        drop(body);
        assert_eq!(t.active(), 0);
    }
}
