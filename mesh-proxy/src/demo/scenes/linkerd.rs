//! Scene 6: `serviceprofile-myapp.yaml` and `trafficsplit-canary.yaml`: requests to myapp are
//! split 90/10 between the myapp-v1 and myapp-v2 services; `POST /api/orders` is retryable
//! within the profile's retry budget (20% of requests plus 10 per second); `GET /api/users`
//! times out after 5 s. A failing pod in myapp-v1 gives the retries something to do.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use mesh_core::Mesh;
use tokio::task::JoinHandle;

use super::{Sizes, drive, pct, permille, tolerance, within};
use crate::demo::apps::DELAY_HEADER;
use crate::demo::client::{Answer, Call, Failed};
use crate::demo::config::{MYAPP, NAMESPACE};
use crate::demo::report::Check;
use crate::demo::world::World;

/// The profile's `GET /api/users` timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one request the demo leaves running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Probe {
    /// Not sent.
    #[default]
    NotSent,
    /// Answered with `status` after `after_ms`.
    Answered {
        /// The status.
        status: u16,
        /// Milliseconds after sending.
        after_ms: u64,
    },
    /// No answer yet when the demo ended.
    Pending {
        /// Milliseconds waited.
        waited_ms: u64,
    },
}

/// What scene 6 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Linkerd {
    /// `POST /api/orders` requests sent to the apex `myapp`.
    pub sent: u32,
    /// Answered by a myapp-v1 backend pod (the healthy or the failing one).
    pub to_v1: u32,
    /// Answered by myapp-v2.
    pub to_v2: u32,
    /// Answered 200.
    pub ok: u32,
    /// Answered with the failing pod's 503: a failure the budget had no token left to retry
    /// (ServiceProfile retries have no attempt limit).
    pub unretried: u32,
    /// Retries: attempts the applications received beyond one per request.
    pub retries: u64,
    /// The most retries the budget allows for `sent` requests (spec: retries <= the effective
    /// ratio `1 / trunc(1 / retryRatio)` x deposits + `minRetriesPerSecond` x `ttl`, and at
    /// most one deposit per request).
    pub budget_cap: u64,
    /// `GET /api/users` held 6 s by the application.
    pub timeout_probe: Probe,
}

/// The timeout probe, still running.
#[derive(Debug)]
pub struct LinkerdTail {
    observed: Linkerd,
    probe: (Instant, JoinHandle<Result<Answer, Failed>>),
}

// === impl Linkerd ===

impl Linkerd {
    /// The observed myapp-v2 share, in permille.
    pub fn v2_permille(&self) -> u32 {
        permille(self.to_v2, self.sent)
    }

    /// The rows of scene 6.
    pub fn checks(&self) -> Vec<Check> {
        let tol = tolerance(100, self.sent);
        let mut out = vec![
            Check::new(
                format!("POST /api/orders (x{})", self.sent),
                format!("myapp-v1 90% / myapp-v2 10% (±{})", pct(tol)),
                format!(
                    "myapp-v1 {} / myapp-v2 {}",
                    pct(permille(self.to_v1, self.sent)),
                    pct(self.v2_permille())
                ),
                self.sent > 0
                    && self.to_v1 + self.to_v2 == self.sent
                    && within(self.v2_permille(), 100, self.sent),
            ),
            Check::new(
                "",
                format!(
                    "retries within budget: <= {} (20% of requests + 10/s x 10 s)",
                    self.budget_cap
                ),
                format!(
                    "{} retries; {}/{} answered 200, {} the failing pod's 503 (budget spent)",
                    self.retries, self.ok, self.sent, self.unretried
                ),
                self.retries > 0 && self.retries <= self.budget_cap,
            ),
        ];
        let what = "GET /api/users (app holds 6 s)";
        out.push(match self.timeout_probe {
            Probe::Answered { status, after_ms } => Check::new(
                what,
                "504 after the route's 5 s timeout",
                format!("{status} after {:.1} s", after_ms as f64 / 1000.0),
                status == 504 && after_ms >= TIMEOUT.as_millis() as u64,
            ),
            Probe::Pending { waited_ms } => Check::not_observed(
                what,
                "504 after the route's 5 s timeout",
                format!(
                    "no answer yet after {:.1} s when the demo ended",
                    waited_ms as f64 / 1000.0
                ),
            ),
            Probe::NotSent => Check::not_observed(what, "504 after 5 s", "not sent"),
        });
        out
    }
}

// === impl LinkerdTail ===

impl LinkerdTail {
    /// Waits for the timeout probe until `deadline`.
    pub async fn finish(self, deadline: Instant) -> Linkerd {
        let mut out = self.observed;
        let (sent_at, task) = self.probe;
        let left = deadline.saturating_duration_since(Instant::now());
        out.timeout_probe = match tokio::time::timeout(left, task).await {
            Ok(Ok(Ok(a))) => Probe::Answered {
                status: a.status.as_u16(),
                after_ms: a.elapsed.as_millis() as u64,
            },
            Ok(_) => Probe::NotSent,
            Err(_) => Probe::Pending {
                waited_ms: sent_at.elapsed().as_millis() as u64,
            },
        };
        out
    }
}

/// Runs scene 6 through frontend's sidecar; the timeout probe is left running.
pub async fn run(world: &World, sizes: &Sizes, mesh: Option<&Mesh>) -> LinkerdTail {
    let via = world.outbound("frontend");
    let client = world.client().clone();
    let probe_client = client.clone();
    let apps: Vec<_> = ["myapp-v1", "myapp-v2", "myapp-v1-failing"]
        .iter()
        .map(|n| world.pod(n).app.clone())
        .collect();
    let total = || apps.iter().map(|a| a.hits()).sum::<u64>();
    let before = total();
    let answers = drive(sizes.split, 4, move |_| {
        let client = client.clone();
        async move {
            let call = Call {
                via,
                host: MYAPP,
                method: Method::POST,
                path: "/api/orders",
                headers: &[],
            };
            client.send(&call, Duration::from_secs(10)).await.ok()
        }
    })
    .await;
    let mut out = Linkerd {
        sent: answers.len() as u32,
        ..Linkerd::default()
    };
    for a in answers.iter().flatten() {
        match a.body.as_str() {
            "myapp-v1" | "myapp-v1-failing" => out.to_v1 += 1,
            "myapp-v2" => out.to_v2 += 1,
            _ => {}
        }
        out.ok += u32::from(a.status == StatusCode::OK);
        out.unretried +=
            u32::from(a.status == StatusCode::SERVICE_UNAVAILABLE && a.body == "myapp-v1-failing");
    }
    out.retries = (total() - before).saturating_sub(u64::from(out.sent));
    if let Some(p) = mesh.and_then(|m| m.profile(MYAPP, NAMESPACE)) {
        let b = &p.retry_budget;
        let ratio = if b.retry_ratio > 0.0 && b.retry_ratio <= 1.0 {
            1.0 / (1.0 / b.retry_ratio).trunc()
        } else {
            b.retry_ratio
        };
        out.budget_cap = (ratio * f64::from(out.sent)).ceil() as u64
            + u64::from(b.min_retries_per_second) * (b.ttl.as_nanos() / 1_000_000_000);
    }
    let probe = (
        Instant::now(),
        tokio::spawn(async move {
            let call = Call {
                via,
                host: MYAPP,
                method: Method::GET,
                path: "/api/users",
                headers: &[(DELAY_HEADER, "6000")],
            };
            probe_client.send(&call, Duration::from_secs(15)).await
        }),
    );
    LinkerdTail {
        observed: out,
        probe,
    }
}
