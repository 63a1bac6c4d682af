//! §6.1 which policies apply, §6.2 the decision order, §6.3 rules absent vs `[{}]`.

use std::cell::Cell;

use super::*;

fn verdict_text(p: &AuthzPolicies, req: &Req) -> String {
    let w = p.for_workload(&app());
    w.evaluate(&req.as_authz(), &NoCustomProvider)
        .reason
        .to_string()
}

#[test]
fn no_policy_allows() {
    let p = policies(&[]);
    assert_eq!(decide(&p, &Req::path("/")), "allow");
    assert_eq!(
        verdict_text(&p, &Req::path("/")),
        "allowed: no ALLOW policy applies to the workload"
    );
}

#[test]
fn rules_absent_vs_empty_rule() {
    // ALLOW without rules: applies, never matches: allow-nothing.
    table("{}", &[(Req::path("/"), "deny"), (Req::tcp(), "deny")]);
    table("action: ALLOW\nrules: []", &[(Req::path("/"), "deny")]);
    // `rules: [{}]` matches everything.
    table(
        "rules: [{}]",
        &[(Req::path("/"), "allow"), (Req::tcp(), "allow")],
    );
    table(
        "action: DENY\nrules: [{}]",
        &[(Req::path("/"), "deny"), (Req::tcp(), "deny")],
    );
    // AUDIT without rules: no effect.
    table("action: AUDIT", &[(Req::path("/"), "allow")]);
}

#[test]
fn deny_before_allow_and_implicit_deny() {
    let p = policies(&[
        ap(
            "ns/allow-get",
            "rules: [{to: [{operation: {methods: [GET]}}]}]",
        ),
        ap(
            "ns/deny-admin",
            "action: DENY\nrules: [{to: [{operation: {paths: [/admin*]}}]}]",
        ),
    ]);
    assert_eq!(decide(&p, &Req::path("/api")), "allow");
    assert_eq!(decide(&p, &Req::path("/admin/x")), "deny");
    assert_eq!(decide(&p, &Req::path("/api").method("POST")), "deny");
    assert_eq!(
        verdict_text(&p, &Req::path("/admin")),
        "denied by DENY policy ns/deny-admin rules[0]"
    );
    assert_eq!(
        verdict_text(&p, &Req::path("/api")),
        "allowed by ALLOW policy ns/allow-get rules[0]"
    );
    assert_eq!(
        verdict_text(&p, &Req::path("/").method("PUT")),
        "denied: ALLOW policies apply to the workload and none matched"
    );
}

#[test]
fn rule_and_field_logic() {
    // Rules OR; from/to/when AND; values OR; X and notX AND.
    let spec = "rules:
- from: [{source: {ipBlocks: [10.0.0.0/8]}}]
  to: [{operation: {methods: [GET], paths: [/a*], notPaths: [/ab]}}, {operation: {ports: ['9090']}}]
  when: [{key: 'request.headers[x-k]', values: [a, b]}]
- to: [{operation: {paths: [/open]}}]";
    table(
        spec,
        &[
            (Req::path("/a").header("x-k", b"b"), "allow"),
            (Req::path("/ab").header("x-k", b"a"), "deny"),
            (Req::path("/a").header("x-k", b"c"), "deny"),
            (Req::path("/a"), "deny"),
            (Req::path("/zzz").port(9090).header("x-k", b"a"), "allow"),
            (Req::path("/a").method("POST").header("x-k", b"a"), "deny"),
            (Req::path("/open"), "allow"),
        ],
    );
}

#[test]
fn audit_never_decides_and_is_reported() {
    let p = policies(&[
        ap(
            "ns/audit",
            "action: AUDIT\nrules: [{to: [{operation: {paths: [/x]}}]}]",
        ),
        ap(
            "ns/deny",
            "action: DENY\nrules: [{to: [{operation: {paths: [/x]}}]}]",
        ),
    ]);
    let w = p.for_workload(&app());
    let req = Req::path("/x");
    let v = w.evaluate(&req.as_authz(), &NoCustomProvider);
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(v.audit.len(), 1);
    assert_eq!(v.audit[0].policy, "ns/audit");
    let req = Req::path("/y");
    let v = w.evaluate(&req.as_authz(), &NoCustomProvider);
    assert!(v.is_allowed() && v.audit.is_empty());
}

