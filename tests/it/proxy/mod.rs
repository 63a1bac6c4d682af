//! `mesh-proxy run` end to end: real sockets on 127.0.0.1 port 0, certificates from
//! `mesh_proxy::certs`, the shipped example resources, the proxy started in process.

mod gateway;
mod hardening;
mod harness;
mod outbound;
mod reload;
mod tracing;

use std::sync::Arc;

use http::StatusCode;
use mesh_proxy::inbound::accept::Limits;

use self::harness::{Certs, Running, admin, mtls, plaintext};

pub(super) const AUTHZ: &str =
    include_str!("../../../examples/resources/authorizationpolicy-myapp.yaml");
pub(super) const PEER_AUTHN: &str =
    include_str!("../../../examples/resources/peerauthentication.yaml");

fn resources(docs: &[&str]) -> String {
    docs.join("\n---\n")
}

fn http1_only(c: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    let mut c = (**c).clone();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_refuses_plaintext_and_serves_mtls_over_h1_and_h2() {
    let certs = Certs::new("strict");
    let frontend = certs.client("production/frontend");
    // The namespace-wide `default` policy of the example makes production STRICT.
    let proxy = Running::start(&certs, "production/myapp", "{app: myapp}", PEER_AUTHN).await;

    let refused = plaintext(proxy.inbound, "GET", "/api/x").await;
    assert!(refused.is_err(), "plaintext got an answer: {refused:?}");

    let (status, body) = mtls(proxy.inbound, &frontend, "GET", "/api/x")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("app saw GET /api/x"), "{body}");
    // Identity never comes from a header: the forged XFCC is replaced by the verified peer's
    // details (Envoy's SANITIZE_SET), as Istio's sidecar tells the application who called.
    let xfcc = body.split("xfcc=").nth(1).unwrap();
    assert!(!xfcc.contains("forged"), "{body}");
    assert!(
        xfcc.starts_with("By=spiffe://cluster.local/ns/production/sa/myapp;Hash="),
        "{body}"
    );
    assert!(
        xfcc.ends_with(";URI=spiffe://cluster.local/ns/production/sa/frontend"),
        "{body}"
    );
    let hash = xfcc.split(';').nth(1).unwrap().trim_start_matches("Hash=");
    assert_eq!(hash.len(), 64, "{body}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{body}");
    assert!(
        body.contains("host=myapp.production.svc.cluster.local"),
        "{body}"
    );

    let (status, body) = mtls(proxy.inbound, &http1_only(&frontend), "GET", "/api/y")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("app saw GET /api/y"), "{body}");

    assert_eq!(
        proxy.metric("mesh_inbound_connections_refused_total{reason=\"plaintext_on_strict\"}"),
        1
    );
    assert_eq!(proxy.metric("mesh_plaintext_connections_accepted_total"), 0);
    assert_eq!(
        proxy.requests(&[
            "source_principal=\"spiffe://cluster.local/ns/production/sa/frontend\"",
            "connection_security_policy=\"mutual_tls\"",
            "response_code=\"200\"",
        ]),
        2
    );
    proxy.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_accepts_plaintext_and_mtls_and_counts_plaintext() {
    let certs = Certs::new("permissive");
    let frontend = certs.client("production/frontend");
    // The example's `legacy-service` workload policy is PERMISSIVE.
    let proxy = Running::start(
        &certs,
        "production/legacy",
        "{app: legacy-service}",
        PEER_AUTHN,
    )
    .await;

    let (status, body) = plaintext(proxy.inbound, "GET", "/old").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("app saw GET /old"), "{body}");
    assert!(body.contains("xfcc=false"), "{body}");
    let (status, _) = mtls(proxy.inbound, &frontend, "GET", "/old").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    // h2c with prior knowledge is plaintext too.
    let (status, body) = harness::plaintext_h2(proxy.inbound, "GET", "/h2c")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("app saw GET /h2c"), "{body}");

    assert_eq!(proxy.metric("mesh_plaintext_connections_accepted_total"), 2);
    assert_eq!(
        proxy.requests(&[
            "source_principal=\"unknown\"",
            "connection_security_policy=\"none\""
        ]),
        2
    );
    assert_eq!(
        proxy.requests(&["connection_security_policy=\"mutual_tls\""]),
        1
    );
    proxy.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_refuses_tls() {
    let certs = Certs::new("disable");
    let frontend = certs.client("production/frontend");
    let pa = "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n\
              metadata: {name: default, namespace: production}\nspec: {mtls: {mode: DISABLE}}\n";
    let proxy = Running::start(&certs, "production/myapp", "{app: myapp}", pa).await;
    assert!(mtls(proxy.inbound, &frontend, "GET", "/").await.is_err());
    let (status, _) = plaintext(proxy.inbound, "GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        proxy.metric("mesh_inbound_connections_refused_total{reason=\"tls_on_disable\"}"),
        1
    );
    // DISABLE is not PERMISSIVE: plaintext here is not a migration signal.
    assert_eq!(proxy.metric("mesh_plaintext_connections_accepted_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_authorization_policy_takes_effect() {
    let certs = Certs::new("authz");
    let frontend = certs.client("production/frontend");
    let other = certs.client("production/other");
    let proxy = Running::start(
        &certs,
        "production/myapp",
        "{app: myapp, version: v1}",
        &resources(&[PEER_AUTHN, AUTHZ]),
    )
    .await;

    // frontend: allowed on GET /api/*
    let (status, body) = mtls(proxy.inbound, &frontend, "GET", "/api/x")
        .await
        .unwrap();
    assert_eq!(
        (status, body.starts_with("app saw GET /api/x")),
        (StatusCode::OK, true)
    );
    // another principal: denied as Istio does
    let (status, body) = mtls(proxy.inbound, &other, "GET", "/api/x").await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "RBAC: access denied");
    // /health: anyone (with mTLS, the namespace is STRICT)
    let (status, body) = mtls(proxy.inbound, &other, "GET", "/health").await.unwrap();
    assert_eq!(
        (status, body.starts_with("app saw GET /health")),
        (StatusCode::OK, true)
    );
    // implicit deny: an ALLOW policy applies and no rule matches DELETE
    let (status, _) = mtls(proxy.inbound, &frontend, "DELETE", "/api/x")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    // the judged path is the normalized path: /api/../admin is /admin, not /api/*
    let (status, _) = mtls(proxy.inbound, &frontend, "GET", "/api/../admin")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);

    let frontend_p = "source_principal=\"spiffe://cluster.local/ns/production/sa/frontend\"";
    let other_p = "source_principal=\"spiffe://cluster.local/ns/production/sa/other\"";
    assert_eq!(proxy.requests(&[frontend_p, "response_code=\"200\""]), 1);
    assert_eq!(proxy.requests(&[frontend_p, "response_code=\"403\""]), 2);
    assert_eq!(proxy.requests(&[other_p, "response_code=\"403\""]), 1);
    assert_eq!(proxy.requests(&[other_p, "response_code=\"200\""]), 1);
    assert_eq!(
        proxy.requests(&[
            "reporter=\"destination\"",
            "destination_workload=\"myapp-v1\"",
            "response_flags=\"-\""
        ]),
        5
    );

    // The admin port shows the same.
    let (status, text) = admin(proxy.admin, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        harness::series_sum(
            &text,
            "istio_requests_total{",
            &[other_p, "response_code=\"403\""]
        ),
        1
    );
    assert_eq!(admin(proxy.admin, "/healthz").await.0, StatusCode::OK);
    assert_eq!(admin(proxy.admin, "/ready").await.0, StatusCode::OK);
    let (status, dump) = admin(proxy.admin, "/config_dump").await;
    assert_eq!(status, StatusCode::OK);
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(dump["bootstrap"]["workload"]["labels"]["app"], "myapp");
    assert_eq!(dump["inbound"]["mtls"]["mode"], "STRICT");
    assert_eq!(
        dump["identity"],
        "spiffe://cluster.local/ns/production/sa/myapp"
    );
    let kinds: Vec<&str> = dump["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"AuthorizationPolicy"), "{kinds:?}");
    assert_eq!(admin(proxy.admin, "/nope").await.0, StatusCode::NOT_FOUND);
    proxy.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_app_is_503_uf() {
    let certs = Certs::new("uf");
    let frontend = certs.client("production/frontend");
    // A port nothing listens on: bind, note it, close.
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", PEER_AUTHN).unwrap();
    let proxy = Running::start_mesh(
        &certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        Some(dead),
        Limits::default(),
    )
    .await;
    let (status, _) = mtls(proxy.inbound, &frontend, "GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        proxy.requests(&["response_code=\"503\"", "response_flags=\"UF\""]),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_another_ca_is_refused_at_the_handshake() {
    let certs = Certs::new("ca1");
    let other_ca = Certs::new("ca2");
    let stranger = other_ca.client_trusting(&certs, "production/frontend");
    let proxy = Running::start(&certs, "production/myapp", "{app: myapp}", PEER_AUTHN).await;
    assert!(
        mtls(proxy.inbound, &stranger, "GET", "/api/x")
            .await
            .is_err()
    );
    harness::eventually(|| {
        proxy.metric("mesh_inbound_connections_refused_total{reason=\"handshake\"}") == 1
    })
    .await;
    assert_eq!(proxy.requests(&[]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_certificate_stops_the_proxy_from_starting() {
    let certs = Certs::new("mismatch");
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", PEER_AUTHN).unwrap();
    // The bootstrap says myapp, but the files hold frontend's certificate.
    let section = certs.issue("production/frontend");
    let text = format!(
        "workload: {{name: myapp-v1, namespace: production, serviceAccount: myapp}}\n\
         inbound: {{listen: \"127.0.0.1:0\", app: \"127.0.0.1:1\"}}\n{section}"
    );
    let bootstrap = mesh_proxy::bootstrap::Bootstrap::from_str("b.yaml", &text).unwrap();
    let inbound = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = mesh_proxy::run(
        mesh_proxy::Listeners {
            inbound,
            admin: None,
            outbound: None,
            gateways: Vec::new(),
        },
        mesh_proxy::ProxyConfig::new(mesh, bootstrap),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("frontend"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_level_mtls_applies_to_the_application_port() {
    let certs = Certs::new("portlevel");
    let app = harness::app().await;
    // Namespace STRICT, but the workload opens its application port to plaintext.
    let pa = format!(
        "{PEER_AUTHN}\n---\napiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n\
         metadata: {{name: myapp-port, namespace: production}}\n\
         spec:\n  selector: {{matchLabels: {{app: myapp}}}}\n  \
         portLevelMtls:\n    {}: {{mode: PERMISSIVE}}\n",
        app.port()
    );
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", &pa).unwrap();
    let proxy = Running::start_mesh(
        &certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        Some(app),
        Limits::default(),
    )
    .await;
    let (status, _) = plaintext(proxy.inbound, "GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(proxy.metric("mesh_plaintext_connections_accepted_total"), 1);
    let (status, dump) = admin(proxy.admin, "/config_dump").await;
    assert_eq!(status, StatusCode::OK);
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(dump["inbound"]["mtls"]["mode"], "STRICT");
    assert_eq!(
        dump["inbound"]["mtls"]["ports"][app.port().to_string()],
        "PERMISSIVE"
    );
}
