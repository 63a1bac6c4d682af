//! Scene 5: `destinationrule-circuit-breaker.yaml` over `virtualservice-myapp.yaml`'s default
//! route (3 retries on 503), with a v1 pod whose application always answers 503: the retries
//! hide its failures, outlier detection ejects it, and a burst of slow concurrent requests
//! meets the circuit breaker: over HTTP/1.1 each connection carries one request at a time, so
//! `maxConnections` requests reach the pods at once, the next `http1MaxPendingRequests` wait
//! for a connection, and the rest are refused at once (503 `UO`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::StatusCode;
use mesh_core::Mesh;

use super::{Sizes, drive};
use crate::demo::apps::HOLD_HEADER;
use crate::demo::config::{MYAPP, NAMESPACE};
use crate::demo::report::Check;
use crate::demo::world::World;

/// How often the burst's progress is looked at.
const SETTLE_STEP: Duration = Duration::from_millis(20);

/// The longest the pods hold the burst before letting go.
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// What scene 5 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resilience {
    /// `GET /health` requests sent (default route: subset v1, retries on 503).
    pub sent: u32,
    /// Answered 200.
    pub ok: u32,
    /// Retries: attempts the applications received beyond one per request.
    pub retries: u64,
    /// Requests the failing pod received.
    pub failing_hits: u64,
    /// Of those, during the second half of the requests (after ejection: none).
    pub failing_hits_late: u64,
    /// The effective policy's `consecutive5xxErrors` for subset v1.
    pub eject_after: u32,
    /// The effective policy's `maxConnections` for subset v1.
    pub max_connections: u32,
    /// The effective policy's `http1MaxPendingRequests` for subset v1.
    pub max_pending: u32,
    /// The effective policy's `http2MaxRequests` (active requests) for subset v1.
    pub max_requests: u32,
    /// Concurrent slow requests sent in the burst.
    pub burst_sent: u32,
    /// The most burst requests the pods held at once.
    pub burst_peak: u64,
    /// Of those, answered 200.
    pub burst_ok: u32,
    /// Of those, answered 503 with `x-envoy-overloaded` (`UO`).
    pub burst_overflow: u32,
}

// === impl Resilience ===

impl Resilience {
    /// Requests in flight at most: one per connection (HTTP/1.1), within `http2MaxRequests`.
    pub fn at_once(&self) -> u32 {
        self.max_connections.min(self.max_requests)
    }

    /// The rows of scene 5.
    pub fn checks(&self) -> Vec<Check> {
        let mut out = vec![
            Check::new(
                format!("GET /health (x{})", self.sent),
                "all 200: failures retried (retryOn 503)",
                format!(
                    "{}/{} answered 200, {} retries",
                    self.ok, self.sent, self.retries
                ),
                self.sent > 0 && self.ok == self.sent && self.retries > 0,
            ),
            Check::new(
                "failing v1 pod (always 503)",
                format!("ejected after {} consecutive 5xx", self.eject_after),
                format!(
                    "{} requests, then none: {} in the second half",
                    self.failing_hits, self.failing_hits_late
                ),
                self.failing_hits >= u64::from(self.eject_after) && self.failing_hits_late == 0,
            ),
        ];
        let what = format!("{} concurrent, held by the pods", self.burst_sent);
        let (at_once, waiting) = (self.at_once(), self.max_pending);
        let admitted = at_once.saturating_add(waiting);
        let refused = self.burst_sent.saturating_sub(admitted);
        let expected = format!("{at_once} at once, {waiting} wait, {refused} get 503 UO");
        out.push(if refused > 0 {
            Check::new(
                what,
                expected,
                format!(
                    "{} at once at the pods, {} answered 200, {} answered 503 UO",
                    self.burst_peak, self.burst_ok, self.burst_overflow
                ),
                // The pods hold the burst until it is sorted, so exactly the limits show; if
                // the pods had to let go first (5 s), later arrivals may still be admitted:
                // never more refusals than the limits imply, never more at once.
                self.burst_peak <= u64::from(at_once)
                    && self.burst_overflow > 0
                    && self.burst_overflow <= refused
                    && self.burst_overflow + self.burst_ok == self.burst_sent,
            )
        } else {
            Check::not_observed(what, expected, "the burst is within the limits")
        });
        out
    }
}