#[test]
fn dry_run_is_shadow_only() {
    let deny = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: \
                dr\n  namespace: ns\n  annotations: {istio.io/dry-run: \"true\"}\nspec:\n  \
                action: DENY\n  rules: [{}]\n---\n"
        .to_owned();
    let p = policies(&[deny]);
    let w = p.for_workload(&app());
    let req = Req::path("/");
    let v = w.evaluate(&req.as_authz(), &NoCustomProvider);
    assert!(v.is_allowed());
    assert_eq!(v.dry_run.len(), 1);
    assert_eq!(v.dry_run[0].policy, "ns/dr");
}

/// Counts calls and answers with a fixed decision.
struct Ext(CustomDecision, Cell<u32>);

impl CustomAuthorizer for Ext {
    fn check(&self, provider: &str, _: &AuthzRequest<'_>) -> CustomDecision {
        assert_eq!(provider, "ext");
        self.1.set(self.1.get() + 1);
        self.0
    }
}

#[test]
fn custom_runs_first_and_fails_closed() {
    let custom =
        "action: CUSTOM\nprovider: {name: ext}\nrules: [{to: [{operation: {paths: [/ext*]}}]}]";
    let p = policies(&[
        ap("ns/custom", custom),
        ap(
            "ns/allow",
            "rules: [{to: [{operation: {paths: [/ext/ok, /other]}}]}]",
        ),
    ]);
    let w = p.for_workload(&app());
    let judge = |ext: &dyn CustomAuthorizer, path: &str| {
        let req = Req::path(path);
        w.evaluate(&req.as_authz(), ext).reason.to_string()
    };
    // No provider configured: CUSTOM-matched requests are denied.
    assert!(
        judge(&NoCustomProvider, "/ext/ok").starts_with("denied by external authorizer \"ext\"")
    );
    let yes = Ext(CustomDecision::Allow, Cell::new(0));
    // The provider allows; ALLOW still has to match (CUSTOM cannot bypass ALLOW).
    assert!(judge(&yes, "/ext/ok").starts_with("allowed by ALLOW policy ns/allow"));
    assert!(judge(&yes, "/ext/no").starts_with("denied: ALLOW policies"));
    let asked = yes.1.get();
    // Not matched by the CUSTOM rule: the provider is not asked.
    assert!(judge(&yes, "/other").starts_with("allowed"));
    assert_eq!(yes.1.get(), asked);
    let no = Ext(CustomDecision::Deny, Cell::new(0));
    assert!(judge(&no, "/ext/ok").starts_with("denied by external authorizer"));
}

#[test]
fn conflicting_custom_providers_act_as_deny() {
    let p = policies(&[
        ap(
            "ns/a",
            "action: CUSTOM\nprovider: {name: a}\nrules: [{to: [{operation: {paths: [/a]}}]}]",
        ),
        ap(
            "ns/b",
            "action: CUSTOM\nprovider: {name: b}\nrules: [{to: [{operation: {paths: [/b]}}]}]",
        ),
    ]);
    let w = p.for_workload(&app());
    let yes = Ext(CustomDecision::Allow, Cell::new(0));
    let req = Req::path("/b");
    let v = w.evaluate(&req.as_authz(), &yes);
    assert!(matches!(v.reason, Reason::ConflictingProviders(r) if r.policy == "ns/b"));
    assert_eq!(yes.1.get(), 0);
    let req = Req::path("/c");
    assert!(w.evaluate(&req.as_authz(), &yes).is_allowed());
}

#[test]
fn which_policies_apply() {
    let deny_all = "action: DENY\nrules: [{}]";
    let cases: &[(&str, String, bool)] = &[
        ("same namespace, no selector", ap("ns/p", deny_all), true),
        ("other namespace", ap("other/p", deny_all), false),
        (
            "root namespace, no selector",
            ap("istio-system/p", deny_all),
            true,
        ),
        (
            "root namespace selector, labels match",
            ap(
                "istio-system/p",
                &format!("selector: {{matchLabels: {{app: app}}}}\n{deny_all}"),
            ),
            true,
        ),
        (
            "root namespace selector, labels differ",
            ap(
                "istio-system/p",
                &format!("selector: {{matchLabels: {{app: web}}}}\n{deny_all}"),
            ),
            false,
        ),
        (
            "selector subset of labels",
            ap(
                "ns/p",
                &format!("selector: {{matchLabels: {{app: app}}}}\n{deny_all}"),
            ),
            true,
        ),
        (
            "selector not a subset",
            ap(
                "ns/p",
                &format!("selector: {{matchLabels: {{app: app, v: '2'}}}}\n{deny_all}"),
            ),
            false,
        ),
        (
            "targetRefs ignored at a sidecar",
            ap(
                "ns/p",
                &format!(
                    "targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: gw}}]\n{deny_all}"
                ),
            ),
            false,
        ),
    ];
    for (what, d, applies) in cases {
        let p = policies(std::slice::from_ref(d));
        let want = if *applies { "deny" } else { "allow" };
        assert_eq!(decide(&p, &Req::path("/")), want, "{what}");
    }
}

#[test]
fn gateway_target_refs() {
    let p = policies(&[ap(
        "ns/p",
        "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\naction: DENY\nrules: [{}]",
    )]);
    let gw = workload("ns/gw-istio", "gateway.networking.k8s.io/gateway-name=gw");
    let req = Req::path("/");
    let on = p.select(Target::Gateway(&gw, "gw"));
    assert!(!on.evaluate(&req.as_authz(), &NoCustomProvider).is_allowed());
    let other = p.select(Target::Gateway(&gw, "other"));
    assert!(
        other
            .evaluate(&req.as_authz(), &NoCustomProvider)
            .is_allowed()
    );
    assert_eq!(on.policy_names().collect::<Vec<_>>(), ["ns/p"]);
}
