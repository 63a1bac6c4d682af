//! Every shipped example loads, validates clean and takes the effect Istio, Linkerd or SMI
//! document for it.

use mesh_core::Severity;

use crate::support::{gateway, load, mesh, sidecar};

const ALL: [&str; 10] = [
    "authorizationpolicy-myapp",
    "destinationrule-circuit-breaker",
    "destinationrule-myapp",
    "gateway-myapp",
    "peerauthentication",
    "serviceprofile-myapp",
    "trafficsplit-canary",
    "virtualservice-fault",
    "virtualservice-mirror",
    "virtualservice-myapp",
];

#[test]
fn every_example_validates_clean_on_its_own() {
    for name in ALL {
        let l = load(&[name]);
        assert!(l.diagnostics.is_empty(), "{name}: {:#?}", l.diagnostics);
        assert!(!l.resources.is_empty(), "{name}");
    }
    assert_eq!(load(&["peerauthentication"]).resources.len(), 3);
}

#[test]
fn together_the_only_findings_are_the_shadowed_sidecar_hosts() {
    let (_, warnings) = mesh_core::Mesh::from_loaded(load(&ALL), Default::default()).unwrap();
    // Three VirtualServices claim `myapp`: at sidecars the oldest (first loaded) owns it.
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for w in &warnings {
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.path, "spec.hosts[0]");
        assert!(
            w.message
                .contains("older VirtualService production/myapp-fault"),
            "{}",
            w.message
        );
    }
}

#[test]
fn header_route_to_v2() {
    let m = mesh(&["virtualservice-myapp", "destinationrule-myapp"]);
    let e = sidecar(&m, "GET http://myapp/anything", &[("x-version", "v2")], 0);
    assert_eq!(e.route.virtual_service.as_deref(), Some("production/myapp"));
    assert_eq!(e.route.rule, Some(0));
    let picked = e.route.picked.unwrap();
    assert_eq!(
        (picked.host.as_str(), picked.subset.as_deref()),
        ("myapp.production.svc.cluster.local", Some("v2"))
    );
    let policy = e.destination_policy.unwrap();
    assert_eq!(policy.subset.unwrap().labels.unwrap()["version"], "v2");
    // v2 has no subset policy: the top-level LEAST_REQUEST applies.
    assert_eq!(policy.load_balancer["simple"], "LEAST_REQUEST");
}

#[test]
fn canary_90_10_on_api() {
    let m = mesh(&["virtualservice-myapp", "destinationrule-myapp"]);
    let e = sidecar(&m, "GET http://myapp.example.com/api/users?x=1", &[], 0);
    assert_eq!(e.route.rule, Some(1));
    let weights: Vec<_> = e
        .route
        .destinations
        .iter()
        .map(|d| (d.subset.clone().unwrap(), d.percent))
        .collect();
    assert_eq!(
        weights,
        vec![("v1".to_owned(), 90.0), ("v2".to_owned(), 10.0)]
    );
    let n = 5_000u64;
    let v2 = (0..n)
        .filter(|seed| {
            sidecar(&m, "GET http://myapp/api/x", &[], *seed)
                .route
                .picked
                .unwrap()
                .subset
                .as_deref()
                == Some("v2")
        })
        .count() as f64;
    let share = v2 / n as f64;
    assert!((share - 0.10).abs() < 0.02, "v2 share {share}");
}

#[test]
fn default_route_with_30s_timeout_and_3_retries() {
    let m = mesh(&["virtualservice-myapp", "destinationrule-myapp"]);
    let e = sidecar(&m, "POST http://myapp/orders", &[], 0);
    assert_eq!(e.route.rule, Some(2));
    assert_eq!(e.route.timeout_ms, Some(30_000));
    let r = e.route.retries.unwrap();
    assert_eq!(r.attempts, 3);
    assert_eq!(r.per_try_timeout_ms, Some(10_000));
    assert_eq!(
        r.retry_on,
        [
            "connect-failure",
            "refused-stream",
            "retriable-status-codes"
        ]
    );
    assert_eq!(r.retriable_status_codes, [503]);
    assert!(!r.default);
    // The v1 subset's own load balancer replaces the top-level one.
    let p = e.destination_policy.unwrap();
    assert_eq!(p.load_balancer["simple"], "ROUND_ROBIN");
    assert_eq!(p.connection_pool["max_connections"], 100);
    assert_eq!(p.connection_pool["connect_timeout_ms"], 5_000);
    assert_eq!(p.connection_pool["h2_upgrade"], true);
    assert_eq!(p.outlier_detection.unwrap()["max_ejection_percent"], 50);
}

