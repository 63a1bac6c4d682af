//! AuthorizationPolicy → compiled policy, checked once (STYLE.md rule 4): a value the engine
//! cannot enforce is reported as [`InvalidPolicy`] and the policy fails closed, as Istio's
//! `checkError` does: in an ALLOW policy the whole rule is dropped (narrower allow); in a
//! DENY, AUDIT or CUSTOM policy only the condition is dropped (wider deny).

use std::collections::BTreeMap;

use ipnet::IpNet;
use regex::Regex;

use crate::resource::{Action, AuthorizationPolicySpec, Condition, Operation, Source};

use super::matcher::{NamespacePat, PathPat, PrincipalPat, RequestPrincipalPat, StrPat};
use super::values::{cidrs, condition, namespaces, ports, service_accounts};
use super::{InvalidPolicy, Problem};

/// One compiled policy.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    /// `ns/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Action.
    pub action: Action,
    /// CUSTOM provider name.
    pub provider: Option<String>,
    /// `selector.matchLabels` (`None`: the whole namespace, or mesh in the root namespace).
    pub selector: Option<BTreeMap<String, String>>,
    /// `targetRef(s)` as `(kind, name)`.
    pub targets: Vec<(String, String)>,
    /// Rules; empty when `rules` is absent or `[]` (the policy never matches).
    pub rules: Vec<CompiledRule>,
    /// `istio.io/dry-run: "true"`: shadow mode only.
    pub dry_run: bool,
}

/// One compiled rule: (`from` empty or any source) AND (`to` empty or any operation) AND every
/// `when`.
#[derive(Clone, Debug, Default)]
pub struct CompiledRule {
    /// Sources, ORed; each an AND of fields.
    pub from: Vec<Vec<Field>>,
    /// Operations, ORed; each an AND of fields.
    pub to: Vec<Vec<Field>>,
    /// Conditions, ANDed.
    pub when: Vec<Field>,
    /// Uses an HTTP-only attribute anywhere (§6.7: an ALLOW rule like this is dropped on TCP).
    pub http_only: bool,
    /// Dropped at compile time (an ALLOW rule with a value the engine cannot enforce).
    pub never: bool,
}

/// One attribute test; `negated` for `notX` / `notValues`.
#[derive(Clone, Debug)]
pub struct Field {
    /// `notX`.
    pub negated: bool,
    /// What is tested.
    pub test: Test,
}

/// The attribute and its values (ORed).
#[derive(Clone, Debug)]
pub enum Test {
    /// Dropped condition of a DENY/AUDIT/CUSTOM policy: always holds.
    Always,
    /// Peer principal.
    Principal(Vec<PrincipalPat>),
    /// Peer namespace.
    Namespace(Vec<NamespacePat>),
    /// Peer service account.
    ServiceAccount(Vec<Regex>),
    /// Peer trust domain.
    TrustDomain(Vec<StrPat>),
    /// JWT `iss/sub`.
    RequestPrincipal(Vec<RequestPrincipalPat>),
    /// Direct peer address.
    SourceIp(Vec<IpNet>),
    /// Forwarded client address.
    RemoteIp(Vec<IpNet>),
    /// Local address.
    DestinationIp(Vec<IpNet>),
    /// Local port.
    Port(Vec<u16>),
    /// `:authority`, lower-cased patterns.
    Host(Vec<StrPat>),
    /// `:method`.
    Method(Vec<StrPat>),
    /// Normalized path.
    Path(Vec<PathPat>),
    /// A request header (lower-case name).
    Header(http::HeaderName, Vec<StrPat>),
    /// `request.auth.audiences`.
    Audience(Vec<StrPat>),
    /// `request.auth.presenter`.
    Presenter(Vec<StrPat>),
    /// `request.auth.claims[a][b]`.
    Claim(Vec<String>, Vec<StrPat>),
    /// `connection.sni`.
    Sni(Vec<StrPat>),
}

// === impl Test ===

