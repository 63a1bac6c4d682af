//! Scene 1: `virtualservice-myapp.yaml` at frontend's sidecar: `x-version: v2` goes to v2,
//! `/api` is split 90/10 between v1 and v2, everything else goes to v1. (myapp's AuthorizationPolicy lets frontend reach `/api/*` and
//! anyone `/health`, so those are the paths sent.)

use super::{Sizes, drive, pct, permille, tolerance, within};
use crate::demo::config::MYAPP;
use crate::demo::report::Check;
use crate::demo::world::World;

/// What scene 1 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    /// Requests sent with `x-version: v2`.
    pub header_sent: u32,
    /// Of those, answered by myapp-v2.
    pub header_v2: u32,
    /// `GET /api/...` requests sent.
    pub canary_sent: u32,
    /// Answered by myapp-v1.
    pub canary_v1: u32,
    /// Answered by myapp-v2.
    pub canary_v2: u32,
    /// Requests to other paths sent.
    pub default_sent: u32,
    /// Of those, answered by myapp-v1.
    pub default_v1: u32,
}

// === impl Routing ===

impl Routing {
    /// The canary's observed v2 share, in permille of the canary requests.
    pub fn canary_v2_permille(&self) -> u32 {
        permille(self.canary_v2, self.canary_sent)
    }

    /// The rows of scene 1.
    pub fn checks(&self) -> Vec<Check> {
        let v2 = self.canary_v2_permille();
        let tol = tolerance(100, self.canary_sent);
        let other = self.canary_sent - self.canary_v1 - self.canary_v2;
        vec![
            Check::new(
                format!("GET /api/profile, x-version: v2 (x{})", self.header_sent),
                "all to v2 (rule 0)",
                format!(
                    "{}/{} answered by myapp-v2",
                    self.header_v2, self.header_sent
                ),
                self.header_sent > 0 && self.header_v2 == self.header_sent,
            ),
            Check::new(
                format!("GET /api/items (x{})", self.canary_sent),
                format!("v1 90% / v2 10% (±{})", pct(tol)),
                format!(
                    "v1 {} / v2 {}{}",
                    pct(permille(self.canary_v1, self.canary_sent)),
                    pct(v2),
                    if other > 0 {
                        format!(" / {other} errors")
                    } else {
                        String::new()
                    }
                ),
                self.canary_sent > 0 && other == 0 && within(v2, 100, self.canary_sent),
            ),
            Check::new(
                format!("GET /health (x{})", self.default_sent),
                "all to v1 (default rule)",
                format!(
                    "{}/{} answered by myapp-v1",
                    self.default_v1, self.default_sent
                ),
                self.default_sent > 0 && self.default_v1 == self.default_sent,
            ),
        ]
    }
}

/// Runs scene 1 through frontend's sidecar.
pub async fn run(world: &World, sizes: &Sizes) -> Routing {
    let via = world.outbound("frontend");
    let client = world.client().clone();
    let answers = |path: &'static str, headers: &'static [(&'static str, &'static str)], n| {
        let client = client.clone();
        drive(n, 8, move |_| {
            let client = client.clone();
            async move {
                client
                    .get(via, MYAPP, path, headers)
                    .await
                    .map_or(String::new(), |a| a.body)
            }
        })
    };
    let header = answers("/api/profile", &[("x-version", "v2")], 20).await;
    let canary = answers("/api/items", &[], sizes.canary).await;
    let default = answers("/health", &[], 20).await;
    let count = |v: &[String], name: &str| v.iter().filter(|b| *b == name).count() as u32;
    Routing {
        header_sent: header.len() as u32,
        header_v2: count(&header, "myapp-v2"),
        canary_sent: canary.len() as u32,
        canary_v1: count(&canary, "myapp-v1"),
        canary_v2: count(&canary, "myapp-v2"),
        default_sent: default.len() as u32,
        default_v1: count(&default, "myapp-v1"),
    }
}