/// Runs scene 5 through frontend's sidecar.
pub async fn run(world: &World, sizes: &Sizes, mesh: Option<&Mesh>) -> Resilience {
    let via = world.outbound("frontend");
    let client = world.client().clone();
    let mut out = Resilience::default();
    if let Some(mesh) = mesh {
        let p = mesh.destination_policy(MYAPP, NAMESPACE, Some("v1"), Some(80));
        out.eject_after = p.outlier_detection.map_or(0, |o| o.consecutive_5xx);
        let pool = &p.connection_pool;
        out.max_connections = pool.max_connections;
        out.max_pending = pool.http1_max_pending_requests;
        out.max_requests = pool.http2_max_requests;
    }
    let apps: Vec<_> = ["myapp-v1", "myapp-v2", "myapp-v1-failing"]
        .iter()
        .map(|n| world.pod(n).app.clone())
        .collect();
    let total = || apps.iter().map(|a| a.hits()).sum::<u64>();
    let failing = &world.pod("myapp-v1-failing").app;
    let (hits_before, failing_before) = (total(), failing.hits());
    let half = sizes.resilience / 2;
    let send = |n| {
        let client = client.clone();
        drive(n, 2, move |_| {
            let client = client.clone();
            async move {
                client
                    .get(via, MYAPP, "/health", &[])
                    .await
                    .is_ok_and(|a| a.status == StatusCode::OK)
            }
        })
    };
    let mut answers = send(half).await;
    let failing_mid = failing.hits();
    answers.extend(send(sizes.resilience - half).await);
    out.sent = answers.len() as u32;
    out.ok = answers.iter().filter(|ok| **ok).count() as u32;
    out.retries = (total() - hits_before).saturating_sub(u64::from(out.sent));
    out.failing_hits = failing.hits() - failing_before;
    out.failing_hits_late = failing.hits() - failing_mid;
    // The burst: the pods hold every request until the proxy has sorted all of them (those
    // at the pods, those waiting for a connection, those refused), then let go.
    for app in &apps {
        app.hold();
        app.reset_peak();
    }
    let refused_now = Arc::new(AtomicU32::new(0));
    let (client, refused) = (client.clone(), refused_now.clone());
    let burst = tokio::spawn(drive(sizes.burst, sizes.burst, move |_| {
        let (client, refused) = (client.clone(), refused.clone());
        async move {
            let answer = client
                .get(via, MYAPP, "/health", &[(HOLD_HEADER, "1")])
                .await;
            if answer.as_ref().is_ok_and(|a| a.overloaded) {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            answer.ok()
        }
    }));
    let at_once = u64::from(out.at_once());
    let expected_refused = sizes
        .burst
        .saturating_sub(out.at_once().saturating_add(out.max_pending));
    let held = || apps.iter().map(|a| a.held()).sum::<u64>();
    let settled = async {
        while held() < at_once.min(u64::from(sizes.burst))
            || refused_now.load(Ordering::Relaxed) < expected_refused
        {
            tokio::time::sleep(SETTLE_STEP).await;
        }
    };
    // Past the deadline the row reports whatever was observed.
    let _ = tokio::time::timeout(SETTLE_MAX, settled).await;
    // A little longer: anything admitted beyond the limits would show at the pods now.
    tokio::time::sleep(SETTLE_STEP * 5).await;
    for app in &apps {
        app.release();
    }
    let burst = burst.await.unwrap_or_default();
    out.burst_sent = burst.len() as u32;
    out.burst_peak = apps.iter().map(|a| a.peak()).sum();
    for a in burst.into_iter().flatten() {
        if a.status == StatusCode::OK {
            out.burst_ok += 1;
        } else if a.status == StatusCode::SERVICE_UNAVAILABLE && a.overloaded {
            out.burst_overflow += 1;
        }
    }
    out
}
