//! The scenes: each drives traffic through the running mesh and returns what it observed as
//! typed counters, which know their own checks against the shipped policy.

mod authz;
mod fault;
mod gateway;
mod linkerd;
mod mirror;
mod resilience;
mod routing;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use self::authz::Authz;
pub use self::fault::Fault;
pub use self::gateway::Gateway;
pub use self::linkerd::{Linkerd, Probe};
pub use self::mirror::Mirror;
pub use self::resilience::Resilience;
pub use self::routing::Routing;

pub(super) use self::authz::run as authz;
pub(super) use self::fault::run as fault;
pub(super) use self::gateway::run as gateway;
pub(super) use self::linkerd::run as linkerd;
pub(super) use self::mirror::run as mirror;
pub(super) use self::resilience::run as resilience;
pub(super) use self::routing::run as routing;

/// How much traffic each scene sends, from `--duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Canary requests (scene 1).
    pub canary: u32,
    /// Fault-injected requests (scene 3).
    pub fault: u32,
    /// Mirrored requests (scene 4).
    pub mirror: u32,
    /// Requests over the failing pod (scene 5).
    pub resilience: u32,
    /// Concurrent requests of the overflow burst (scene 5).
    pub burst: u32,
    /// TrafficSplit requests (scene 6).
    pub split: u32,
}

// === impl Sizes ===

impl Sizes {
    /// Sizes that fit `duration` (about 10 s by default; at least enough requests for the
    /// statistics to mean something).
    pub fn for_duration(duration: Duration) -> Self {
        let secs = duration.as_secs_f64().clamp(1.0, 120.0);
        let scaled = |per_sec: f64, min: u32, max: u32| ((per_sec * secs) as u32).clamp(min, max);
        Sizes {
            canary: scaled(100.0, 400, 4000),
            fault: scaled(30.0, 200, 1000),
            mirror: scaled(10.0, 50, 500),
            resilience: scaled(8.0, 40, 400),
            burst: 250,
            split: scaled(40.0, 200, 2000),
        }
    }
}

/// Sends `n` requests from `workers` concurrent loops; `f(i)` sends the `i`-th.
pub async fn drive<T, F, Fut>(n: u32, workers: u32, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let next = Arc::new(AtomicU32::new(0));
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (next, f) = (next.clone(), f.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return out;
                    }
                    out.push(f(i).await);
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n as usize);
    for t in tasks {
        out.extend(t.await.unwrap_or_default());
    }
    out
}

/// The tolerance, in permille, of an observed share of `n` draws expected at `expected`
/// permille: three standard errors, and never tighter than 5 percentage points.
pub fn tolerance(expected: u32, n: u32) -> u32 {
    let p = f64::from(expected) / 1000.0;
    let se = (p * (1.0 - p) / f64::from(n.max(1))).sqrt() * 1000.0;
    ((3.0 * se).round() as u32).max(50)
}

/// `part` of `whole` in permille (0 when `whole` is 0).
pub fn permille(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        0
    } else {
        ((u64::from(part) * 1000 + u64::from(whole) / 2) / u64::from(whole)) as u32
    }
}

/// Permille as a percentage with one decimal.
pub fn pct(permille: u32) -> String {
    format!("{}.{}%", permille / 10, permille % 10)
}

/// Whether `observed` permille is within `tolerance(expected, n)` of `expected`.
pub fn within(observed: u32, expected: u32, n: u32) -> bool {
    observed.abs_diff(expected) <= tolerance(expected, n)
}

#[cfg(test)]
mod tests;