impl Test {
    /// Rough evaluation cost, to test cheap fields first within an AND (the result is the same
    /// in any order: tests have no side effects).
    const fn cost(&self) -> u8 {
        match self {
            Test::Always | Test::Port(_) => 0,
            Test::Method(_) | Test::Path(_) => 1,
            Test::Host(_) | Test::Principal(_) | Test::TrustDomain(_) | Test::Sni(_) => 2,
            Test::SourceIp(_) | Test::RemoteIp(_) | Test::DestinationIp(_) => 2,
            Test::Namespace(_) | Test::RequestPrincipal(_) => 3,
            Test::Header(..) | Test::Audience(_) | Test::Presenter(_) | Test::Claim(..) => 4,
            Test::ServiceAccount(_) => 5,
        }
    }

    /// §6.7: attributes only HTTP carries.
    pub const fn is_http_only(&self) -> bool {
        matches!(
            self,
            Test::RequestPrincipal(_)
                | Test::Host(_)
                | Test::Method(_)
                | Test::Path(_)
                | Test::Header(..)
                | Test::Audience(_)
                | Test::Presenter(_)
                | Test::Claim(..)
        )
    }
}

/// Compiles one policy; problems are returned beside it and already applied fail-closed.
pub fn compile(
    name: String,
    namespace: &str,
    spec: &AuthorizationPolicySpec,
    dry_run: bool,
) -> (CompiledPolicy, Vec<InvalidPolicy>) {
    let action = spec.action.unwrap_or(Action::Allow);
    let mut issues = Vec::new();
    let mut rules = Vec::new();
    for (i, r) in spec.rules.iter().flatten().enumerate() {
        let mut cx = Cx {
            policy: &name,
            namespace,
            rule: i,
            issues: &mut issues,
            failed: false,
        };
        let from = r
            .from
            .iter()
            .enumerate()
            .map(|(j, f)| match &f.source {
                Some(s) => cx.source(j, s),
                None => vec![cx.fail(format!("from[{j}]"), Problem::Empty)],
            })
            .collect();
        let to =
            r.to.iter()
                .enumerate()
                .map(|(j, t)| match &t.operation {
                    Some(op) => cx.operation(j, op),
                    None => vec![cx.fail(format!("to[{j}]"), Problem::Empty)],
                })
                .collect();
        let when = r
            .when
            .iter()
            .enumerate()
            .map(|(k, c)| cx.condition(k, c))
            .collect::<Vec<_>>()
            .concat();
        let failed = cx.failed;
        let mut rule = CompiledRule {
            from,
            to,
            when,
            http_only: false,
            never: failed && action == Action::Allow,
        };
        for group in rule.from.iter_mut().chain(rule.to.iter_mut()) {
            group.sort_by_key(|f| f.test.cost());
        }
        rule.when.sort_by_key(|f| f.test.cost());
        rule.http_only = rule
            .from
            .iter()
            .chain(&rule.to)
            .flatten()
            .chain(&rule.when)
            .any(|f| f.test.is_http_only());
        rules.push(rule);
    }
    if action == Action::Allow {
        for issue in &mut issues {
            issue.effect = super::FailClosed::RuleDropped;
        }
    }
    let mut targets: Vec<(String, String)> = spec
        .target_refs
        .iter()
        .chain(&spec.target_ref)
        .map(|t| {
            (
                t.kind.clone().unwrap_or_default(),
                t.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    targets.sort();
    let policy = CompiledPolicy {
        name,
        namespace: namespace.to_owned(),
        action,
        provider: spec.provider.as_ref().map(|p| p.name.clone()),
        selector: spec.selector.as_ref().map(|s| s.match_labels.clone()),
        targets,
        rules,
        dry_run,
    };
    (policy, issues)
}

/// Compile context for one rule.
struct Cx<'a> {
    policy: &'a str,
    namespace: &'a str,
    rule: usize,
    issues: &'a mut Vec<InvalidPolicy>,
    failed: bool,
}

impl Cx<'_> {
    /// Records a problem; the field becomes "always" (DENY side) and the rule is marked failed
    /// (the ALLOW side drops it).
    fn fail(&mut self, field: String, problem: Problem) -> Field {
        self.failed = true;
        self.issues.push(InvalidPolicy {
            policy: self.policy.to_owned(),
            rule: self.rule,
            field,
            problem,
            effect: super::FailClosed::ConditionDropped,
        });
        Field {
            negated: false,
            test: Test::Always,
        }
    }

    fn source(&mut self, j: usize, s: &Source) -> Vec<Field> {
        let at = |f: &str| format!("from[{j}].source.{f}");
        let mut out = Vec::new();
        let principals =
            |v: &[String]| Test::Principal(v.iter().map(|p| PrincipalPat::new(p)).collect());
        push(&mut out, false, &s.principals, principals);
        push(&mut out, true, &s.not_principals, principals);
        let rp = |v: &[String]| {
            Test::RequestPrincipal(v.iter().map(|p| RequestPrincipalPat::new(p)).collect())
        };
        push(&mut out, false, &s.request_principals, rp);
        push(&mut out, true, &s.not_request_principals, rp);
        for (neg, name, list) in [
            (false, "namespaces", &s.namespaces),
            (true, "notNamespaces", &s.not_namespaces),
        ] {
            if !list.is_empty() {
                out.push(self.try_field(at(name), neg, || namespaces(list)));
            }
        }
        for (neg, name, list) in [
            (false, "serviceAccounts", &s.service_accounts),
            (true, "notServiceAccounts", &s.not_service_accounts),
        ] {
            if !list.is_empty() {
                let ns = self.namespace.to_owned();
                out.push(self.try_field(at(name), neg, || service_accounts(list, &ns)));
            }
        }
        for (neg, name, list, remote) in [
            (false, "ipBlocks", &s.ip_blocks, false),
            (true, "notIpBlocks", &s.not_ip_blocks, false),
            (false, "remoteIpBlocks", &s.remote_ip_blocks, true),
            (true, "notRemoteIpBlocks", &s.not_remote_ip_blocks, true),
        ] {
            if !list.is_empty() {
                out.push(self.try_field(at(name), neg, || {
                    let nets = cidrs(list)?;
                    Ok(if remote {
                        Test::RemoteIp(nets)
                    } else {
                        Test::SourceIp(nets)
                    })
                }));
            }
        }
        out
    }

    fn operation(&mut self, j: usize, op: &Operation) -> Vec<Field> {
        let at = |f: &str| format!("to[{j}].operation.{f}");
        let mut out = Vec::new();
        let hosts =
            |v: &[String]| Test::Host(v.iter().map(|h| StrPat::new(h).lowercase()).collect());
        push(&mut out, false, &op.hosts, hosts);
        push(&mut out, true, &op.not_hosts, hosts);
        for (neg, name, list) in [
            (false, "ports", &op.ports),
            (true, "notPorts", &op.not_ports),
        ] {
            if !list.is_empty() {
                out.push(self.try_field(at(name), neg, || ports(list).map(Test::Port)));
            }
        }
        let methods = |v: &[String]| Test::Method(v.iter().map(|m| StrPat::new(m)).collect());
        push(&mut out, false, &op.methods, methods);
        push(&mut out, true, &op.not_methods, methods);
        for (neg, name, list) in [
            (false, "paths", &op.paths),
            (true, "notPaths", &op.not_paths),
        ] {
            if !list.is_empty() {
                out.push(self.try_field(at(name), neg, || {
                    list.iter()
                        .map(|p| PathPat::new(p).map_err(Problem::Path))
                        .collect::<Result<_, _>>()
                        .map(Test::Path)
                }));
            }
        }
        out
    }

    fn condition(&mut self, k: usize, c: &Condition) -> Vec<Field> {
        let at = format!("when[{k}]");
        if c.values.is_empty() && c.not_values.is_empty() {
            return vec![self.fail(at, Problem::Empty)];
        }
        let mut out = Vec::new();
        for (neg, list) in [(false, &c.values), (true, &c.not_values)] {
            if !list.is_empty() {
                let ns = self.namespace.to_owned();
                out.push(self.try_field(at.clone(), neg, || condition(&c.key, list, &ns)));
            }
        }
        out
    }

    fn try_field(
        &mut self,
        field: String,
        negated: bool,
        build: impl FnOnce() -> Result<Test, Problem>,
    ) -> Field {
        match build() {
            Ok(test) => Field { negated, test },
            Err(p) => self.fail(field, p),
        }
    }
}

fn push(out: &mut Vec<Field>, negated: bool, list: &[String], f: impl Fn(&[String]) -> Test) {
    if !list.is_empty() {
        out.push(Field {
            negated,
            test: f(list),
        });
    }
}
