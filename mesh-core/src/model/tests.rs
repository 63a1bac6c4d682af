//! Gateway routing (spec §1.9), DestinationRule resolution (§3), ServiceProfile lookup (§9).

use crate::testutil::{doc, gateway_outcome, mesh, request};

use super::destination::{HashAlgorithm, HashKey, LoadBalancer, UNLIMITED};
use super::*;

const GW: &str = "selector: {istio: ingressgateway}\nservers:\n\
- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [\"*.example.com\"]\n\
- port: {number: 8080, name: http2, protocol: HTTP}\n  hosts: [\"prod/*\"]\n\
- port: {number: 8443, name: http3, protocol: HTTP}\n  hosts: [\"secure.example.com\"]\n  tls: {httpsRedirect: true}";

fn gw_vs(ns_name: &str, hosts: &str, http: &str) -> String {
    doc(
        "VirtualService",
        ns_name,
        &format!("hosts: {hosts}\ngateways: [ing/gw]\nhttp:\n{http}"),
    )
}

#[test]
fn gateways_merge_virtual_services_and_move_catch_alls_last() {
    let m = mesh(&[
        doc("Gateway", "ing/gw", GW),
        gw_vs(
            "prod/first",
            "[a.example.com]",
            "- route: [{destination: {host: a}}]",
        ),
        gw_vs(
            "prod/second",
            "[a.example.com]",
            "- match: [{uri: {prefix: /api}}]\n  route: [{destination: {host: b}}]",
        ),
    ]);
    let at = |url: &str| gateway_outcome(&m, "ing/gw", 80, &request(&format!("GET {url}"), &[]));
    assert_eq!(at("http://a.example.com/api/x"), "prod/second#0.0");
    assert_eq!(at("http://a.example.com/other"), "prod/first#0.-");
    // The server covers *.example.com, but no VirtualService host does: 404.
    assert_eq!(at("http://b.example.com/"), "404");
    assert_eq!(at("http://a.other.org/"), "404");
}

#[test]
fn the_gateway_host_is_the_intersection_and_namespaces_filter() {
    let m = mesh(&[
        doc("Gateway", "ing/gw", GW),
        gw_vs(
            "prod/wild",
            "[\"*.example.com\"]",
            "- route: [{destination: {host: a}}]",
        ),
        gw_vs(
            "dev/devapp",
            "[dev.example.com]",
            "- route: [{destination: {host: a}}]",
        ),
    ]);
    let at =
        |port, url: &str| gateway_outcome(&m, "ing/gw", port, &request(&format!("GET {url}"), &[]));
    assert_eq!(at(80, "http://x.example.com/"), "prod/wild#0.-");
    assert_eq!(at(80, "http://dev.example.com/"), "dev/devapp#0.-");
    // Port 8080 admits only VirtualServices from namespace prod.
    assert_eq!(at(8080, "http://dev.example.com:8080/"), "prod/wild#0.-");
    assert_eq!(at(9999, "http://x.example.com/"), "no-listener");
}

#[test]
fn https_redirect_answers_301_for_the_server_hosts() {
    let m = mesh(&[doc("Gateway", "ing/gw", GW)]);
    let req = request("GET http://secure.example.com:8443/p", &[]);
    assert_eq!(gateway_outcome(&m, "ing/gw", 8443, &req), "301");
}

fn dr(ns_name: &str, spec: &str) -> String {
    doc("DestinationRule", ns_name, spec)
}

#[test]
fn destination_rule_lookup_path_client_then_service_then_root() {
    let docs = [
        dr(
            "istio-system/root",
            "host: \"*.svc.cluster.local\"\ntrafficPolicy: {loadBalancer: {simple: RANDOM}}",
        ),
        dr(
            "prod/svc",
            "host: reviews\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}",
        ),
        dr(
            "client/mine",
            "host: reviews.prod.svc.cluster.local\ntrafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}",
        ),
    ];
    let m = mesh(&docs);
    let host = "reviews.prod.svc.cluster.local";
    assert_eq!(
        m.destination_policy(host, "client", None, None)
            .load_balancer,
        LoadBalancer::Passthrough
    );
    assert_eq!(
        m.destination_policy(host, "other", None, None)
            .load_balancer,
        LoadBalancer::RoundRobin
    );
    let p = m.destination_policy("ratings.prod.svc.cluster.local", "other", None, None);
    assert_eq!(p.load_balancer, LoadBalancer::Random);
    assert_eq!(p.destination_rules, vec!["istio-system/root".to_owned()]);
}

