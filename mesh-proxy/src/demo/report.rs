//! What the demo observed, as typed counters per scene, the checks each scene makes of its
//! counters against the shipped policy (expected vs observed), and [`Report::render`], the
//! tables a person reads.

use std::fmt::Write as _;
use std::time::Duration;

use super::scenes::{Authz, Fault, Gateway, Linkerd, Mirror, Resilience, Routing};

/// Everything the demo observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The seed of the sidecars' weighted picks and of the demo's own draws.
    pub seed: u64,
    /// Proxies in the mesh (sidecars and the ingress gateway).
    pub proxies: u32,
    /// Wall time spent driving traffic.
    pub elapsed: Duration,
    /// Scene 1: header route and the 90/10 canary.
    pub routing: Routing,
    /// Scene 2: AuthorizationPolicy and PeerAuthentication.
    pub authz: Authz,
    /// Scene 3: fault injection.
    pub fault: Fault,
    /// Scene 4: mirroring.
    pub mirror: Mirror,
    /// Scene 5: retries, outlier detection, circuit breaking.
    pub resilience: Resilience,
    /// Scene 6: Linkerd ServiceProfile and SMI TrafficSplit.
    pub linkerd: Linkerd,
    /// Scene 7: the ingress gateway.
    pub gateway: Gateway,
    /// Hot reloads between scenes.
    pub reloads: Reloads,
}

/// Hot reloads between scenes, with traffic running through them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reloads {
    /// Scene switches (one config directory change each).
    pub switches: u32,
    /// Reloads the sidecars applied (`mesh_config_reloads_total{result="applied"}`).
    pub applied: u64,
    /// Reloads the sidecars rejected.
    pub rejected: u64,
    /// Requests sent while a switch was being applied.
    pub requests: u32,
    /// Of those, answered with anything but 200 or not answered.
    pub failed: u32,
}

/// How an observation compares with the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The observation matches the policy.
    Pass,
    /// The observation contradicts the policy.
    Fail,
    /// The demo could not observe it (too short a `--duration`); not a failure.
    NotObserved,
}

/// One row of a scene's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was sent or looked at.
    pub what: String,
    /// What the policy says should happen.
    pub expected: String,
    /// What happened.
    pub observed: String,
    /// Whether they agree.
    pub verdict: Verdict,
}

/// One scene's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scene {
    /// 1 to 7.
    pub number: u8,
    /// The heading.
    pub title: &'static str,
    /// The shipped resources the scene serves.
    pub resources: &'static str,
    /// Its rows.
    pub checks: Vec<Check>,
}

// === impl Check ===

impl Check {
    /// A row whose verdict is `ok` (pass) or not (fail).
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        ok: bool,
    ) -> Self {
        Check {
            what: what.into(),
            expected: expected.into(),
            observed: observed.into(),
            verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        }
    }

    /// A row the demo could not observe.
    pub fn not_observed(
        what: impl Into<String>,
        expected: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Check {
            what: what.into(),
            expected: expected.into(),
            observed: why.into(),
            verdict: Verdict::NotObserved,
        }
    }
}

// === impl Scene ===

impl Scene {
    /// Whether no row contradicts the policy.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }
}

// === impl Reloads ===

impl Reloads {
    /// The checks of the reload row.
    pub fn checks(&self) -> Vec<Check> {
        vec![
            Check::new(
                format!("{} config switches", self.switches),
                "every sidecar applies each, none rejected",
                format!("{} applied, {} rejected", self.applied, self.rejected),
                self.rejected == 0 && self.applied > 0,
            ),
            Check::new(
                "requests during reloads",
                "0 failed",
                format!("{} sent, {} failed", self.requests, self.failed),
                self.failed == 0,
            ),
        ]
    }
}

// === impl Report ===

