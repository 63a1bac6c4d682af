//! The combiner (semantics.md §6.2) and its typed verdict (STYLE.md rule 5).

use std::fmt;
use std::sync::Arc;

use crate::resource::Action;

use super::compile::CompiledPolicy;
use super::eval::{Ctx, Side};
use super::index::PathIndex;
use super::{AuthzRequest, CustomAuthorizer, CustomDecision, action_name};

/// The policies that apply to one workload, bucketed by action. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct WorkloadAuthz {
    custom: Bucket,
    deny: Bucket,
    allow: Bucket,
    audit: Bucket,
    dry_run: Bucket,
    /// More than one CUSTOM provider: Istio turns the CUSTOM rules into deny rules.
    custom_conflict: bool,
}

/// The policies of one action, their rules flattened in order, and a path index over them.
#[derive(Clone, Debug, Default)]
struct Bucket {
    policies: Vec<Arc<CompiledPolicy>>,
    /// `(policy, rule)` per rule id.
    flat: Vec<(u32, u32)>,
    index: PathIndex,
}

/// Allowed or denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The request goes on.
    Allow,
    /// 403 `RBAC: access denied` (HTTP), or the connection is closed (TCP).
    Deny,
}

/// A policy rule: the policy's `ns/name`, its action and the rule index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef<'p> {
    /// `ns/name`.
    pub policy: &'p str,
    /// The policy's action.
    pub action: Action,
    /// Index in `rules`.
    pub rule: usize,
}

/// Why the decision was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason<'p> {
    /// No ALLOW policy applies to the workload (step 3).
    NoAllowPolicy,
    /// An ALLOW rule matched (step 4).
    AllowMatched(RuleRef<'p>),
    /// A DENY rule matched (step 2).
    DenyMatched(RuleRef<'p>),
    /// A CUSTOM rule matched and its provider denied (step 1).
    CustomDenied {
        /// The rule.
        rule: RuleRef<'p>,
        /// `provider.name`.
        provider: &'p str,
    },
    /// A CUSTOM rule matched while the workload has several CUSTOM providers: Istio turns the
    /// CUSTOM rules into deny rules.
    ConflictingProviders(RuleRef<'p>),
    /// ALLOW policies apply and none matched (step 5).
    NoAllowMatched,
}

/// The verdict for one request or connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<'p> {
    /// Allowed or denied.
    pub decision: Decision,
    /// Which policy and rule decided, or which default.
    pub reason: Reason<'p>,
    /// AUDIT rules that matched (never change the decision).
    pub audit: Vec<RuleRef<'p>>,
    /// Dry-run (shadow) rules that matched (never change the decision).
    pub dry_run: Vec<RuleRef<'p>>,
}

// === impl WorkloadAuthz ===

impl WorkloadAuthz {
    pub(super) fn new(policies: impl Iterator<Item = Arc<CompiledPolicy>>) -> Self {
        let mut w = WorkloadAuthz::default();
        for p in policies {
            let bucket = match (p.dry_run, p.action) {
                (true, _) => &mut w.dry_run,
                (false, Action::Custom) => &mut w.custom,
                (false, Action::Deny) => &mut w.deny,
                (false, Action::Allow) => &mut w.allow,
                (false, Action::Audit) => &mut w.audit,
            };
            bucket.policies.push(p);
        }
        for b in [
            &mut w.custom,
            &mut w.deny,
            &mut w.allow,
            &mut w.audit,
            &mut w.dry_run,
        ] {
            b.build();
        }
        let first = w
            .custom
            .policies
            .first()
            .and_then(|p| p.provider.as_deref());
        w.custom_conflict = w
            .custom
            .policies
            .iter()
            .any(|p| p.provider.as_deref() != first);
        w
    }

    /// True when at least one ALLOW policy applies (default-deny is on).
    pub fn has_allow(&self) -> bool {
        !self.allow.policies.is_empty()
    }

    /// Names of the applied policies, CUSTOM, DENY, ALLOW, AUDIT, then dry-run.
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        [
            &self.custom,
            &self.deny,
            &self.allow,
            &self.audit,
            &self.dry_run,
        ]
        .into_iter()
        .flat_map(|b| &b.policies)
        .map(|p| p.name.as_str())
    }

    /// §6.2: CUSTOM, then DENY, then ALLOW with the implicit deny; AUDIT and dry-run beside.
    pub fn evaluate<'p>(
        &'p self,
        req: &AuthzRequest<'_>,
        custom: &dyn CustomAuthorizer,
    ) -> Verdict<'p> {
        let path = req
            .http
            .map_or("", |h| h.path.split_once('?').map_or(h.path, |(p, _)| p));
        let cx = Ctx { req, path };
        let mut verdict = Verdict {
            decision: Decision::Deny,
            reason: Reason::NoAllowMatched,
            audit: self.audit.all_matches(&cx),
            dry_run: self.dry_run.all_matches(&cx),
        };
        verdict.reason = self.decide(&cx, req, custom);
        verdict.decision = match verdict.reason {
            Reason::NoAllowPolicy | Reason::AllowMatched(_) => Decision::Allow,
            _ => Decision::Deny,
        };
        verdict
    }

    fn decide<'p>(
        &'p self,
        cx: &Ctx<'_, '_>,
        req: &AuthzRequest<'_>,
        custom: &dyn CustomAuthorizer,
    ) -> Reason<'p> {
        if let Some((p, rule)) = self.custom.first_match(cx, Side::Wide) {
            let provider = p.provider.as_deref().unwrap_or("");
            if self.custom_conflict {
                return Reason::ConflictingProviders(rule);
            }
            // One provider per workload: asked once.
            if custom.check(provider, req) == CustomDecision::Deny {
                return Reason::CustomDenied { rule, provider };
            }
        }
        if let Some((_, rule)) = self.deny.first_match(cx, Side::Wide) {
            return Reason::DenyMatched(rule);
        }
        if self.allow.policies.is_empty() {
            return Reason::NoAllowPolicy;
        }
        match self.allow.first_match(cx, Side::Narrow) {
            Some((_, rule)) => Reason::AllowMatched(rule),
            None => Reason::NoAllowMatched,
        }
    }
}

