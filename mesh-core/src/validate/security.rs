//! PeerAuthentication and AuthorizationPolicy rules.
//!
//! The rules are Istio's (`pkg/config/validation/validation.go`, `pkg/config/security`), made
//! stricter where a value could never match and so would silently weaken a policy (a DENY
//! that never fires is a bypass; security.md rule 2, "fail closed").

mod authz;
mod condition;
mod fields;
mod identity;
mod ip;
mod peer_authn;
mod rule;
mod scope;
mod values;

use serde::Serialize;

use crate::path::{FieldPath, Segment};
use crate::resource::{AuthorizationPolicySpec, PeerAuthenticationSpec, Resource};
use crate::yaml::{Node, Value};

use super::Report;

/// Validates a PeerAuthentication spec.
pub fn validate_peer_authn(
    spec: &PeerAuthenticationSpec,
    res: &Resource,
    path: &FieldPath,
    r: &mut Report,
) {
    peer_authn::validate(spec, res, path, r);
}

/// Validates an AuthorizationPolicy spec.
pub fn validate_authz(
    spec: &AuthorizationPolicySpec,
    res: &Resource,
    path: &FieldPath,
    r: &mut Report,
) {
    authz::validate(spec, res, path, r);
}

/// True when `path` is written in the resource's source, even as an empty list or mapping: the
/// typed structs do not tell `from: []` from an absent `from`, Istio does.
fn present(res: &Resource, path: &FieldPath) -> bool {
    node_at(res, path).is_some()
}

/// True when the mapping at `path` has a key that `T` does not know. The loader has reported it
/// already (an error, or a warning under `--lenient`); a second finding about the same mapping
/// being empty would only repeat it.
fn has_unknown_keys<T: Serialize + Default>(res: &Resource, path: &FieldPath) -> bool {
    let Some(Value::Map(entries)) = node_at(res, path).map(|n| &n.value) else {
        return false;
    };
    let known = serde_json::to_value(T::default()).ok();
    let known = known.as_ref().and_then(serde_json::Value::as_object);
    entries
        .iter()
        .any(|(k, _)| known.is_none_or(|o| !o.contains_key(&k.name)))
}

/// The source node at `path`.
fn node_at<'a>(res: &'a Resource, path: &FieldPath) -> Option<&'a Node> {
    let mut n: &Node = &res.origin.node;
    for seg in path.segments() {
        n = match (seg, &n.value) {
            (Segment::Key(k), Value::Map(e)) => &e.iter().find(|(key, _)| &key.name == k)?.1,
            (Segment::Index(i), Value::Seq(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(n)
}

#[cfg(test)]
mod tests;
