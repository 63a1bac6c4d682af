//! AuthorizationPolicy, policy level (semantics.md §6.1–§6.3): scope, action and provider,
//! rule presence, the dry-run annotation. Rules are checked in [`super::rule`].

use crate::path::FieldPath;
use crate::resource::{Action, AuthorizationPolicySpec, Resource};
use crate::security::authz::action_name;
use crate::validate::Report;

use super::{rule, scope};

/// The annotation that puts a policy in shadow mode (§6.1).
pub const DRY_RUN: &str = "istio.io/dry-run";

/// Validates an AuthorizationPolicy spec.
pub fn validate(spec: &AuthorizationPolicySpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    let action = spec.action.unwrap_or(Action::Allow);
    targets(spec, res, path, r);
    provider(spec, action, path, r);
    rules_present(spec, action, path, r);
    dry_run(res, action, r);
    for (i, rl) in spec.rules.iter().flatten().enumerate() {
        rule::validate(rl, action, res, &path.key("rules").index(i), r);
    }
}

/// §6.1: `selector` or `targetRef(s)`, not both; every target well-formed.
fn targets(spec: &AuthorizationPolicySpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    scope::one_of(
        r,
        path,
        spec.selector.is_some(),
        spec.target_ref.is_some(),
        !spec.target_refs.is_empty(),
    );
    if let Some(sel) = &spec.selector {
        scope::selector(r, &path.key("selector"), sel);
    }
    if let Some(t) = &spec.target_ref {
        scope::target_ref(r, &path.key("targetRef"), t, res.namespace());
    }
    for (i, t) in spec.target_refs.iter().enumerate() {
        scope::target_ref(r, &path.key("targetRefs").index(i), t, res.namespace());
    }
}

/// Istio: CUSTOM needs `provider.name`; `provider` only with CUSTOM.
fn provider(spec: &AuthorizationPolicySpec, action: Action, path: &FieldPath, r: &mut Report) {
    let at = path.key("provider");
    match (&spec.provider, action) {
        (None, Action::Custom) => r.error(
            &at,
            "action CUSTOM requires provider.name (an extension provider from the mesh config)",
        ),
        (Some(p), Action::Custom) if p.name.is_empty() => r.error(
            &at.key("name"),
            "provider.name must not be empty (an extension provider from the mesh config)",
        ),
        (Some(_), a) if a != Action::Custom => r.error(
            &at,
            format!(
                "provider is only allowed with action CUSTOM, not {}",
                action_name(a)
            ),
        ),
        _ => {}
    }
}

/// §6.3: a DENY or CUSTOM policy without rules never fires; Istio rejects it (since 1.9) so that
/// nobody believes it is enforced. ALLOW and AUDIT without rules are meaningful.
fn rules_present(spec: &AuthorizationPolicySpec, action: Action, path: &FieldPath, r: &mut Report) {
    let empty = spec.rules.as_ref().is_none_or(Vec::is_empty);
    if empty && matches!(action, Action::Deny | Action::Custom) {
        let at = if spec.rules.is_some() {
            path.key("rules")
        } else {
            path.key("action")
        };
        r.error(
            &at,
            format!(
                "{} action without rules is meaningless as it never matches; add an empty rule \
                 `rules: [{{}}]` to match every request",
                action_name(action)
            ),
        );
    }
}

/// Istio `checkDryRunAnnotation`: only ALLOW and DENY, with a boolean value (Go `ParseBool`).
fn dry_run(res: &Resource, action: Action, r: &mut Report) {
    let Some(value) = res.meta.annotations.get(DRY_RUN) else {
        return;
    };
    let at = FieldPath::root()
        .key("metadata")
        .key("annotations")
        .key(DRY_RUN);
    if !matches!(action, Action::Allow | Action::Deny) {
        r.error(
            &at,
            format!(
                "{DRY_RUN} only supports action ALLOW or DENY, not {}",
                action_name(action)
            ),
        );
    } else if !matches!(
        value.as_str(),
        "1" | "t" | "T" | "true" | "TRUE" | "True" | "0" | "f" | "F" | "false" | "FALSE" | "False"
    ) {
        r.error(
            &at,
            format!("{DRY_RUN} must be \"true\" or \"false\", not {value:?}"),
        );
    }
}