#[test]
fn gateway_redirects_http_and_routes_https() {
    let m = mesh(&[
        "gateway-myapp",
        "virtualservice-myapp",
        "destinationrule-myapp",
    ]);
    let e = gateway(
        &m,
        "production/myapp-gateway",
        80,
        "GET http://myapp.example.com/api/x?y=1",
    );
    assert_eq!(e.route.action, "redirect");
    assert_eq!(
        e.route.redirect.unwrap().location,
        "https://myapp.example.com/api/x?y=1"
    );
    let e = gateway(
        &m,
        "production/myapp-gateway",
        443,
        "GET https://myapp.example.com/api/x",
    );
    assert_eq!((e.route.action, e.route.rule), ("route", Some(1)));
    // Hosts the gateway does not serve get 404.
    let e = gateway(
        &m,
        "production/myapp-gateway",
        443,
        "GET https://other.example.com/",
    );
    assert_eq!(e.route.action, "not_found");
}

#[test]
fn fault_injection_on_the_header() {
    let m = mesh(&["virtualservice-fault"]);
    let e = sidecar(&m, "GET http://myapp/x", &[("x-test-fault", "inject")], 0);
    let f = e.route.fault.unwrap();
    let d = f.delay.unwrap();
    assert_eq!((d.fixed_delay_ms, d.percentage), (5_000, 50.0));
    let a = f.abort.unwrap();
    assert_eq!((a.http_status, a.percentage), (Some(503), 10.0));
    let e = sidecar(&m, "GET http://myapp/x", &[], 0);
    assert_eq!(e.route.rule, Some(1));
    assert!(e.route.fault.is_none());
}

#[test]
fn mirror_to_v2_at_100_percent() {
    let m = mesh(&["virtualservice-mirror", "destinationrule-myapp"]);
    let e = sidecar(&m, "GET http://myapp/x", &[], 0);
    assert_eq!(e.route.picked.unwrap().subset.as_deref(), Some("v1"));
    let mirror = &e.route.mirror[0];
    assert_eq!(
        (
            mirror.host.as_str(),
            mirror.subset.as_deref(),
            mirror.percentage
        ),
        ("myapp.production.svc.cluster.local", Some("v2"), 100.0)
    );
}

#[test]
fn circuit_breaker_limits() {
    let m = mesh(&["destinationrule-circuit-breaker"]);
    let p = m.destination_policy(
        "myapp.production.svc.cluster.local",
        "production",
        None,
        None,
    );
    let c = &p.connection_pool;
    assert_eq!(
        (
            c.max_connections,
            c.http1_max_pending_requests,
            c.http2_max_requests,
            c.max_requests_per_connection
        ),
        (50, 100, 100, 10)
    );
    let o = p.outlier_detection.unwrap();
    assert_eq!(
        (
            o.consecutive_5xx,
            o.interval.as_millis(),
            o.base_ejection_time.as_millis()
        ),
        (3, 10_000, 30_000)
    );
    assert_eq!((o.max_ejection_percent, o.min_health_percent), (100, 0));
}

#[test]
fn service_profile_routes_timeouts_and_budget() {
    let m = mesh(&["serviceprofile-myapp"]);
    let e = sidecar(&m, "GET http://myapp/api/users", &[], 0);
    let p = e.profile.unwrap();
    assert_eq!(p.route.as_deref(), Some("GET /api/users"));
    assert_eq!((p.timeout_ms, p.retryable), (Some(5_000), false));
    assert_eq!(p.response_classes[0]["is_failure"], true);
    let e = sidecar(&m, "POST http://myapp/api/orders", &[], 0);
    let p = e.profile.unwrap();
    assert_eq!(
        (p.route.as_deref(), p.timeout_ms, p.retryable),
        (Some("POST /api/orders"), Some(10_000), true)
    );
    assert_eq!(p.retry_budget["retry_ratio"], 0.2);
    assert_eq!(p.retry_budget["min_retries_per_second"], 10);
    assert_eq!(p.retry_budget["ttl_ms"], 10_000);
    // Linkerd anchors the regex: /api/users/1 is not the GET /api/users route.
    let e = sidecar(&m, "GET http://myapp/api/users/1", &[], 0);
    assert_eq!(e.profile.unwrap().route, None);
}

#[test]
fn traffic_split_90_10() {
    let m = mesh(&["trafficsplit-canary"]);
    let e = sidecar(&m, "GET http://myapp/", &[], 0);
    let s = e.traffic_split.unwrap();
    assert_eq!(s.apex, "myapp.production.svc.cluster.local");
    let shares: Vec<_> = s
        .backends
        .iter()
        .map(|b| (b.service.as_str(), b.weight_milli, b.percent))
        .collect();
    assert_eq!(
        shares,
        vec![
            ("myapp-v1.production.svc.cluster.local", 900, 90.0),
            ("myapp-v2.production.svc.cluster.local", 100, 10.0)
        ]
    );
    let n = 5_000u64;
    let v2 = (0..n)
        .filter(|seed| {
            sidecar(&m, "GET http://myapp/", &[], *seed)
                .traffic_split
                .unwrap()
                .picked
                .starts_with("myapp-v2")
        })
        .count() as f64;
    assert!((v2 / n as f64 - 0.10).abs() < 0.02);
}

/// The README's main job runs to the end over the shipped examples (every step panics with the
/// request and the error if an engine refuses it).
#[test]
fn the_tour_runs_to_the_end() {
    crate::tour_example::tour();
}
