//! Istio AuthorizationPolicy as a pure engine (semantics.md §6, security.md §1.1–§1.6).
//!
//! ```text
//! resources ──AuthzPolicies::compile──▶ AuthzPolicies ──for_workload──▶ WorkloadAuthz
//!                                                      evaluate(&AuthzRequest, &custom) ──▶ Verdict
//! ```
//!
//! Compilation fails closed ([`InvalidPolicy`]); selection happens once per workload; evaluation
//! allocates nothing on the common path and returns a typed [`Verdict`] that names the policy
//! and rule that decided, plus AUDIT and dry-run matches.

mod compile;
mod eval;
mod index;
mod matcher;
mod values;
mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Mesh, Workload};
use crate::resource::{Action, Spec};
use crate::security::conn::{ConnectionFacts, RequestAuth};

use self::compile::CompiledPolicy;

pub use self::verdict::{Decision, Reason, RuleRef, Verdict, WorkloadAuthz};

/// Istio's dry-run annotation (§6.1): the policy is evaluated in shadow mode only.
pub const DRY_RUN_ANNOTATION: &str = "istio.io/dry-run";

/// What the engine judges: the connection, and the HTTP request when there is one (`None` for
/// an opaque TCP connection, §6.7).
#[derive(Clone, Copy, Debug)]
pub struct AuthzRequest<'a> {
    /// The connection.
    pub conn: &'a ConnectionFacts,
    /// The HTTP request, absent on TCP.
    pub http: Option<HttpAttributes<'a>>,
}