// === impl Bucket ===

impl Bucket {
    fn build(&mut self) {
        for (pi, p) in self.policies.iter().enumerate() {
            for ri in 0..p.rules.len() {
                let id = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
                self.flat.push((id(pi), id(ri)));
            }
        }
        let rules = self.policies.iter().flat_map(|p| p.rules.iter());
        self.index = PathIndex::build(rules);
    }

    /// The first matching rule, in policy then rule order. HTTP requests only visit the rules
    /// whose required paths fit; TCP connections visit all.
    fn first_match<'p>(
        &'p self,
        cx: &Ctx<'_, '_>,
        side: Side,
    ) -> Option<(&'p CompiledPolicy, RuleRef<'p>)> {
        if self.flat.is_empty() {
            return None;
        }
        let hit = |id: u32| {
            let (pi, ri) = self.flat[id as usize];
            self.policies[pi as usize].rules[ri as usize].matches(cx, side)
        };
        let id = if cx.req.http.is_some() {
            self.index.find(cx.path.as_bytes(), hit)?
        } else {
            (0..self.flat.len()).map(|i| i as u32).find(|id| hit(*id))?
        };
        let (pi, ri) = self.flat[id as usize];
        let p = &*self.policies[pi as usize];
        Some((
            p,
            RuleRef {
                policy: &p.name,
                action: p.action,
                rule: ri as usize,
            },
        ))
    }

    /// AUDIT and dry-run: the first matching rule of every policy (ALLOW dry-run rules are
    /// judged narrowly, the others widely).
    fn all_matches<'p>(&'p self, cx: &Ctx<'_, '_>) -> Vec<RuleRef<'p>> {
        self.policies
            .iter()
            .filter_map(|p| {
                let side = if p.action == Action::Allow {
                    Side::Narrow
                } else {
                    Side::Wide
                };
                let rule = p.rules.iter().position(|r| r.matches(cx, side))?;
                Some(RuleRef {
                    policy: &p.name,
                    action: p.action,
                    rule,
                })
            })
            .collect()
    }
}

// === impl Verdict ===

impl Verdict<'_> {
    /// True when the request may go on.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }
}

impl fmt::Display for RuleRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} policy {} rules[{}]",
            action_name(self.action),
            self.policy,
            self.rule
        )
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoAllowPolicy => {
                f.write_str("allowed: no ALLOW policy applies to the workload")
            }
            Reason::AllowMatched(r) => write!(f, "allowed by {r}"),
            Reason::DenyMatched(r) => write!(f, "denied by {r}"),
            Reason::CustomDenied { rule, provider } => {
                write!(f, "denied by external authorizer {provider:?} ({rule})")
            }
            Reason::ConflictingProviders(r) => write!(
                f,
                "denied by {r}: the workload has CUSTOM policies with different providers, so \
                 CUSTOM rules act as DENY"
            ),
            Reason::NoAllowMatched => {
                f.write_str("denied: ALLOW policies apply to the workload and none matched")
            }
        }
    }
}