#[test]
fn exact_host_beats_wildcard_in_the_same_namespace() {
    let m = mesh(&[
        dr(
            "prod/wild",
            "host: \"*.prod.svc.cluster.local\"\ntrafficPolicy: {loadBalancer: {simple: RANDOM}}",
        ),
        dr(
            "prod/exact",
            "host: reviews\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}",
        ),
    ]);
    let p = m.destination_policy("reviews.prod.svc.cluster.local", "prod", None, None);
    assert_eq!(p.load_balancer, LoadBalancer::RoundRobin);
}

#[test]
fn defaults_without_a_destination_rule() {
    let m = mesh(&[]);
    let p = m.destination_policy("x.y.svc.cluster.local", "a", None, None);
    assert_eq!(p.load_balancer, LoadBalancer::LeastRequest);
    assert_eq!(p.connection_pool.max_connections, UNLIMITED);
    assert_eq!(p.connection_pool.http2_max_requests, UNLIMITED);
    assert_eq!(p.connection_pool.max_retries, UNLIMITED);
    assert_eq!(p.connection_pool.connect_timeout.as_millis(), 10_000);
    assert!(p.outlier_detection.is_none());
}

#[test]
fn subset_components_replace_inherited_ones_whole() {
    let m = mesh(&[dr(
        "prod/r",
        "host: reviews\ntrafficPolicy:\n  connectionPool:\n    tcp: {maxConnections: 7}\n    http: {http2MaxRequests: 9}\n  outlierDetection: {consecutive5xxErrors: 2}\nsubsets:\n- name: v1\n  labels: {version: v1}\n  trafficPolicy:\n    connectionPool:\n      http: {http1MaxPendingRequests: 3}\n- name: v2\n  labels: {version: v2}",
    )]);
    let host = "reviews.prod.svc.cluster.local";
    let v1 = m.destination_policy(host, "prod", Some("v1"), None);
    // The subset's connectionPool (http only) erases the inherited tcp and http settings.
    assert_eq!(v1.connection_pool.max_connections, UNLIMITED);
    assert_eq!(v1.connection_pool.http2_max_requests, UNLIMITED);
    assert_eq!(v1.connection_pool.http1_max_pending_requests, 3);
    // Components the subset leaves unset are inherited.
    assert_eq!(
        v1.outlier_detection.as_ref().map(|o| o.consecutive_5xx),
        Some(2)
    );
    let v2 = m.destination_policy(host, "prod", Some("v2"), None);
    assert_eq!(v2.connection_pool.max_connections, 7);
    let missing = m.destination_policy(host, "prod", Some("v9"), None);
    assert_eq!(
        missing.subset.and_then(|s| s.labels),
        None,
        "undefined subset: 503 NC"
    );
}

#[test]
fn port_level_settings_replace_and_fall_back_to_defaults() {
    let m = mesh(&[dr(
        "prod/r",
        "host: reviews\ntrafficPolicy:\n  loadBalancer: {simple: RANDOM}\n  connectionPool: {tcp: {maxConnections: 5}}\n  portLevelSettings:\n  - port: {number: 9080}\n    connectionPool: {tcp: {maxConnections: 50}}",
    )]);
    let host = "reviews.prod.svc.cluster.local";
    let p = m.destination_policy(host, "prod", None, Some(9080));
    assert_eq!(p.connection_pool.max_connections, 50);
    // The port-level entry replaced the load balancer too: the default, not the top-level RANDOM.
    assert_eq!(p.load_balancer, LoadBalancer::LeastRequest);
    let other = m.destination_policy(host, "prod", None, Some(80));
    assert_eq!(other.load_balancer, LoadBalancer::Random);
    assert_eq!(other.connection_pool.max_connections, 5);
}

#[test]
fn destination_rules_for_one_host_merge_first_wins() {
    let m = mesh(&[
        dr(
            "prod/a",
            "host: reviews\ntrafficPolicy: {loadBalancer: {simple: RANDOM}}\nsubsets:\n- {name: v1, labels: {version: v1}}",
        ),
        dr(
            "prod/b",
            "host: reviews\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\nsubsets:\n- {name: v1, labels: {version: other}}\n- {name: v2, labels: {version: v2}}",
        ),
    ]);
    let host = "reviews.prod.svc.cluster.local";
    let p = m.destination_policy(host, "prod", Some("v1"), None);
    assert_eq!(p.load_balancer, LoadBalancer::Random);
    assert_eq!(
        p.destination_rules,
        vec!["prod/a".to_owned(), "prod/b".to_owned()]
    );
    assert_eq!(p.subset.unwrap().labels.unwrap()["version"], "v1");
    let p = m.destination_policy(host, "prod", Some("v2"), None);
    assert_eq!(p.subset.unwrap().labels.unwrap()["version"], "v2");
}

