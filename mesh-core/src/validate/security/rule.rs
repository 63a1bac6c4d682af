//! One AuthorizationPolicy rule (semantics.md §6.3, §6.7): the shape of `from`/`to`/`when`,
//! the CUSTOM restrictions, and the best-practice lints of security.md C-28.

use crate::path::FieldPath;
use crate::resource::{Action, Operation, Resource, Rule, Source};
use crate::validate::Report;

use super::{condition, fields, has_unknown_keys, present};

/// Validates `rules[i]`.
pub fn validate(rule: &Rule, action: Action, res: &Resource, path: &FieldPath, r: &mut Report) {
    from(rule, res, path, r);
    to(rule, res, path, r);
    for (k, c) in rule.when.iter().enumerate() {
        condition::validate(c, &path.key("when").index(k), r);
    }
    if action == Action::Custom {
        custom_limits(rule, path, r);
    }
    path_lints(rule, action, path, r);
    tcp_lint(rule, action, path, r);
}

/// Istio: `from: []` is invalid; each entry needs a non-empty `source`. An empty source is a
/// match group with nothing to match: ztunnel skipped those and a DENY never fired
/// (istio/istio#61126), so it is rejected rather than read either way (unless it only looks
/// empty because its fields are unknown, which the loader reports).
fn from(rule: &Rule, res: &Resource, path: &FieldPath, r: &mut Report) {
    let at = path.key("from");
    if rule.from.is_empty() && present(res, &at) {
        r.error(&at, "from must not be empty: remove it to match any source");
    }
    for (j, f) in rule.from.iter().enumerate() {
        let item = at.index(j);
        match &f.source {
            None => r.error(&item, "from entry must have a source"),
            Some(s) if *s == Source::default() => {
                if !has_unknown_keys::<Source>(res, &item.key("source")) {
                    r.error(
                        &item.key("source"),
                        "source must not be empty: set at least one field (principals, \
                         namespaces, ipBlocks, ...)",
                    );
                }
            }
            Some(s) => fields::source(s, &item.key("source"), r),
        }
    }
}

/// The same for `to` and `operation`.
fn to(rule: &Rule, res: &Resource, path: &FieldPath, r: &mut Report) {
    let at = path.key("to");
    if rule.to.is_empty() && present(res, &at) {
        r.error(
            &at,
            "to must not be empty: remove it to match any operation",
        );
    }
    for (j, t) in rule.to.iter().enumerate() {
        let item = at.index(j);
        match &t.operation {
            None => r.error(&item, "to entry must have an operation"),
            Some(op) if *op == Operation::default() => {
                if !has_unknown_keys::<Operation>(res, &item.key("operation")) {
                    r.error(
                        &item.key("operation"),
                        "operation must not be empty: set at least one field (paths, methods, \
                         ports, hosts, ...)",
                    );
                }
            }
            Some(op) => fields::operation(op, &item.key("operation"), r),
        }
    }
}

/// Istio: with CUSTOM, identity sources and identity `when` keys are not supported.
fn custom_limits(rule: &Rule, path: &FieldPath, r: &mut Report) {
    for (j, f) in rule.from.iter().enumerate() {
        let Some(s) = &f.source else { continue };
        let at = path.key("from").index(j).key("source");
        for (name, set) in [
            ("principals", &s.principals),
            ("notPrincipals", &s.not_principals),
            ("requestPrincipals", &s.request_principals),
            ("notRequestPrincipals", &s.not_request_principals),
            ("namespaces", &s.namespaces),
            ("notNamespaces", &s.not_namespaces),
            ("serviceAccounts", &s.service_accounts),
            ("notServiceAccounts", &s.not_service_accounts),
        ] {
            if !set.is_empty() {
                r.error(
                    &at.key(name),
                    format!("{name} is not supported with action CUSTOM"),
                );
            }
        }
    }
    for (k, c) in rule.when.iter().enumerate() {
        let identity = matches!(
            c.key.as_str(),
            "source.namespace" | "source.serviceAccount" | "source.principal"
        ) || c.key.starts_with("request.auth.");
        if identity {
            r.error(
                &path.key("when").index(k).key("key"),
                format!("when key {:?} is not supported with action CUSTOM", c.key),
            );
        }
    }
}

/// C-28 (security.md rule 3): `ALLOW` + `notPaths` and `DENY` + `paths` fail open when a path
/// variant escapes the match (`//admin`, `%2F`, `/ADMIN`, `;a=b`).
fn path_lints(rule: &Rule, action: Action, path: &FieldPath, r: &mut Report) {
    let (field, advice) = match action {
        Action::Allow => (
            "notPaths",
            "ALLOW with notPaths fails open: a path variant the backend treats as equal \
             (//admin, %2F, /ADMIN, ;a=b) escapes the exclusion; prefer ALLOW with paths",
        ),
        Action::Deny => (
            "paths",
            "DENY with paths fails open: a path variant the backend treats as equal (//admin, \
             %2F, /ADMIN, ;a=b) escapes the deny; prefer DENY with notPaths or ALLOW with \
             paths, with path normalization DECODE_AND_MERGE_SLASHES",
        ),
        Action::Audit | Action::Custom => return,
    };
    for (j, t) in rule.to.iter().enumerate() {
        let Some(op) = &t.operation else { continue };
        let set = if action == Action::Allow {
            &op.not_paths
        } else {
            &op.paths
        };
        if !set.is_empty() {
            r.warn(&path.key("to").index(j).key("operation").key(field), advice);
        }
    }
}

/// §6.7: on plain TCP, HTTP-only conditions of a DENY rule are dropped and the rest kept, so
/// the rule denies more (all TCP traffic if nothing else remains); Istio warns and recommends
/// `ports`.
fn tcp_lint(rule: &Rule, action: Action, path: &FieldPath, r: &mut Report) {
    if action != Action::Deny {
        return;
    }
    let used = http_only(rule);
    let ports = rule
        .to
        .iter()
        .filter_map(|t| t.operation.as_ref())
        .any(|op| !op.ports.is_empty() || !op.not_ports.is_empty());
    if !used.is_empty() && !ports {
        r.warn(
            path,
            format!(
                "this DENY rule uses HTTP-only attributes ({}); on TCP ports they cannot be \
                 evaluated and are dropped, so the rule denies more TCP traffic than intended \
                 (all of it if nothing else remains); add ports to limit it",
                used.join(", ")
            ),
        );
    }
}

/// The HTTP-only attributes (§6.7) a rule uses, in field order, without repeats.
fn http_only(rule: &Rule) -> Vec<&'static str> {
    let mut used: Vec<&'static str> = Vec::new();
    let mut add = |name: &'static str, set: bool| {
        if set && !used.contains(&name) {
            used.push(name);
        }
    };
    for s in rule.from.iter().filter_map(|f| f.source.as_ref()) {
        add("requestPrincipals", !s.request_principals.is_empty());
        add("notRequestPrincipals", !s.not_request_principals.is_empty());
    }
    for op in rule.to.iter().filter_map(|t| t.operation.as_ref()) {
        add("hosts", !op.hosts.is_empty());
        add("notHosts", !op.not_hosts.is_empty());
        add("methods", !op.methods.is_empty());
        add("notMethods", !op.not_methods.is_empty());
        add("paths", !op.paths.is_empty());
        add("notPaths", !op.not_paths.is_empty());
    }
    for c in &rule.when {
        add("request.headers", c.key.starts_with("request.headers"));
        add("request.auth", c.key.starts_with("request.auth."));
    }
    used
}
