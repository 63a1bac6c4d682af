use std::path::PathBuf;

use super::*;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/resources")
}

fn myapp() -> Mesh {
    let text = ["virtualservice-myapp", "destinationrule-myapp"]
        .map(|n| std::fs::read_to_string(examples().join(format!("{n}.yaml"))).unwrap())
        .join("\n---\n");
    mesh_from_yaml(&text, "myapp.yaml").unwrap().0
}

fn spec(json: &str) -> RequestSpec {
    RequestSpec::from_json(json).unwrap()
}

#[test]
fn json_request_routes_the_header_to_v2() {
    let m = myapp();
    let req = spec(
        r#"{"url": "http://myapp/anything", "headers": {"x-version": "v2"},
            "workload": "production/frontend", "labels": {"app": "frontend"}}"#,
    );
    let r = route(&m, &req).unwrap();
    assert_eq!(r.virtual_service.as_deref(), Some("production/myapp"));
    let picked = r.picked.unwrap();
    assert_eq!(picked.subset.as_deref(), Some("v2"));
}

#[test]
fn header_list_form_equals_map_form() {
    let m = myapp();
    let a = spec(r#"{"url": "http://myapp/x", "headers": {"x-version": "v2"}}"#);
    let b = spec(r#"{"url": "http://myapp/x", "headers": [["x-version", "v2"]]}"#);
    assert_eq!(explain(&m, &a).unwrap(), explain(&m, &b).unwrap());
}

#[test]
fn route_is_the_route_part_of_explain() {
    let m = myapp();
    for seed in 0..20 {
        let mut req = RequestSpec::get("http://myapp/api/x");
        req.seed = seed;
        assert_eq!(route(&m, &req).unwrap(), explain(&m, &req).unwrap().route);
    }
}

#[test]
fn defaults_are_the_cli_defaults() {
    let req = spec(r#"{"url": "http://myapp/"}"#);
    assert_eq!(req, RequestSpec::get("http://myapp/"));
    let e = explain(&myapp(), &req).unwrap();
    assert_eq!(e.request.method, "GET");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["proxy"]["workload"], "default/client");
}

#[test]
fn headers_of_another_shape_say_what_is_expected() {
    let err = RequestSpec::from_json(r#"{"url": "http://myapp/", "headers": "x-version: v2"}"#)
        .unwrap_err();
    assert!(
        err.to_string().contains("list of [name, value] pairs"),
        "{err}"
    );
    let err =
        RequestSpec::from_json(r#"{"url": "http://myapp/", "headers": [["x"]]}"#).unwrap_err();
    assert!(err.starts_with("headers[0]: invalid length 1"), "{err}");
    let err = RequestSpec::from_json(r#"{"url": "http://myapp/", "seed": 1.5}"#).unwrap_err();
    assert!(
        err.starts_with("seed: invalid type: floating point"),
        "{err}"
    );
}

#[test]
fn trailing_text_is_rejected() {
    let err = RequestSpec::from_json(r#"{"url": "http://myapp/"} {}"#).unwrap_err();
    assert!(err.contains("trailing characters"), "{err}");
}

#[test]
fn misspelt_field_is_rejected() {
    let err = RequestSpec::from_json(r#"{"url": "http://myapp/", "header": {}}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `header`"), "{err}");
}

#[test]
fn bad_workload_and_lonely_port_are_typed_errors() {
    let m = myapp();
    for w in ["client", "/x", "ns/", "a/b/c"] {
        let mut req = RequestSpec::get("http://myapp/");
        req.workload = w.to_owned();
        assert_eq!(
            explain(&m, &req).unwrap_err(),
            RequestError::Workload(w.to_owned())
        );
    }
    let mut req = RequestSpec::get("http://myapp/");
    req.port = Some(80);
    assert_eq!(explain(&m, &req).unwrap_err(), RequestError::GatewayPort);
}

#[test]
fn unknown_gateway_and_bad_url_come_from_mesh_core() {
    let m = myapp();
    let mut req = RequestSpec::get("http://myapp/");
    req.gateway = Some("production/nope".to_owned());
    req.port = Some(80);
    assert!(matches!(
        explain(&m, &req),
        Err(RequestError::Explain(ExplainError::UnknownGateway {
            port: 80,
            ..
        }))
    ));
    let req = RequestSpec::get("/no-host");
    assert_eq!(
        explain(&m, &req).unwrap_err(),
        RequestError::Explain(ExplainError::NoHost)
    );
}

#[test]
fn directory_loads_and_bad_yaml_reports_line_and_column() {
    let (m, warnings) = mesh_from_path(&examples()).unwrap();
    assert!(warnings.iter().all(|w| !w.is_error()));
    assert!(route(&m, &RequestSpec::get("http://myapp/x")).is_ok());
    let err = mesh_from_yaml("kind: VirtualService\n  bad: [", "bad.yaml").unwrap_err();
    let json: serde_json::Value =
        serde_json::from_str(&diagnostics_json(&err.diagnostics)).unwrap();
    let d = &json[0];
    assert_eq!(
        (d["severity"].as_str(), d["file"].as_str()),
        (Some("error"), Some("bad.yaml"))
    );
    assert!(d["line"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["column"].as_u64().unwrap() >= 1, "{d}");
}

fn authz_mesh() -> Mesh {
    mesh_from_path(&examples().join("authorizationpolicy-myapp.yaml"))
        .unwrap()
        .0
}

fn authz_request(principal: &str, path: &str) -> RequestSpec {
    spec(&format!(
        r#"{{"url": "http://myapp.production{path}", "mtls": true,
            "source_principal": "{principal}",
            "destination_workload": "production/myapp", "destination_labels": {{"app": "myapp"}}}}"#
    ))
}

#[test]
fn authorize_allows_frontend_and_denies_others_with_403() {
    let m = authz_mesh();
    let p = compile_authz(&m);
    let ok = authorize(
        &m,
        &p,
        &authz_request("cluster.local/ns/production/sa/frontend", "/api/x"),
    )
    .unwrap();
    assert_eq!((ok.decision, ok.status), ("ALLOW", None));
    assert_eq!(ok.policy.as_deref(), Some("production/myapp-authz"));
    assert_eq!(ok.rule, Some(0));
    let no = authorize(
        &m,
        &p,
        &authz_request("cluster.local/ns/production/sa/other", "/api/x"),
    )
    .unwrap();
    assert_eq!((no.decision, no.status), ("DENY", Some(403)));
    assert!(!no.reason.is_empty());
    let health = authorize(&m, &p, &authz_request("cluster.local/ns/x/sa/y", "/health")).unwrap();
    assert_eq!((health.decision, health.rule), ("ALLOW", Some(1)));
    // The same verdict as the full document.
    let req = authz_request("cluster.local/ns/production/sa/other", "/api/x");
    assert_eq!(explain(&m, &req).unwrap().authz, Some(no));
}

#[test]
fn authorize_at_a_gateway_needs_a_destination() {
    let m = authz_mesh();
    let p = compile_authz(&m);
    let req = spec(r#"{"url": "http://myapp/", "gateway": "istio-system/gw", "port": 80}"#);
    assert!(authorize(&m, &p, &req).is_err());
}

#[test]
fn budget_allows_twenty_retries_per_hundred_requests() {
    let b = Budget::try_new(0.2, 0, 10.0).unwrap();
    for _ in 0..100 {
        b.deposit();
    }
    let allowed = (0..50).filter(|_| b.withdraw()).count();
    assert_eq!(allowed, 20);
    assert!(matches!(
        Budget::try_new(-1.0, 0, 10.0),
        Err(InvalidSettings::Budget(_))
    ));
    assert_eq!(
        Budget::try_new(0.2, 0, f64::NAN).unwrap_err(),
        InvalidSettings::TtlSeconds
    );
}

#[test]
fn detector_ejects_after_five_503s_and_returns_after_base_time() {
    let s = OutlierSpec::from_json(
        r#"{"hosts": ["a", "b"], "consecutive_5xx": 5, "interval": "1s",
            "base_ejection_time": "30s", "max_ejection_percent": 100}"#,
    )
    .unwrap();
    let mut d = Detector::try_new(s).unwrap();
    let fired: Vec<bool> = (0..5).map(|_| d.record("a", 503).unwrap()).collect();
    assert_eq!(fired, [false, false, false, false, true]);
    assert_eq!(d.ejected(), ["a"]);
    d.advance(29.0).unwrap();
    assert_eq!(d.ejected(), ["a"]);
    d.advance(2.0).unwrap();
    assert!(d.ejected().is_empty());
    assert_eq!(
        d.record("c", 503).unwrap_err(),
        InvalidSettings::UnknownHost("c".into())
    );
    assert!(OutlierSpec::from_json(r#"{"hosts": [], "interval": 5}"#).is_err());
}

#[test]
fn cached_sidecar_routes_decide_as_uncached_ones() {
    let m = myapp();
    let sidecars = Sidecars::default();
    for (url, headers) in [
        ("http://myapp/anything", r#"{"x-version": "v2"}"#),
        ("http://myapp/api/x", "{}"),
        ("http://myapp/orders", "{}"),
    ] {
        for seed in 0..20 {
            let req = spec(&format!(
                r#"{{"url": "{url}", "headers": {headers}, "workload": "production/frontend",
                    "labels": {{"app": "frontend"}}, "seed": {seed}}}"#
            ));
            assert_eq!(route_cached(&m, &sidecars, &req), route(&m, &req));
        }
    }
    // A workload that is not NS/NAME fails the same way.
    let bad = spec(r#"{"url": "http://myapp/", "workload": "frontend"}"#);
    assert_eq!(route_cached(&m, &sidecars, &bad), route(&m, &bad));
}

// --- outbound ---

const OUTBOUND: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: 8081}}
  - {address: "::1", ports: {http: 8082}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v1, authority: reviews.internal}
    headers: {request: {set: {x-mesh: "1"}}, response: {remove: [server]}}
    retries: {attempts: 1, retryOn: "5xx"}
    route: [{destination: {host: reviews.shop.svc.cluster.local}}]
"#;

fn outbound_call(clients: &Clients) -> OutboundCall {
    let client = clients.get("shop/web", &Default::default()).unwrap();
    let headers = [("accept".to_owned(), "*/*".to_owned())];
    match begin(
        &client,
        "GET",
        "http://reviews.shop.svc.cluster.local/api/x?q=1",
        &headers,
        Some(0),
    )
    .unwrap()
    {
        Step::Send(call) => call,
        Step::Respond { response, .. } => panic!("answered locally: {response:?}"),
    }
}

#[test]
fn outbound_attempts_go_to_the_endpoint_with_the_rewritten_target() {
    let (mesh, _) = mesh_from_yaml(OUTBOUND, "outbound.yaml").unwrap();
    let clients = Clients::new(std::sync::Arc::new(mesh), 1);
    let mut call = outbound_call(&clients);
    let first = call.url().to_owned();
    assert!(
        first == "http://127.0.0.1:8081/v1/x?q=1" || first == "http://[::1]:8082/v1/x?q=1",
        "{first}"
    );
    let headers = call.headers().to_vec();
    assert_eq!(
        headers[0],
        ("host".to_owned(), "reviews.internal".to_owned())
    );
    assert!(headers.contains(&("x-mesh".to_owned(), "1".to_owned())));
    assert!(headers.contains(&("accept".to_owned(), "*/*".to_owned())));
    // A 503 is retried (once) on the other endpoint: the URL follows it.
    assert!(matches!(
        call.finish(Some(503), None, None),
        Ok(After::Retry(_))
    ));
    assert_ne!(call.url(), first);
    assert_eq!(call.finish(Some(200), None, None), Ok(After::Done));
    let edited = call.edit_response(&[
        ("server".to_owned(), "x".to_owned()),
        ("content-type".to_owned(), "text/plain".to_owned()),
    ]);
    assert_eq!(
        edited,
        vec![("content-type".to_owned(), "text/plain".to_owned())]
    );
}

#[test]
fn outbound_bad_values_are_typed_errors() {
    let (mesh, _) = mesh_from_yaml(OUTBOUND, "outbound.yaml").unwrap();
    let clients = Clients::new(std::sync::Arc::new(mesh), 1);
    assert_eq!(
        clients.get("web", &Default::default()).unwrap_err(),
        OutboundError::Workload("web".into())
    );
    let client = clients.get("shop/web", &Default::default()).unwrap();
    let err = |method: &str, url: &str, h: &[(String, String)]| {
        begin(&client, method, url, h, None).unwrap_err()
    };
    assert!(matches!(
        err("G T", "http://a/", &[]),
        OutboundError::Method(_)
    ));
    assert!(matches!(
        err("GET", "/relative", &[]),
        OutboundError::Url(_)
    ));
    assert!(matches!(err("GET", "ftp://a/", &[]), OutboundError::Url(_)));
    let bad = [("bad header".to_owned(), "v".to_owned())];
    assert!(matches!(
        err("GET", "http://a/", &bad),
        OutboundError::Header(_)
    ));
    let mut call = outbound_call(&clients);
    assert!(matches!(
        call.finish(None, None, Some("boom")),
        Err(OutboundError::Outcome(_))
    ));
    assert!(matches!(
        call.finish(Some(700), None, None),
        Err(OutboundError::Outcome(_))
    ));
    assert_eq!(
        outcome(None, None, Some("connect-failure")),
        Ok(mesh_core::resilience::Outcome::ConnectFailure)
    );
}

#[test]
fn moving_the_request_builds_the_same_engine_request_and_errors() {
    let specs = [
        r#"{"url": "http://myapp/x", "headers": {"x-version": "v2", "a": "ü"},
            "workload": "production/frontend", "labels": {"app": "frontend"}, "seed": 7}"#,
        r#"{"url": "http://myapp/x", "method": "POST", "headers": [["a", "1"], ["a", "2"]],
            "source_principal": "cluster.local/ns/p/sa/f", "source_namespace": "p",
            "source_ip": "10.0.0.1", "mtls": true, "destination_workload": "production/myapp",
            "destination_labels": {"app": "myapp"}}"#,
        r#"{"url": "http://myapp/x", "gateway": "istio-system/gw", "port": 80}"#,
        r#"{"url": "http://myapp/x", "gateway": "istio-system/gw"}"#,
        r#"{"url": "http://myapp/x", "workload": "frontend"}"#,
        r#"{"url": "http://myapp/x", "destination_workload": "a/b/c"}"#,
    ];
    for text in specs {
        let s = spec(text);
        let copied = format!("{:?}", s.to_explain_request());
        assert_eq!(copied, format!("{:?}", s.into_explain_request()), "{text}");
    }
}

#[test]
fn owned_route_and_authorize_decide_as_the_borrowing_ones() {
    let (mesh, _) = mesh_from_path(&examples()).unwrap();
    let sidecars = Sidecars::default();
    let authz = compile_authz(&mesh);
    let requests = [
        r#"{"url": "http://myapp.production/api/users", "headers": {"x-version": "v2"},
            "workload": "production/frontend", "labels": {"app": "frontend"}}"#,
        r#"{"url": "http://myapp.production/api/x", "mtls": true,
            "source_principal": "cluster.local/ns/production/sa/frontend",
            "destination_workload": "production/myapp", "destination_labels": {"app": "myapp"}}"#,
        r#"{"url": "http://myapp.example.com/x", "gateway": "production/myapp-gateway", "port": 80}"#,
        r#"{"url": "http://myapp/", "workload": "nope"}"#,
    ];
    for text in requests {
        let s = spec(text);
        assert_eq!(
            route_owned(&mesh, &sidecars, s.clone()),
            route_cached(&mesh, &sidecars, &s),
            "{text}"
        );
        assert_eq!(
            authorize_owned(&mesh, &authz, s.clone()),
            authorize(&mesh, &authz, &s),
            "{text}"
        );
    }
}
