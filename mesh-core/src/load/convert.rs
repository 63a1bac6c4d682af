//! Positioned YAML to typed resources: every unknown field is reported (error, or warning when
//! lenient), and a type error names the field path.

use serde::de::DeserializeOwned;

use crate::diag::Severity;
use crate::path::{FieldPath, Segment};
use crate::validate::Issue;
use crate::yaml::Node;

/// Deserializes `node` into `T`. Returns the value (None on a type error) and the issues.
pub fn convert<T: DeserializeOwned>(node: &Node, lenient: bool) -> (Option<T>, Vec<Issue>) {
    let json = node.to_json();
    let mut unknown: Vec<FieldPath> = Vec::new();
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(ignored_path(&p));
    let ignored = serde_ignored::Deserializer::new(json, &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignored);
    let mut issues: Vec<Issue> = Vec::new();
    let value = match result {
        Ok(v) => Some(v),
        Err(e) => {
            let path = tracked_path(e.path());
            let message = explain_type_error(&e.into_inner().to_string());
            issues.push(Issue {
                severity: Severity::Error,
                path,
                message,
                at_key: false,
            });
            None
        }
    };
    for path in unknown {
        let name = match path.segments().last() {
            Some(Segment::Key(k)) => k.clone(),
            _ => path.to_string(),
        };
        let (severity, tail) = if lenient {
            (Severity::Warning, "ignored (--lenient)")
        } else {
            (
                Severity::Error,
                "a field mesh does not know could change what the resource means, so the \
                 resource is rejected (--lenient ignores unknown fields, except in \
                 AuthorizationPolicy and PeerAuthentication)",
            )
        };
        issues.push(Issue {
            severity,
            path,
            message: format!("unknown field {name:?}: {tail}"),
            at_key: true,
        });
    }
    (value, issues)
}

fn explain_type_error(msg: &str) -> String {
    let msg = msg.trim().to_owned();
    if msg.starts_with("invalid type: boolean") && msg.contains("string") {
        format!(
            "{msg} (plain yes/no/on/off/true/false are booleans in Kubernetes YAML; quote the \
             value to make it a string)"
        )
    } else if msg.starts_with("invalid type: integer") && msg.ends_with("expected a string") {
        format!("{msg} (quote the value to make it a string)")
    } else {
        msg
    }
}

fn tracked_path(p: &serde_path_to_error::Path) -> FieldPath {
    let mut out = FieldPath::root();
    for seg in p.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out.push(Segment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => out.push(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => {
                out.push(Segment::Key(variant.clone()))
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> FieldPath {
    use serde_ignored::Path as P;
    match p {
        P::Root => FieldPath::root(),
        P::Seq { parent, index } => ignored_path(parent).index(*index),
        P::Map { parent, key } => ignored_path(parent).key(key.clone()),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}
