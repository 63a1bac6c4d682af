//! `when` conditions (semantics.md §6.6): Istio `ValidateAttribute`, with value checks by key.

use crate::path::FieldPath;
use crate::resource::{Condition, IntOrString};
use crate::validate::Report;
use crate::validate::common::is_header_name;

use super::{identity, ip, values};

/// What a `when` key's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Values {
    Ip,
    Port,
    Principal,
    Namespace,
    ServiceAccount,
    TrustDomain,
    /// Pattern language only.
    Pattern,
}

/// The keys with no brackets, and what their values are.
const PLAIN_KEYS: [(&str, Values); 12] = [
    ("source.ip", Values::Ip),
    ("remote.ip", Values::Ip),
    ("source.namespace", Values::Namespace),
    ("source.principal", Values::Principal),
    ("source.serviceAccount", Values::ServiceAccount),
    ("source.trustDomain", Values::TrustDomain),
    ("request.auth.principal", Values::Pattern),
    ("request.auth.audiences", Values::Pattern),
    ("request.auth.presenter", Values::Pattern),
    ("destination.ip", Values::Ip),
    ("destination.port", Values::Port),
    ("connection.sni", Values::Pattern),
];

/// Validates `when[k]`: a known key and at least one of `values`/`notValues`, each valid.
pub fn validate(c: &Condition, path: &FieldPath, r: &mut Report) {
    if c.key.is_empty() {
        r.error(&path.key("key"), "when key must not be empty");
        return;
    }
    let kind = match classify(&c.key) {
        Ok(kind) => kind,
        Err(msg) => {
            r.error(&path.key("key"), msg);
            return;
        }
    };
    if c.values.is_empty() && c.not_values.is_empty() {
        r.error(
            path,
            format!(
                "at least one of values or notValues must be set for key {}",
                c.key
            ),
        );
    }
    for (name, list) in [("values", &c.values), ("notValues", &c.not_values)] {
        for (n, v) in list.iter().enumerate() {
            value(r, &path.key(name).index(n), name, kind, v);
        }
    }
}

/// Istio `ValidateAttribute`: the known keys, the bracketed ones in `a[b]` form, and the
/// replaced or deprecated `destination.*` keys as errors that say so.
fn classify(key: &str) -> Result<Values, String> {
    if let Some((_, kind)) = PLAIN_KEYS.iter().find(|(k, _)| *k == key) {
        return Ok(*kind);
    }
    if let Some(rest) = key.strip_prefix("request.headers") {
        return match bracketed(rest).as_deref() {
            Some([name]) if is_header_name(name) => Ok(Values::Pattern),
            _ => Err(format!(
                "bad key {key:?}: should be request.headers[<header-name>]"
            )),
        };
    }
    if let Some(rest) = key.strip_prefix("request.auth.claims") {
        return match bracketed(rest) {
            Some(_) => Ok(Values::Pattern),
            None => Err(format!(
                "bad key {key:?}: should be request.auth.claims[<claim>] or \
                 request.auth.claims[<claim>][<nested>]"
            )),
        };
    }
    if let Some(rest) = key.strip_prefix("experimental.envoy.filters.") {
        let ok = rest
            .find('[')
            .is_some_and(|i| i > 0 && bracketed(&rest[i..]).is_some());
        return if ok {
            Ok(Values::Pattern)
        } else {
            Err(format!(
                "bad key {key:?}: should be experimental.envoy.filters.<filter>[<key>]"
            ))
        };
    }
    Err(match key {
        "destination.namespace" => {
            format!("attribute {key} is replaced by the policy's metadata.namespace")
        }
        k if k.starts_with("destination.labels") => {
            format!("attribute {key} is replaced by the workload selector")
        }
        "destination.name" | "destination.user" => {
            format!("deprecated attribute {key}: only supported in v1alpha1")
        }
        _ => format!(
            "unknown attribute {key:?}: use request.headers[..], source.ip, remote.ip, \
             source.namespace, source.principal, request.auth.principal, \
             request.auth.audiences, request.auth.presenter, request.auth.claims[..], \
             destination.ip, destination.port, connection.sni or experimental.envoy.filters.*"
        ),
    })
}

/// `[a]` or `[a][b]`...: the non-empty names between brackets, or None.
fn bracketed(s: &str) -> Option<Vec<&str>> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    let names: Vec<&str> = inner.split("][").collect();
    names
        .iter()
        .all(|n| !n.is_empty() && !n.contains(['[', ']']))
        .then_some(names)
}

/// One value of a condition, checked by what the key holds.
fn value(r: &mut Report, path: &FieldPath, field: &str, kind: Values, v: &str) {
    if !values::non_empty(r, path, field, v) {
        return;
    }
    match kind {
        Values::Ip => ip::check(r, path, v),
        Values::Port => values::port(r, path, &IntOrString::Str(v.to_owned())),
        Values::Principal => identity::principal(r, path, v),
        Values::Namespace => identity::namespace(r, path, v),
        Values::ServiceAccount => identity::service_account(r, path, v),
        Values::TrustDomain => identity::trust_domain(r, path, v),
        Values::Pattern => values::literal_star(r, path, v),
    }
}
