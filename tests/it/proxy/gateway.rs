//! The gateway path end to end with the shipped `gateway-myapp.yaml`, `virtualservice-myapp.yaml`
//! and `destinationrule-myapp.yaml`: port 80 redirects to https, port 443 terminates TLS with
//! the certificate of the Secret `myapp-tls-secret` (made here with rcgen for
//! myapp.example.com) and routes through the bound VirtualService to in-process upstreams a
//! runtime ServiceEntry points at.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mesh_core::{LoadOptions, Mesh, MeshConfig};
use mesh_proxy::bootstrap::Bootstrap;
use mesh_proxy::metrics::Metrics;
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::{GatewayListener, Listeners, ProxyConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::harness::{self, Certs};
use super::outbound::{Behaviour, Hits, hits_of, upstream};

const GATEWAY: &str = include_str!("../../../examples/resources/gateway-myapp.yaml");
const VS: &str = include_str!("../../../examples/resources/virtualservice-myapp.yaml");
const DR: &str = include_str!("../../../examples/resources/destinationrule-myapp.yaml");
const GW: &str = "production/myapp-gateway";
const HOST: &str = "myapp.example.com";

/// An external CA (not the mesh's) and a server certificate it issued for `HOST` (and
/// admin.example.com).
struct External {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_pem: String,
}

impl External {
    fn new() -> External {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "external test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let names = vec![HOST.to_owned(), "admin.example.com".to_owned()];
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        External {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            issuer,
            cert_pem: leaf.pem(),
            cert_der: leaf.der().clone(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate from this CA, as (cert PEM-less DER chain, key).
    fn client_identity(
        &self,
    ) -> (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["client.example.com".to_owned()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        (vec![cert.der().clone()], key)
    }

    /// A `kubernetes.io/tls` Secret in production: `data` in base64, with `ca.crt` when
    /// `with_ca`.
    fn secret(&self, name: &str, with_ca: bool) -> String {
        let ca = if with_ca {
            format!("  ca.crt: {}\n", base64(&self.ca_pem))
        } else {
            String::new()
        };
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: production}}\n\
             type: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n{ca}",
            base64(&self.cert_pem),
            base64(&self.key_pem)
        )
    }

    /// A TLS client trusting this CA, offering HTTP/1.1, with an optional certificate.
    fn client(&self, with_cert: bool) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut cfg = if with_cert {
            let (chain, key) = self.client_identity();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    }
}

/// Standard base64 with padding.
fn base64(text: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// myapp's registry: one v1 and one v2 endpoint on 127.0.0.1.
fn registry(v1: u16, v2: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: myapp, namespace: production}}\nspec:\n  \
         hosts: [myapp.production.svc.cluster.local]\n  location: MESH_INTERNAL\n  \
         resolution: STATIC\n  ports: [{{number: 80, name: http, protocol: HTTP}}]\n  endpoints:\n  \
         - {{address: 127.0.0.1, ports: {{http: {v1}}}, labels: {{app: myapp, version: v1}}}}\n  \
         - {{address: 127.0.0.1, ports: {{http: {v2}}}, labels: {{app: myapp, version: v2}}}}\n"
    )
}

/// The ingress gateway proxy, serving `ports` of `production/myapp-gateway`.
struct Ingress {
    addrs: Vec<(u16, SocketAddr)>,
    metrics: Arc<Metrics>,
    _stop: oneshot::Sender<()>,
}

impl Ingress {
    async fn start(certs: &Certs, resources: &str, ports: &[u16]) -> Ingress {
        let (mesh, _) = Mesh::from_yaml("resources.yaml", resources)
            .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
        Self::start_mesh(certs, mesh, None, ports).await
    }

    /// Starts on `mesh`, watching `source` when given.
    async fn start_mesh(
        certs: &Certs,
        mesh: Mesh,
        source: Option<ConfigSource>,
        ports: &[u16],
    ) -> Ingress {
        let mut gateways = Vec::new();
        let mut addrs = Vec::new();
        for port in ports {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addrs.push((*port, listener.local_addr().unwrap()));
            gateways.push(GatewayListener {
                gateway: GW.to_owned(),
                port: *port,
                listener,
            });
        }
        let metrics = Metrics::new();
        let (stop, stopped) = oneshot::channel::<()>();
        let run = mesh_proxy::run_with(
            Listeners {
                inbound: TcpListener::bind("127.0.0.1:0").await.unwrap(),
                admin: None,
                outbound: None,
                gateways,
            },
            ProxyConfig {
                outbound_seed: Some(7),
                source,
                ..ProxyConfig::new(mesh, bootstrap(certs, "").await)
            },
            metrics.clone(),
            async move {
                let _ = stopped.await;
            },
        );
        tokio::spawn(async move { run.await.expect("the gateway proxy starts") });
        Ingress {
            addrs,
            metrics,
            _stop: stop,
        }
    }

    fn addr(&self, port: u16) -> SocketAddr {
        self.addrs.iter().find(|(p, _)| *p == port).unwrap().1
    }
}

/// The ingress gateway's bootstrap: `istio-system/istio-ingressgateway`, plus `extra`.
async fn bootstrap(certs: &Certs, extra: &str) -> Bootstrap {
    let app = harness::app().await;
    let text = format!(
        "workload: {{name: istio-ingressgateway, namespace: istio-system, \
         serviceAccount: istio-ingressgateway, labels: {{istio: ingressgateway}}}}\n\
         inbound: {{listen: \"127.0.0.1:0\", app: \"{app}\"}}\n{extra}{}",
        certs.issue("istio-system/istio-ingressgateway")
    );
    Bootstrap::from_str("bootstrap.yaml", &text).unwrap()
}

/// One HTTP/1.1 request with `Host: host` over `io`.
async fn request<I>(io: I, host: &str, path: &str, headers: &[(&str, &str)]) -> harness::Outcome
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = Request::get(path).header(http::header::HOST, host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let rsp = send
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = rsp.status();
    let location = rsp
        .headers()
        .get(http::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    let body = rsp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok((
        status,
        location.map_or(body.clone(), |l| format!("{l} {body}")),
    ))
}

/// A TLS connection with `sni`; the server's leaf certificate beside it.
async fn tls(
    addr: SocketAddr,
    client: &Arc<rustls::ClientConfig>,
    sni: &str,
) -> Result<
    (
        tokio_rustls::client::TlsStream<TcpStream>,
        CertificateDer<'static>,
    ),
    String,
> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    Ok((tls, leaf))
}

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
async fn a_rotated_secret_is_presented_to_new_connections_after_reload() {
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
    std::fs::remove_dir_all(&dir).unwrap();
}
