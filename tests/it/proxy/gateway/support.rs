//! Fixtures of the gateway tests: an external CA and the Secret it fills, the registry of
//! myapp's upstreams, the ingress proxy, and HTTP/1.1 clients over TCP or TLS.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mesh_core::Mesh;
use mesh_proxy::bootstrap::Bootstrap;
use mesh_proxy::metrics::Metrics;
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::{GatewayListener, Listeners, ProxyConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::proxy::harness::{self, Certs};

pub(super) const GATEWAY: &str = include_str!("../../../../examples/resources/gateway-myapp.yaml");
pub(super) const VS: &str =
    include_str!("../../../../examples/resources/virtualservice-myapp.yaml");
pub(super) const DR: &str =
    include_str!("../../../../examples/resources/destinationrule-myapp.yaml");
pub(super) const GW: &str = "production/myapp-gateway";
pub(super) const HOST: &str = "myapp.example.com";

/// An external CA (not the mesh's) and a server certificate it issued for `HOST` (and
/// admin.example.com).
pub(super) struct External {
    pub(super) ca_pem: String,
    pub(super) ca_der: CertificateDer<'static>,
    pub(super) issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub(super) cert_pem: String,
    pub(super) cert_der: CertificateDer<'static>,
    pub(super) key_pem: String,
}

impl External {
    pub(super) fn new() -> External {
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
    pub(super) fn client_identity(
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
    pub(super) fn secret(&self, name: &str, with_ca: bool) -> String {
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
    pub(super) fn client(&self, with_cert: bool) -> Arc<rustls::ClientConfig> {
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
pub(super) fn base64(text: &str) -> String {
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
pub(super) fn registry(v1: u16, v2: u16) -> String {
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
pub(super) struct Ingress {
    pub(super) addrs: Vec<(u16, SocketAddr)>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) _stop: oneshot::Sender<()>,
}

impl Ingress {
    pub(super) async fn start(certs: &Certs, resources: &str, ports: &[u16]) -> Ingress {
        let (mesh, _) = Mesh::from_yaml("resources.yaml", resources)
            .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
        Self::start_mesh(certs, mesh, None, ports).await
    }

    /// Starts on `mesh`, watching `source` when given.
    pub(super) async fn start_mesh(
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

    pub(super) fn addr(&self, port: u16) -> SocketAddr {
        self.addrs.iter().find(|(p, _)| *p == port).unwrap().1
    }
}

/// The ingress gateway's bootstrap: `istio-system/istio-ingressgateway`, plus `extra`.
pub(super) async fn bootstrap(certs: &Certs, extra: &str) -> Bootstrap {
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
pub(super) async fn request<I>(
    io: I,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> harness::Outcome
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
pub(super) async fn tls(
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
