//! Load-time findings about the security resources, reported beside the snapshot so that a user
//! sees at `validate` time what the engines will do: PeerAuthentications Istio ignores
//! (security.md C-26) and AuthorizationPolicy values the engine cannot enforce, with the
//! fail-closed effect it applies instead (spec §6, STYLE rule 4).

use crate::diag::Diagnostic;
use crate::path::FieldPath;
use crate::resource::{Resource, Spec};
use crate::security::authz::AuthzPolicies;
use crate::security::peer_authn::PeerAuthentications;
use crate::validate::Report;

use super::push_issues;

/// Appends the findings as warnings on the resources they concern.
pub(super) fn check(resources: &[Resource], root_namespace: &str, diags: &mut Vec<Diagnostic>) {
    let named = |ns_name: &str, pa: bool| {
        resources.iter().find(|r| {
            let kind_ok = if pa {
                matches!(r.spec, Spec::PeerAuthentication(_))
            } else {
                matches!(r.spec, Spec::AuthorizationPolicy(_))
            };
            kind_ok && format!("{}/{}", r.namespace(), r.name()) == ns_name
        })
    };
    // Invalid PeerAuthentications are validation errors already; nothing more to add here.
    if let Ok(pas) = PeerAuthentications::from_resources(resources, root_namespace) {
        for ignored in pas.shadowed() {
            // A selector in the root namespace is reported by validation (at spec.selector).
            if let Some(res) = named(&ignored.policy, true).filter(
                |r| !matches!(&r.spec, Spec::PeerAuthentication(pa) if pa.selector.is_some()),
            ) {
                let mut report = Report::new();
                report.warn(
                    &FieldPath::root().key("metadata").key("name"),
                    ignored.reason,
                );
                push_issues(diags, res, report);
            }
        }
    }
    let (_, problems) = AuthzPolicies::compile(resources, root_namespace);
    for p in problems {
        if let Some(res) = named(&p.policy, false) {
            let mut report = Report::new();
            let path = FieldPath::parse(&format!("spec.rules[{}].{}", p.rule, p.field));
            report.warn(
                &path,
                format!("{}: cannot be enforced; {}", p.problem, p.effect),
            );
            push_issues(diags, res, report);
        }
    }
}
