//! Scene 5: `destinationrule-circuit-breaker.yaml` over `virtualservice-myapp.yaml`'s default
//! route (3 retries on 503), with a v1 pod whose application always answers 503: the retries
//! hide its failures, outlier detection ejects it, and a burst of slow concurrent requests
//! overflows the circuit breaker (503 `UO`).

use http::StatusCode;
use mesh_core::Mesh;

use super::{Sizes, drive};
use crate::demo::apps::DELAY_HEADER;
use crate::demo::config::{MYAPP, NAMESPACE};
use crate::demo::report::Check;
use crate::demo::world::World;

/// How long each burst request is held by the application, in ms.
const BURST_HOLD_MS: &str = "400";

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
    /// The effective policy's `http2MaxRequests` (active requests) for subset v1.
    pub pool_limit: u32,
    /// Concurrent slow requests sent in the burst.
    pub burst_sent: u32,
    /// Of those, answered 200.
    pub burst_ok: u32,
    /// Of those, answered 503 with `x-envoy-overloaded` (`UO`).
    pub burst_overflow: u32,
}

// === impl Resilience ===

impl Resilience {
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
        let what = format!("{} concurrent, {BURST_HOLD_MS} ms each", self.burst_sent);
        out.push(if self.burst_sent > self.pool_limit {
            Check::new(
                what,
                format!("over {} active: 503 UO", self.pool_limit),
                format!(
                    "{} answered 503 UO, {} answered 200",
                    self.burst_overflow, self.burst_ok
                ),
                self.burst_overflow > 0 && self.burst_overflow + self.burst_ok == self.burst_sent,
            )
        } else {
            Check::not_observed(
                what,
                format!("over {} active: 503 UO", self.pool_limit),
                "the burst is within the limits",
            )
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
        // Pending requests (`http1MaxPendingRequests`) are those waiting for a connection;
        // the endpoint clients open connections on demand, so the active limit is the one
        // a burst meets.
        out.pool_limit = pool.http2_max_requests;
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
    let client = client.clone();
    let burst = drive(sizes.burst, sizes.burst, move |_| {
        let client = client.clone();
        async move {
            client
                .get(via, MYAPP, "/health", &[(DELAY_HEADER, BURST_HOLD_MS)])
                .await
                .ok()
        }
    })
    .await;
    out.burst_sent = burst.len() as u32;
    for a in burst.into_iter().flatten() {
        if a.status == StatusCode::OK {
            out.burst_ok += 1;
        } else if a.status == StatusCode::SERVICE_UNAVAILABLE && a.overloaded {
            out.burst_overflow += 1;
        }
    }
    out
}
