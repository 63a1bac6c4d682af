use crate::explain::{ExplainRequest, ProxyScope, SourceFacts, explain};
use crate::testutil::{doc, mesh, workload};

fn pa(ns_name: &str, spec: &str) -> String {
    doc("PeerAuthentication", ns_name, spec)
}

fn sidecar(line: &str, w: &str, labels: &str) -> ExplainRequest {
    ExplainRequest::from_line(line, &[], ProxyScope::Sidecar(workload(w, labels))).unwrap()
}

fn mtls_peer(principal: &str) -> SourceFacts {
    SourceFacts {
        principal: Some(principal.to_owned()),
        namespace: None,
        ip: Some("10.1.2.3".into()),
        mtls: true,
    }
}

/// The `mtls` key as JSON.
fn mtls_json(docs: &[String], req: &ExplainRequest) -> serde_json::Value {
    let e = explain(&mesh(docs), req).unwrap();
    serde_json::to_value(&e).unwrap()["mtls"].clone()
}

#[test]
fn strict_namespace_refuses_a_plaintext_peer() {
    let docs = [pa("prod/strict", "mtls: {mode: STRICT}")];
    let req = sidecar("GET http://app.prod:8080/", "prod/app", "app=a");
    let v = mtls_json(&docs, &req);
    assert_eq!(v["workload"], "prod/app");
    assert_eq!(v["port"], 8080);
    assert_eq!(v["mode"], "STRICT");
    assert_eq!(v["decided_by"]["scope"], "namespace");
    assert_eq!(v["decided_by"]["policy"], "prod/strict");
    assert_eq!(v["connection"], "plaintext");
    assert_eq!(v["peer_principal"], serde_json::Value::Null);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["policies"]["namespace"], "prod/strict");
    // The same request over mTLS is accepted and carries the identity.
    let mut req = req;
    req.source = mtls_peer("cluster.local/ns/front/sa/web");
    let v = mtls_json(&docs, &req);
    assert_eq!(v["connection"], "mtls");
    assert_eq!(v["accepted"], true);
    assert_eq!(v["peer_principal"], "cluster.local/ns/front/sa/web");
}

#[test]
fn the_destination_workload_is_judged_not_the_client() {
    let docs = [
        pa("istio-system/mesh", "mtls: {mode: STRICT}"),
        pa(
            "prod/api",
            "selector: {matchLabels: {app: api}}\nportLevelMtls:\n  \"9000\": {mode: DISABLE}",
        ),
    ];
    let req = sidecar("GET http://api.prod:9000/", "front/web", "app=web")
        .with_destination(workload("prod/api", "app=api"));
    let v = mtls_json(&docs, &req);
    assert_eq!(v["workload"], "prod/api");
    assert_eq!(v["mode"], "DISABLE");
    assert_eq!(v["decided_by"]["scope"], "port");
    assert_eq!(v["accepted"], true);
    assert_eq!(v["policies"]["mesh"], "istio-system/mesh");
    assert_eq!(v["policies"]["workload"], "prod/api");
    // Another port of the same workload: the mesh-wide STRICT.
    let req = sidecar("GET http://api.prod:8080/", "front/web", "app=web")
        .with_destination(workload("prod/api", "app=api"));
    let v = mtls_json(&docs, &req);
    assert_eq!(
        (v["mode"].as_str(), v["accepted"].as_bool()),
        (Some("STRICT"), Some(false))
    );
    assert_eq!(v["decided_by"]["scope"], "mesh");
}

#[test]
fn no_policy_is_permissive_by_default() {
    let req = sidecar("GET http://app/", "prod/app", "");
    let v = mtls_json(&[], &req);
    assert_eq!(v["mode"], "PERMISSIVE");
    assert_eq!(v["decided_by"]["scope"], "default");
    assert_eq!(v["decided_by"]["policy"], serde_json::Value::Null);
    assert_eq!(v["accepted"], true);
    assert!(
        v["reason"].as_str().unwrap().contains("no peer identity"),
        "{v}"
    );
}

#[test]
fn an_invalid_principal_is_refused() {
    let mut req = sidecar("GET http://app/", "prod/app", "");
    req.source = mtls_peer("Cluster.Local/ns/a/sa/b");
    let v = mtls_json(&[], &req);
    assert_eq!(v["accepted"], false);
    assert!(v["reason"].as_str().unwrap().contains("SPIFFE"), "{v}");
}

#[test]
fn conflicting_namespace_policies_are_reported() {
    let docs = [
        pa("prod/first", "mtls: {mode: PERMISSIVE}"),
        pa("prod/second", "mtls: {mode: STRICT}"),
    ];
    let v = mtls_json(&docs, &sidecar("GET http://app/", "prod/app", ""));
    assert_eq!(v["mode"], "PERMISSIVE");
    assert_eq!(v["ignored"][0]["policy"], "prod/second");
}

#[test]
fn at_a_gateway_the_gateway_deployment_receives() {
    let docs = [
        doc(
            "Gateway",
            "edge/gw",
            "selector: {istio: ingressgateway}\nservers:\n- port: {number: 80, name: http, \
             protocol: HTTP}\n  hosts: [\"*\"]",
        ),
        pa(
            "edge/gw-strict",
            "selector: {matchLabels: {istio: ingressgateway}}\nmtls: {mode: STRICT}",
        ),
    ];
    let req = ExplainRequest::from_line(
        "GET http://a.example.com/",
        &[],
        ProxyScope::Gateway {
            gateway: "edge/gw".into(),
            port: 80,
        },
    )
    .unwrap();
    let v = mtls_json(&docs, &req);
    assert_eq!(v["workload"], "edge/gw");
    assert_eq!(v["decided_by"]["policy"], "edge/gw-strict");
    assert_eq!(v["accepted"], false);
}
