use crate::explain::{ExplainRequest, ProxyScope, explain};
use crate::testutil::{doc, mesh, workload};

use super::*;

fn docs() -> Vec<String> {
    vec![
        doc(
            "VirtualService",
            "ns/r",
            "hosts: [svc]\nhttp:\n- route: [{destination: {host: svc}}]",
        ),
        doc(
            "AuthorizationPolicy",
            "ns/allow-web",
            "selector: {matchLabels: {app: svc}}\nrules:\n- from: [{source: {principals: [cluster.local/ns/web/sa/web]}}]\n  to: [{operation: {paths: ['/api/*']}}]",
        ),
        doc(
            "AuthorizationPolicy",
            "ns/deny-admin",
            "action: DENY\nrules: [{to: [{operation: {paths: [/admin]}}]}]",
        ),
    ]
}

fn run(line: &str, mtls: bool) -> AuthzView {
    let mut req = ExplainRequest::from_line(
        line,
        &[],
        ProxyScope::Sidecar(workload("web/web", "app=web")),
    )
    .unwrap();
    req.destination = Some(workload("ns/svc", "app=svc"));
    req.source = SourceFacts {
        principal: Some("cluster.local/ns/web/sa/web".into()),
        namespace: Some("web".into()),
        ip: Some("10.0.0.9".into()),
        mtls,
    };
    explain(&mesh(&docs()), &req).unwrap().authz.unwrap()
}

#[test]
fn verdict_at_the_destination() {
    let v = run("GET http://svc/api/users?x=1", true);
    assert_eq!(v.workload, "ns/svc");
    assert_eq!((v.decision, v.status), ("ALLOW", None));
    assert_eq!(v.policy.as_deref(), Some("ns/allow-web"));
    assert_eq!((v.rule, v.action), (Some(0), Some("ALLOW")));
    assert_eq!(v.path, "/api/users");
    assert_eq!(v.policies, ["ns/deny-admin", "ns/allow-web"]);
    // Plaintext: no identity, the ALLOW does not match.
    let v = run("GET http://svc/api/users", false);
    assert_eq!((v.decision, v.status), ("DENY", Some(403)));
    assert_eq!(
        v.reason,
        "denied: ALLOW policies apply to the workload and none matched"
    );
    // The DENY judges the normalized path.
    let v = run("GET http://svc/api/../admin", true);
    assert_eq!(v.path, "/admin");
    assert_eq!(v.policy.as_deref(), Some("ns/deny-admin"));
    assert_eq!(v.action, Some("DENY"));
    // Lower-case methods are rejected before authorization.
    let v = run("get http://svc/api/x", true);
    assert_eq!((v.decision, v.status), ("DENY", Some(400)));
}

#[test]
fn sidecar_workload_by_default_and_gateways_need_a_destination() {
    let m = mesh(&docs());
    let req = ExplainRequest::from_line(
        "GET http://svc/admin",
        &[],
        ProxyScope::Sidecar(workload("ns/client", "")),
    )
    .unwrap();
    let v = explain(&m, &req).unwrap().authz.unwrap();
    assert_eq!(v.workload, "ns/client");
    assert_eq!(v.decision, "DENY");
    assert_eq!(v.policies, ["ns/deny-admin"]);
    let gw = doc(
        "Gateway",
        "ns/gw",
        "selector: {istio: ingressgateway}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]",
    );
    let m = mesh(&[gw]);
    let req = ExplainRequest::from_line(
        "GET http://svc/admin",
        &[],
        ProxyScope::Gateway {
            gateway: "ns/gw".into(),
            port: 80,
        },
    )
    .unwrap();
    let e = explain(&m, &req).unwrap();
    assert!(e.authz.is_none());
    assert!(e.notes.iter().any(|n| n.contains("destination workload")));
}

#[test]
fn mesh_normalization_setting_is_used() {
    let text = docs().concat();
    let judge = |mode| {
        let config = crate::MeshConfig {
            path_normalization: mode,
            ..crate::MeshConfig::default()
        };
        let loaded = crate::Loaded::from_str("t.yaml", &text, crate::LoadOptions::default());
        let (m, _) = crate::Mesh::from_loaded(loaded, config).unwrap();
        let req = ExplainRequest::from_line(
            "GET http://svc//admin",
            &[],
            ProxyScope::Sidecar(workload("ns/client", "")),
        )
        .unwrap();
        explain(&m, &req).unwrap().authz.unwrap()
    };
    use crate::security::normalize::PathNormalization;
    let base = judge(PathNormalization::Base);
    assert_eq!((base.path.as_str(), base.decision), ("//admin", "ALLOW"));
    let merged = judge(PathNormalization::MergeSlashes);
    assert_eq!(merged.normalization, "MERGE_SLASHES");
    assert_eq!((merged.path.as_str(), merged.decision), ("/admin", "DENY"));
}