/// The HTTP attributes of a request, after normalization.
#[derive(Clone, Copy, Debug)]
pub struct HttpAttributes<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:authority` / `Host`, with any port.
    pub authority: &'a str,
    /// The normalized path ([`crate::security::normalize`]); anything after `?` is ignored.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// The validated JWT, if any.
    pub auth: Option<&'a RequestAuth>,
}

/// The external authorizer behind CUSTOM policies (§6.2 step 1), implemented by the embedder.
pub trait CustomAuthorizer {
    /// Asks `provider` (the policy's `provider.name`) about the request.
    fn check(&self, provider: &str, req: &AuthzRequest<'_>) -> CustomDecision;
}

/// An external authorizer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomDecision {
    /// Let the request continue to DENY and ALLOW.
    Allow,
    /// Deny it.
    Deny,
}

/// The CUSTOM authorizer when none is configured: denies every request a CUSTOM rule matches
/// (fail closed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoCustomProvider;

impl CustomAuthorizer for NoCustomProvider {
    fn check(&self, _: &str, _: &AuthzRequest<'_>) -> CustomDecision {
        CustomDecision::Deny
    }
}

/// A value the engine cannot enforce; the policy was compiled fail-closed anyway.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AuthorizationPolicy {policy} rules[{rule}].{field}: {problem} ({effect})")]
pub struct InvalidPolicy {
    /// `ns/name`.
    pub policy: String,
    /// Rule index.
    pub rule: usize,
    /// The field, relative to the rule (`from[0].source.ipBlocks`, `when[1]`).
    pub field: String,
    /// What was wrong.
    pub problem: Problem,
    /// What the engine did instead.
    pub effect: FailClosed,
}

/// What was wrong with a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not an IP address or CIDR.
    #[error("{0:?} is not an IP address or CIDR")]
    Ip(String),
    /// Not a port in `1..=65535`.
    #[error("{0:?} is not a port in 1..=65535")]
    Port(String),
    /// An unknown or replaced `when` key.
    #[error("unknown when key {0:?}")]
    Key(String),
    /// A key this engine cannot evaluate (`experimental.envoy.filters.*`).
    #[error("when key {0:?} is not supported by this engine")]
    Unsupported(String),
    /// An invalid path template.
    #[error("{0}")]
    Path(String),
    /// A pattern that does not compile.
    #[error("{0}")]
    Pattern(String),
    /// An invalid `serviceAccounts` value.
    #[error("{0}")]
    ServiceAccount(String),
    /// A `from`/`to` entry or `when` with nothing to match.
    #[error("nothing to match")]
    Empty,
}

/// How a policy fails closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailClosed {
    /// ALLOW: the rule never matches (a narrower allow).
    #[error("the ALLOW rule is dropped")]
    RuleDropped,
    /// DENY / AUDIT / CUSTOM: the condition always holds (a wider deny).
    #[error("the condition is dropped, so the rule matches more")]
    ConditionDropped,
}

/// Every AuthorizationPolicy of a snapshot, compiled.
#[derive(Clone, Debug, Default)]
pub struct AuthzPolicies {
    policies: Vec<Arc<CompiledPolicy>>,
    root_namespace: String,
}

/// Which proxy asks: a sidecar beside a workload, or a gateway deployment.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A sidecar: `selector` policies apply, `targetRef(s)` policies do not (§6.1).
    Sidecar(&'a Workload),
    /// A Kubernetes Gateway (`name` in the workload's namespace): `selector` policies and
    /// policies whose `targetRef(s)` name this Gateway apply.
    Gateway(&'a Workload, &'a str),
}

// === impl AuthzPolicies ===

impl AuthzPolicies {
    /// Compiles every AuthorizationPolicy of `mesh`, fail-closed; the problems come back beside.
    pub fn from_mesh(mesh: &Mesh) -> (Self, Vec<InvalidPolicy>) {
        Self::compile(mesh.resources(), &mesh.config().root_namespace)
    }

    /// Compiles the AuthorizationPolicies among `resources`, fail-closed.
    pub fn compile(
        resources: &[crate::resource::Resource],
        root_namespace: &str,
    ) -> (Self, Vec<InvalidPolicy>) {
        let mut issues = Vec::new();
        let mut policies = Vec::new();
        for res in resources {
            let Spec::AuthorizationPolicy(spec) = &res.spec else {
                continue;
            };
            let dry_run = res
                .meta
                .annotations
                .get(DRY_RUN_ANNOTATION)
                .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
            let name = format!("{}/{}", res.namespace(), res.name());
            let (p, more) = compile::compile(name, res.namespace(), spec, dry_run);
            issues.extend(more);
            policies.push(Arc::new(p));
        }
        let set = AuthzPolicies {
            policies,
            root_namespace: root_namespace.to_owned(),
        };
        (set, issues)
    }

    /// Compiles strictly: any value the engine cannot enforce is an error.
    pub fn try_new(
        resources: &[crate::resource::Resource],
        root_namespace: &str,
    ) -> Result<Self, Vec<InvalidPolicy>> {
        match Self::compile(resources, root_namespace) {
            (set, issues) if issues.is_empty() => Ok(set),
            (_, issues) => Err(issues),
        }
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// True when there is no policy at all.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policies that apply to a workload's sidecar (§6.1).
    pub fn for_workload(&self, w: &Workload) -> WorkloadAuthz {
        self.select(Target::Sidecar(w))
    }

    /// The policies that apply at `target`, bucketed by action (§6.1).
    pub fn select(&self, target: Target<'_>) -> WorkloadAuthz {
        let w = match target {
            Target::Sidecar(w) | Target::Gateway(w, _) => w,
        };
        let applies = |p: &CompiledPolicy| {
            let in_scope = p.namespace == self.root_namespace || p.namespace == w.namespace;
            if !in_scope {
                return false;
            }
            if !p.targets.is_empty() {
                return match target {
                    Target::Sidecar(_) => false,
                    Target::Gateway(_, gw) => {
                        p.namespace == w.namespace
                            && p.targets.iter().any(|(k, n)| k == "Gateway" && n == gw)
                    }
                };
            }
            p.selector.as_ref().is_none_or(|sel| subset(sel, &w.labels))
        };
        WorkloadAuthz::new(self.policies.iter().filter(|p| applies(p)).cloned())
    }
}

fn subset(sel: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The action as written in YAML.
pub const fn action_name(a: Action) -> &'static str {
    match a {
        Action::Allow => "ALLOW",
        Action::Deny => "DENY",
        Action::Audit => "AUDIT",
        Action::Custom => "CUSTOM",
    }
}

#[cfg(test)]
mod tests;
