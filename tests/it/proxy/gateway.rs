//! The gateway path end to end with the shipped `gateway-myapp.yaml`, `virtualservice-myapp.yaml`
//! and `destinationrule-myapp.yaml`: port 80 redirects to https, port 443 terminates TLS with
//! the certificate of the Secret `myapp-tls-secret` (made here with rcgen for
//! myapp.example.com) and routes through the bound VirtualService to in-process upstreams a
//! runtime ServiceEntry points at.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use mesh_core::{LoadOptions, Mesh, MeshConfig};
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::{Listeners, ProxyConfig};
use tokio::net::{TcpListener, TcpStream};

use self::support::{
    DR, External, GATEWAY, GW, HOST, Ingress, VS, bootstrap, registry, request, tls,
};
use super::harness::{self, Certs};
use super::outbound::{Behaviour, Hits, hits_of, upstream};

mod support;

fn myapp(ext: &External, v1: u16, v2: u16) -> String {
    [
        GATEWAY,
        VS,
        DR,
        &registry(v1, v2),
        &ext.secret("myapp-tls-secret", false),
    ]
    .join("\n---\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_80_redirects_every_request_to_https() {
    let certs = Certs::new("gw-redirect");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &myapp(&ext, v1, v2), &[80, 443]).await;
    let stream = TcpStream::connect(gw.addr(80)).await.unwrap();
    let (status, location) = request(stream, HOST, "/api/items?page=2", &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert!(
        location.starts_with("https://myapp.example.com/api/items?page=2"),
        "{location}"
    );
    // The redirect is answered by the gateway: nothing reached the upstreams.
    assert_eq!(hits_of(&hits, "v1") + hits_of(&hits, "v2"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_443_presents_the_secret_certificate_and_routes_by_the_bound_virtual_service() {
    let certs = Certs::new("gw-simple");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &myapp(&ext, v1, v2), &[80, 443]).await;
    let client = ext.client(false);

    let (conn, leaf) = tls(gw.addr(443), &client, HOST).await.unwrap();
    assert_eq!(leaf, ext.cert_der, "the leaf is the Secret's tls.crt");
    let got = request(conn, HOST, "/", &[("x-version", "v2")]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v2".to_owned())));

    let (conn, _) = tls(gw.addr(443), &client, HOST).await.unwrap();
    let got = request(conn, HOST, "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
    assert_eq!((hits_of(&hits, "v1"), hits_of(&hits, "v2")), (1, 1));
    // Counted as the gateway's outgoing requests.
    let text = gw.metrics.encode();
    let ok = harness::series_sum(
        &text,
        "istio_requests_total{",
        &["reporter=\"source\"", "response_code=\"200\""],
    );
    assert_eq!(ok, 2, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sni_no_server_takes_is_refused_at_the_handshake() {
    let certs = Certs::new("gw-sni");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &myapp(&ext, v1, v1), &[443]).await;
    let refused = tls(gw.addr(443), &ext.client(false), "other.example.com").await;
    assert!(refused.is_err(), "handshake completed");
    harness::eventually(|| {
        harness::series_sum(
            &gw.metrics.encode(),
            "mesh_inbound_connections_refused_total{reason=\"gateway\"}",
            &[],
        ) == 1
    })
    .await;
    // Plaintext on the TLS port is refused too.
    let stream = TcpStream::connect(gw.addr(443)).await.unwrap();
    assert!(request(stream, HOST, "/", &[]).await.is_err());
    assert_eq!(hits_of(&hits, "v1"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_other_than_the_sni_server_is_421() {
    let certs = Certs::new("gw-421");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &myapp(&ext, v1, v1), &[443]).await;
    let (conn, _) = tls(gw.addr(443), &ext.client(false), HOST).await.unwrap();
    let (status, _) = request(conn, "admin.example.com", "/", &[]).await.unwrap();
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(hits_of(&hits, "v1"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_for_one_server_cannot_reach_another_servers_routes() {
    // security.md §1.2: admin.example.com has its own MUTUAL server and a bound route; a
    // SIMPLE connection opened for myapp.example.com must not reach it (Envoy issue 6767).
    let certs = Certs::new("gw-421-admin");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let admin_server = "  - port: {number: 443, name: https-admin, protocol: HTTPS}\n    \
                        hosts: [admin.example.com]\n    \
                        tls: {mode: MUTUAL, credentialName: myapp-tls-secret}\n";
    let admin_vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                    metadata: {name: admin, namespace: production}\nspec:\n  \
                    hosts: [admin.example.com]\n  gateways: [myapp-gateway]\n  \
                    http: [{route: [{destination: {host: myapp, subset: v1}}]}]\n";
    let resources = [
        format!("{GATEWAY}{admin_server}").as_str(),
        VS,
        DR,
        admin_vs,
        &registry(v1, v1),
        &ext.secret("myapp-tls-secret", true),
    ]
    .join("\n---\n");
    let gw = Ingress::start(&certs, &resources, &[443]).await;
    let (conn, _) = tls(gw.addr(443), &ext.client(false), HOST).await.unwrap();
    let (status, _) = request(conn, "admin.example.com", "/", &[]).await.unwrap();
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(hits_of(&hits, "v1"), 0);
    // With a client certificate and SNI admin.example.com, the route is reached.
    let (conn, _) = tls(gw.addr(443), &ext.client(true), "admin.example.com")
        .await
        .unwrap();
    let got = request(conn, "admin.example.com", "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
}

/// The example Gateway with its 443 server switched to MUTUAL.
fn mutual(ext: &External, v1: u16, secret_has_ca: bool) -> String {
    let gateway = GATEWAY.replace("mode: SIMPLE", "mode: MUTUAL");
    assert_ne!(gateway, GATEWAY);
    [
        gateway.as_str(),
        VS,
        DR,
        &registry(v1, v1),
        &ext.secret("myapp-tls-secret", secret_has_ca),
    ]
    .join("\n---\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_refuses_a_client_without_a_certificate_and_serves_one_with() {
    let certs = Certs::new("gw-mutual");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &mutual(&ext, v1, true), &[443]).await;
    // TLS 1.3: the client may finish its side before the server rejects the missing
    // certificate, so the refusal shows on the request at the latest.
    let anonymous = match tls(gw.addr(443), &ext.client(false), HOST).await {
        Ok((conn, _)) => request(conn, HOST, "/", &[]).await,
        Err(e) => Err(e),
    };
    assert!(
        anonymous.is_err(),
        "served without a client certificate: {anonymous:?}"
    );
    assert_eq!(hits_of(&hits, "v1"), 0);

    let (conn, _) = tls(gw.addr(443), &ext.client(true), HOST).await.unwrap();
    let got = request(conn, HOST, "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_secret_is_missing_is_not_served_and_the_others_are() {
    let certs = Certs::new("gw-missing");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    // No Secret at all: Istio keeps the gateway up and does not serve the 443 server.
    let resources = [GATEWAY, VS, DR, &registry(v1, v1)].join("\n---\n");
    let gw = Ingress::start(&certs, &resources, &[80, 443]).await;
    let refused = tls(gw.addr(443), &ext.client(false), HOST).await;
    assert!(
        refused.is_err(),
        "handshake completed without a certificate"
    );
    let stream = TcpStream::connect(gw.addr(80)).await.unwrap();
    let (status, _) = request(stream, HOST, "/", &[]).await.unwrap();
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_gateway_port_without_a_server_stops_the_proxy_from_starting() {
    let certs = Certs::new("gw-unknown");
    let (mesh, _) = Mesh::from_yaml("r.yaml", GATEWAY).unwrap();
    let extra = format!("gateways: [{{gateway: {GW}, ports: {{8443: \"127.0.0.1:0\"}}}}]\n");
    let err = mesh_proxy::run(
        Listeners {
            inbound: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            admin: None,
            outbound: None,
            gateways: Vec::new(),
        },
        ProxyConfig::new(mesh, bootstrap(&certs, &extra).await),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("production/myapp-gateway") && text.contains("8443"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_presented_after_reload_and_a_change_without_the_gateway_is_rejected() {
    let certs = Certs::new("gw-reload");
    let (old, new) = (External::new(), External::new());
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let dir = std::env::temp_dir().join(format!("mesh-it-gw-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = [GATEWAY, VS, DR, &registry(v1, v1)].join("\n---\n");
    std::fs::write(dir.join("base.yaml"), base).unwrap();
    std::fs::write(
        dir.join("secret.yaml"),
        old.secret("myapp-tls-secret", false),
    )
    .unwrap();
    let source = ConfigSource {
        paths: vec![dir.clone()],
        options: LoadOptions::default(),
        mesh_config: MeshConfig::default(),
    };
    let mesh = source.load().unwrap();
    let gw = Ingress::start_mesh(&certs, mesh, Some(source), &[443]).await;
    let (conn, leaf) = tls(gw.addr(443), &old.client(false), HOST).await.unwrap();
    assert_eq!(leaf, old.cert_der);
    // The connection opened before the rotation keeps working.
    let (mut send, driver) = hyper::client::conn::http1::handshake(TokioIo::new(conn))
        .await
        .unwrap();
    tokio::spawn(driver);

    let tmp = dir.with_extension("tmp");
    std::fs::write(&tmp, new.secret("myapp-tls-secret", false)).unwrap();
    std::fs::rename(&tmp, dir.join("secret.yaml")).unwrap();
    let applied = "mesh_config_reloads_total{result=\"applied\"}";
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while harness::series_sum(&gw.metrics.encode(), applied, &[]) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the proxy never reloaded");
    let (conn, leaf) = tls(gw.addr(443), &new.client(false), HOST).await.unwrap();
    assert_eq!(
        leaf, new.cert_der,
        "new handshakes present the rotated certificate"
    );
    let got = request(conn, HOST, "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
    let req = Request::get("/")
        .header(http::header::HOST, HOST)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let rsp = send.send_request(req).await.unwrap();
    assert_eq!(rsp.status(), StatusCode::OK);

    // A change that removes the Gateway cannot be served: rejected, the last good snapshot
    // keeps serving.
    std::fs::write(&tmp, [VS, DR, &registry(v1, v1)].join("\n---\n")).unwrap();
    std::fs::rename(&tmp, dir.join("base.yaml")).unwrap();
    let rejected = "mesh_config_reloads_total{result=\"rejected\"}";
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while harness::series_sum(&gw.metrics.encode(), rejected, &[]) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the change was never rejected");
    let (conn, leaf) = tls(gw.addr(443), &new.client(false), HOST).await.unwrap();
    assert_eq!(leaf, new.cert_der);
    let got = request(conn, HOST, "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_is_routed_by_its_authority() {
    let certs = Certs::new("gw-h2");
    let ext = External::new();
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let gw = Ingress::start(&certs, &myapp(&ext, v1, v2), &[443]).await;
    let mut h2 = (*ext.client(false)).clone();
    h2.alpn_protocols = vec![b"h2".to_vec()];
    let (conn, _) = tls(gw.addr(443), &Arc::new(h2), HOST).await.unwrap();
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, driver) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(conn),
    )
    .await
    .unwrap();
    tokio::spawn(driver);
    for (version, want) in [(Some("v2"), "v2"), (None, "v1")] {
        let mut req = Request::get(format!("https://{HOST}/"));
        if let Some(v) = version {
            req = req.header("x-version", v);
        }
        let rsp = send
            .send_request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(rsp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(rsp.into_body())
            .await
            .unwrap();
        assert_eq!(body.to_bytes(), want);
    }
    // Another authority on the same connection is misdirected.
    let req = Request::get("https://admin.example.com/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let rsp = send.send_request(req).await.unwrap();
    assert_eq!(rsp.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_details_from_outside_are_dropped() {
    let certs = Certs::new("gw-xfcc");
    let ext = External::new();
    // The harness application reports the Host it saw and whether XFCC reached it.
    let app = harness::app().await.port();
    let gw = Ingress::start(&certs, &myapp(&ext, app, app), &[443]).await;
    let (conn, _) = tls(gw.addr(443), &ext.client(false), HOST).await.unwrap();
    let forged = [(
        "x-forwarded-client-cert",
        "By=spiffe://cluster.local/ns/x/sa/admin",
    )];
    let (status, body) = request(conn, HOST, "/", &forged).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("host=myapp.example.com"), "{body}");
    assert!(body.contains("xfcc=false"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_mutual_presents_the_gateway_identity_and_requires_a_mesh_client() {
    let certs = Certs::new("gw-istio-mutual");
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let gateway = GATEWAY.replace(
        "mode: SIMPLE\n      credentialName: myapp-tls-secret",
        "mode: ISTIO_MUTUAL",
    );
    assert_ne!(gateway, GATEWAY);
    let resources = [gateway.as_str(), VS, DR, &registry(v1, v1)].join("\n---\n");
    let gw = Ingress::start(&certs, &resources, &[443]).await;
    // A mesh client verifies the gateway's SPIFFE identity and presents its own.
    let (conn, _) = tls(gw.addr(443), &certs.client("production/frontend"), HOST)
        .await
        .unwrap();
    let got = request(conn, HOST, "/", &[]).await;
    assert_eq!(got, Ok((StatusCode::OK, "v1".to_owned())));
    // A client of another CA is refused.
    let stranger = Certs::new("gw-istio-mutual-other").client_trusting(&certs, "x/y");
    let refused = match tls(gw.addr(443), &stranger, HOST).await {
        Ok((conn, _)) => request(conn, HOST, "/", &[]).await,
        Err(e) => Err(e),
    };
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(hits_of(&hits, "v1"), 1);
}