#[test]
fn consistent_hash_and_outlier_translation() {
    let m = mesh(&[dr(
        "prod/r",
        "host: reviews\ntrafficPolicy:\n  loadBalancer:\n    consistentHash: {httpHeaderName: X-User}\n  outlierDetection: {consecutiveGatewayErrors: 4, baseEjectionTime: 60s}",
    )]);
    let p = m.destination_policy("reviews.prod.svc.cluster.local", "prod", None, None);
    match p.load_balancer {
        LoadBalancer::ConsistentHash(h) => {
            assert_eq!(h.key, HashKey::Header("x-user".into()));
            assert_eq!(
                h.algorithm,
                HashAlgorithm::RingHash {
                    minimum_ring_size: 1024
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let o = p.outlier_detection.unwrap();
    // Istio leaves consecutive_5xx at Envoy's default 5 when only gateway errors are set.
    assert_eq!(o.consecutive_5xx, 5);
    assert_eq!(o.consecutive_gateway_errors, 4);
    assert_eq!(o.max_ejection_percent, 10);
    assert_eq!(o.min_health_percent, 0);
    assert_eq!(o.interval.as_millis(), 10_000);
    assert_eq!(o.max_ejection_time.as_millis(), 300_000);
}

#[test]
fn service_profile_in_the_client_namespace_wins() {
    let sp = |ns: &str, route: &str| {
        doc(
            "ServiceProfile",
            &format!("{ns}/web.prod.svc.cluster.local"),
            &format!("routes:\n- name: {route}\n  condition: {{pathRegex: /x}}"),
        )
    };
    let m = mesh(&[sp("prod", "server-side"), sp("client", "client-side")]);
    let host = "web.prod.svc.cluster.local";
    let p = m.profile(host, "client").unwrap();
    assert_eq!(
        p.route("GET", "/x").map(|r| r.name.as_str()),
        Some("client-side")
    );
    let p = m.profile(host, "elsewhere").unwrap();
    assert_eq!(
        p.route("GET", "/x").map(|r| r.name.as_str()),
        Some("server-side")
    );
    assert!(
        p.route("GET", "/y").is_none(),
        "no match: the default route"
    );
}

#[test]
fn traffic_split_quantities_and_the_apex_fallback() {
    let ts = |name: &str, backends: &str| {
        doc(
            "TrafficSplit",
            &format!("prod/{name}"),
            &format!("service: {name}\nbackends:\n{backends}"),
        )
    };
    let m = mesh(&[
        ts(
            "web",
            "- {service: web-v1, weight: 900m}\n- {service: web-v2, weight: 100m}",
        ),
        ts(
            "api",
            "- {service: api-v1, weight: 0}\n- {service: api-v2, weight: 0}",
        ),
        ts(
            "odd",
            "- {service: a, weight: 10m}\n- {service: b, weight: 100m}\n- {service: c, weight: 1500m}",
        ),
    ]);
    let web = m.traffic_split("web.prod.svc.cluster.local").unwrap();
    assert_eq!(
        web.backends[0],
        ("web-v1.prod.svc.cluster.local".to_owned(), 900)
    );
    let set = web.set.as_ref().unwrap();
    assert_eq!(set.share_permille(0), 900);
    // Linkerd: no positive weight left -> the apex service itself.
    assert!(
        m.traffic_split("api.prod.svc.cluster.local")
            .unwrap()
            .set
            .is_none()
    );
    let odd = m
        .traffic_split("odd.prod.svc.cluster.local")
        .unwrap()
        .set
        .as_ref()
        .unwrap();
    assert_eq!(odd.total(), 1610);
}

#[test]
fn routes_to_undefined_subsets_and_gateways_are_reported() {
    let (_, warnings) = Mesh::from_yaml(
        "t.yaml",
        &doc(
            "VirtualService",
            "prod/r",
            "hosts: [svc]\ngateways: [mesh, missing-gw]\nhttp:\n- route:\n  - destination: {host: svc, subset: v9}",
        ),
    )
    .unwrap();
    let msgs: Vec<_> = warnings
        .iter()
        .map(|d| (d.path.as_str(), d.line, d.message.as_str()))
        .collect();
    assert!(
        msgs.iter().any(|(p, l, m)| *p == "spec.gateways[1]"
            && *l == 8
            && m.contains("not among the loaded")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|(p, _, m)| *p == "spec.http[0].route[0].destination.subset" && m.contains("503")),
        "{msgs:?}"
    );
}

#[test]
fn traffic_split_route_groups_fail_closed() {
    let text = "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web, namespace: prod}\nspec:\n  service: web\n  backends:\n  - {service: web-v1, weight: 1}\n  matches:\n  - {kind: HTTPRouteGroup, name: canary-routes}\n";
    let err = Mesh::from_yaml("t.yaml", text).unwrap_err();
    let d = err.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!((d.path.as_str(), d.line), ("spec.matches", 8));
    assert!(d.message.contains("not supported"));
}

#[test]
fn ignored_peer_authentications_are_warnings_at_load() {
    let docs = [
        doc("PeerAuthentication", "prod/first", "mtls: {mode: STRICT}"),
        doc("PeerAuthentication", "prod/second", "mtls: {mode: DISABLE}"),
        doc(
            "PeerAuthentication",
            "istio-system/scoped",
            "selector: {matchLabels: {app: a}}\nmtls: {mode: DISABLE}",
        ),
    ];
    let (_, warnings) = Mesh::from_yaml("pa.yaml", &docs.concat()).expect("valid");
    let found: Vec<_> = warnings
        .iter()
        .map(|d| {
            (
                d.resource.clone().unwrap_or_default(),
                d.path.clone(),
                d.line,
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "PeerAuthentication prod/second".into(),
            "metadata.name".into(),
            12
        )),
        "{found:?}"
    );
    assert!(
        warnings.iter().any(|d| d
            .message
            .contains("older namespace-wide PeerAuthentication prod/first")),
        "{warnings:?}"
    );
    // The root-namespace selector is reported once, by validation, where it is written.
    let scoped: Vec<_> = warnings
        .iter()
        .filter(|d| d.resource.as_deref() == Some("PeerAuthentication istio-system/scoped"))
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(scoped, ["spec.selector"]);
    assert!(
        !warnings
            .iter()
            .any(|d| d.resource.as_deref() == Some("PeerAuthentication prod/first"))
    );
}

#[test]
fn unenforceable_authorization_values_are_warnings_with_their_effect() {
    let policy = doc(
        "AuthorizationPolicy",
        "prod/deny-filter",
        "action: DENY\nrules:\n- when:\n  - key: experimental.envoy.filters.network.mysql_proxy[db.table]\n    values: [\"[update]\"]",
    );
    let (_, warnings) = Mesh::from_yaml("authz.yaml", &policy).expect("valid");
    let w = warnings
        .iter()
        .find(|d| d.resource.as_deref() == Some("AuthorizationPolicy prod/deny-filter"))
        .expect("a warning on the policy");
    assert!(w.path.starts_with("spec.rules[0].when[0]"), "{w:?}");
    assert!(w.message.contains("the condition is dropped"), "{w:?}");
}

#[test]
fn dns_resolution_without_endpoints_makes_the_host_its_endpoint() {
    let m = mesh(&[
        doc(
            "ServiceEntry",
            "shop/ext",
            "hosts: [api.example.com]\nresolution: DNS\nlocation: MESH_EXTERNAL\n\
             ports: [{number: 443, name: http, protocol: HTTP}]",
        ),
        doc(
            "ServiceEntry",
            "shop/named",
            "hosts: [db.example.com]\nresolution: DNS\n\
             ports: [{number: 80, name: http, protocol: HTTP}]\n\
             endpoints: [{address: db1.example.net, ports: {http: 8080}}]",
        ),
        doc(
            "ServiceEntry",
            "shop/static",
            "hosts: [s.example.com]\nresolution: STATIC\n\
             ports: [{number: 80, name: http, protocol: HTTP}]",
        ),
    ]);
    let svc = |h: &str| m.services().iter().find(|s| s.host == h).unwrap();
    let api = svc("api.example.com");
    assert_eq!(api.endpoints.len(), 1);
    assert_eq!(api.endpoints[0].address, "api.example.com");
    assert_eq!(api.endpoint_port(&api.endpoints[0], 443), 443);
    // Named endpoints are kept as given (resolved by the proxy when it connects).
    let db = svc("db.example.com");
    assert_eq!(
        db.endpoints
            .iter()
            .map(|e| e.address.as_str())
            .collect::<Vec<_>>(),
        ["db1.example.net"]
    );
    assert_eq!(db.endpoint_port(&db.endpoints[0], 80), 8080);
    // STATIC without endpoints has none.
    assert!(svc("s.example.com").endpoints.is_empty());
}
