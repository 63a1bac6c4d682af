//! Scene 3: `virtualservice-fault.yaml`: requests with `x-test-fault: inject` are delayed 5 s
//! half of the time and aborted with 503 a tenth of the time; others pass untouched. Delayed
//! requests are left running while later scenes play (they finish on the snapshot they
//! started with) and collected at the end.

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::task::JoinHandle;

use super::{Sizes, drive, pct, permille, tolerance, within};
use crate::demo::client::{Answer, Failed};
use crate::demo::config::MYAPP;
use crate::demo::report::Check;
use crate::demo::world::World;

/// The shipped fault: 50% delayed by 5 s, 10% aborted with 503.
const DELAY: Duration = Duration::from_secs(5);
const DELAY_PERMILLE: u32 = 500;
const ABORT_PERMILLE: u32 = 100;

/// An answer slower than this was delayed by the fault (the mesh answers in milliseconds;
/// half the delay leaves room for a loaded machine).
const DELAYED: Duration = Duration::from_millis(2_500);

/// What scene 3 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// Requests sent with `x-test-fault: inject`.
    pub sent: u32,
    /// Of those, answered by the end of the demo.
    pub answered: u32,
    /// Answered 503 with the fault filter's body, `fault filter abort`.
    pub aborted: u32,
    /// Delayed: answered after more than half the delay, or still held when the demo ended.
    pub delayed: u32,
    /// The shortest delay among delayed requests that were answered, in ms.
    pub min_delay_ms: Option<u64>,
    /// How long the requests still held at the end had been waiting, in ms (the shortest).
    pub held_ms: Option<u64>,
    /// Requests without the header.
    pub plain_sent: u32,
    /// Of those, aborted or delayed.
    pub plain_faulted: u32,
}

/// The fault-injected requests still running.
#[derive(Debug)]
pub struct FaultTail {
    observed: Fault,
    running: Vec<(Instant, JoinHandle<Result<Answer, Failed>>)>,
}

// === impl Fault ===

impl Fault {
    /// The observed abort share among answered requests, in permille.
    pub fn abort_permille(&self) -> u32 {
        permille(self.aborted, self.answered)
    }

    /// The observed delay share, in permille.
    pub fn delay_permille(&self) -> u32 {
        permille(self.delayed, self.sent)
    }

    /// The rows of scene 3.
    pub fn checks(&self) -> Vec<Check> {
        let mut out = vec![
            Check::new(
                format!("x-test-fault: inject (x{})", self.sent),
                format!(
                    "aborted 503: 10% (±{})",
                    pct(tolerance(ABORT_PERMILLE, self.answered))
                ),
                format!(
                    "{} aborted of {} answered ({})",
                    self.aborted,
                    self.answered,
                    pct(self.abort_permille())
                ),
                self.answered > 0 && within(self.abort_permille(), ABORT_PERMILLE, self.answered),
            ),
            Check::new(
                "",
                format!(
                    "delayed: 50% (±{})",
                    pct(tolerance(DELAY_PERMILLE, self.sent))
                ),
                format!(
                    "{} of {} ({})",
                    self.delayed,
                    self.sent,
                    pct(self.delay_permille())
                ),
                self.sent > 0 && within(self.delay_permille(), DELAY_PERMILLE, self.sent),
            ),
        ];
        out.push(match (self.min_delay_ms, self.held_ms) {
            (Some(ms), _) => Check::new(
                "",
                "delay: 5.0 s",
                format!("{:.1} s (shortest delayed answer)", ms as f64 / 1000.0),
                ms >= DELAY.as_millis() as u64 && ms < DELAY.as_millis() as u64 + 2000,
            ),
            (None, Some(held)) => Check::not_observed(
                "",
                "delay: 5.0 s",
                format!(
                    "still held after {:.1} s when the demo ended (a longer --duration shows it)",
                    held as f64 / 1000.0
                ),
            ),
            (None, None) => Check::new("", "delay: 5.0 s", "no request was delayed", false),
        });
        out.push(Check::new(
            format!("no header (x{})", self.plain_sent),
            "no fault (rule 1)",
            format!("{} faulted", self.plain_faulted),
            self.plain_sent > 0 && self.plain_faulted == 0,
        ));
        out
    }
}

// === impl FaultTail ===

impl FaultTail {
    /// Waits for the running requests until `deadline`, then counts.
    pub async fn finish(self, deadline: Instant) -> Fault {
        let mut f = self.observed;
        for (sent_at, task) in self.running {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match tokio::time::timeout(left, task).await {
                Ok(Ok(outcome)) => Some(outcome),
                Ok(Err(_)) => None,
                Err(_) => {
                    // Still held by the fault's delay.
                    f.delayed += 1;
                    let held = sent_at.elapsed().as_millis() as u64;
                    f.held_ms = Some(f.held_ms.map_or(held, |h| h.min(held)));
                    continue;
                }
            };
            let Some(Ok(a)) = outcome else { continue };
            f.answered += 1;
            if a.elapsed >= DELAYED {
                f.delayed += 1;
                let ms = a.elapsed.as_millis() as u64;
                f.min_delay_ms = Some(f.min_delay_ms.map_or(ms, |m| m.min(ms)));
            }
            if is_abort(&a) {
                f.aborted += 1;
            }
        }
        f
    }
}

fn is_abort(a: &Answer) -> bool {
    a.status == StatusCode::SERVICE_UNAVAILABLE && a.body == "fault filter abort"
}

/// Runs scene 3 through frontend's sidecar: sends the fault-injected requests (spread over
/// a short window, so the mesh answers the undelayed ones at once) and a few without the
/// header, and returns without waiting for the delayed ones.
pub async fn run(world: &World, sizes: &Sizes) -> FaultTail {
    let via = world.outbound("frontend");
    let client = world.client().clone();
    let mut running = Vec::new();
    for i in 0..sizes.fault {
        let client = client.clone();
        running.push((
            Instant::now(),
            tokio::spawn(async move {
                let call = crate::demo::client::Call {
                    via,
                    host: MYAPP,
                    method: http::Method::GET,
                    path: "/api/fault",
                    headers: &[("x-test-fault", "inject")],
                };
                client.send(&call, Duration::from_secs(15)).await
            }),
        ));
        if i % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let plain = drive(50, 4, move |_| {
        let client = client.clone();
        async move { client.get(via, MYAPP, "/api/fault", &[]).await }
    })
    .await;
    let plain_faulted = plain
        .iter()
        .filter(|a| match a {
            Ok(a) => is_abort(a) || a.elapsed >= DELAYED,
            Err(_) => true,
        })
        .count() as u32;
    FaultTail {
        observed: Fault {
            sent: sizes.fault,
            plain_sent: plain.len() as u32,
            plain_faulted,
            ..Fault::default()
        },
        running,
    }
}