impl Report {
    /// The scenes, numbered as the demo tells them (they run in another order: the scenes
    /// whose requests are held longest run first).
    pub fn scenes(&self) -> Vec<Scene> {
        vec![
            Scene {
                number: 1,
                title: "Routing: header route and 90/10 canary",
                resources: "virtualservice-myapp.yaml, destinationrule-myapp.yaml",
                checks: self.routing.checks(),
            },
            Scene {
                number: 2,
                title: "Authorization and mTLS",
                resources: "authorizationpolicy-myapp.yaml, peerauthentication.yaml",
                checks: self.authz.checks(),
            },
            Scene {
                number: 3,
                title: "Fault injection",
                resources: "virtualservice-fault.yaml",
                checks: self.fault.checks(),
            },
            Scene {
                number: 4,
                title: "Mirroring",
                resources: "virtualservice-mirror.yaml, destinationrule-myapp.yaml",
                checks: self.mirror.checks(),
            },
            Scene {
                number: 5,
                title: "Resilience: retries, outlier ejection, circuit breaker",
                resources: "virtualservice-myapp.yaml, destinationrule-circuit-breaker.yaml",
                checks: self.resilience.checks(),
            },
            Scene {
                number: 6,
                title: "Linkerd ServiceProfile and SMI TrafficSplit",
                resources: "serviceprofile-myapp.yaml, trafficsplit-canary.yaml",
                checks: self.linkerd.checks(),
            },
            Scene {
                number: 7,
                title: "Ingress gateway",
                resources: "gateway-myapp.yaml, virtualservice-myapp.yaml",
                checks: self.gateway.checks(),
            },
        ]
    }

    /// Whether every scene and the reload row agree with the policy.
    pub fn passed(&self) -> bool {
        self.scenes().iter().all(Scene::passed)
            && self
                .reloads
                .checks()
                .iter()
                .all(|c| c.verdict != Verdict::Fail)
    }

    /// The rows that contradict the policy, with their scene's title.
    pub fn failures(&self) -> Vec<(&'static str, Check)> {
        let scenes = self
            .scenes()
            .into_iter()
            .flat_map(|s| s.checks.into_iter().map(move |c| (s.title, c)));
        let reloads = self.reloads.checks().into_iter().map(|c| ("Hot reload", c));
        scenes
            .chain(reloads)
            .filter(|(_, c)| c.verdict == Verdict::Fail)
            .collect()
    }

    /// The report for people: one table per scene (expected vs observed, ✓/✗), the reload
    /// row and a verdict line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "mesh-proxy demo: {} proxies on 127.0.0.1 (6 sidecars, 1 ingress gateway), mTLS from a fresh dev CA\n(seed {}, {:.1} s of traffic)",
            self.proxies,
            self.seed,
            self.elapsed.as_secs_f64()
        );
        for scene in self.scenes() {
            let _ = writeln!(
                out,
                "\n{}. {}  [{}]",
                scene.number, scene.title, scene.resources
            );
            table(&mut out, &scene.checks);
        }
        let _ = writeln!(
            out,
            "\nHot reload (the config directory switched between scenes)"
        );
        table(&mut out, &self.reloads.checks());
        let failures = self.failures();
        if failures.is_empty() {
            let _ = writeln!(out, "\nAll observations match the policy.");
        } else {
            let _ = writeln!(
                out,
                "\n{} observation(s) contradict the policy:",
                failures.len()
            );
            for (scene, c) in failures {
                let _ = writeln!(
                    out,
                    "  ✗ {scene}: {}: expected {}, observed {}",
                    c.what, c.expected, c.observed
                );
            }
        }
        out
    }
}

/// Writes rows as aligned columns: mark, what, expected, observed.
fn table(out: &mut String, checks: &[Check]) {
    let width = |f: fn(&Check) -> &str, min: usize| {
        checks
            .iter()
            .map(|c| f(c).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let (w1, w2) = (width(|c| &c.what, 4), width(|c| &c.expected, 8));
    let _ = writeln!(out, "     {:<w1$}  {:<w2$}  observed", "", "expected");
    for c in checks {
        let mark = match c.verdict {
            Verdict::Pass => "✓",
            Verdict::Fail => "✗",
            Verdict::NotObserved => "-",
        };
        let _ = writeln!(
            out,
            "   {mark} {}{}  {}{}  {}",
            c.what,
            pad(&c.what, w1),
            c.expected,
            pad(&c.expected, w2),
            c.observed
        );
    }
}

fn pad(s: &str, width: usize) -> String {
    " ".repeat(width.saturating_sub(s.chars().count()))
}
