//! An in-process proxy on 127.0.0.1:0 in front of a tiny application, with certificates made
//! by `mesh_proxy::certs`, and clients that speak plaintext or mTLS as a given workload.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mesh_core::Mesh;
use mesh_proxy::bootstrap::Bootstrap;
use mesh_proxy::certs::DevCa;
use mesh_proxy::inbound::accept::Limits;
use mesh_proxy::metrics::Metrics;
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::tls::Identity;
use mesh_proxy::{Listeners, ProxyConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TD: &str = "cluster.local";

/// A running proxy and what the test needs to talk to it.
pub struct Running {
    pub inbound: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), mesh_proxy::RunError>>>,
}

/// A workload's certificate files.
pub struct Certs {
    dir: PathBuf,
    ca: DevCa,
}

/// The application: answers 200 with what it saw.
pub async fn app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let xfcc = req
                        .headers()
                        .get("x-forwarded-client-cert")
                        .map_or("false".to_owned(), |v| {
                            String::from_utf8_lossy(v.as_bytes()).into_owned()
                        });
                    let host = req
                        .headers()
                        .get(http::header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let body = format!(
                        "app saw {} {} host={host} xfcc={xfcc}",
                        req.method(),
                        req.uri()
                    );
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

// === impl Certs ===

impl Certs {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mesh-it-proxy-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = DevCa::new(TD).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
        Certs { dir, ca }
    }

    /// Writes `<ns>.<sa>.pem/.key` and returns the identity section of a bootstrap.
    pub fn issue(&self, ns_sa: &str) -> String {
        let c = self.ca.issue_workload(TD, ns_sa).unwrap();
        let stem = ns_sa.replace('/', ".");
        let cert = self.dir.join(format!("{stem}.pem"));
        let key = self.dir.join(format!("{stem}.key"));
        std::fs::write(&cert, c.cert_pem).unwrap();
        std::fs::write(&key, c.key_pem).unwrap();
        format!(
            "identity: {{cert: {}, key: {}, trustBundle: {}, trustDomain: {TD}}}\n",
            cert.display(),
            key.display(),
            self.dir.join("ca.pem").display()
        )
    }

    /// An mTLS client identity for `ns/sa`.
    pub fn client(&self, ns_sa: &str) -> Arc<rustls::ClientConfig> {
        self.client_trusting(self, ns_sa)
    }

    /// A client with a certificate from this CA that trusts `roots`' CA (so the handshake
    /// reaches the point where the server judges the client certificate).
    pub fn client_trusting(&self, roots: &Certs, ns_sa: &str) -> Arc<rustls::ClientConfig> {
        let section = self.issue(ns_sa).replace(
            &self.dir.join("ca.pem").display().to_string(),
            &roots.dir.join("ca.pem").display().to_string(),
        );
        let b = Bootstrap::from_str(
            "client.yaml",
            &format!(
                "workload: {{name: c, namespace: client, serviceAccount: client}}\n\
                 inbound: {{listen: \"127.0.0.1:1\", app: \"127.0.0.1:1\"}}\n{section}"
            ),
        )
        .unwrap();
        Identity::load(&b.identity, None)
            .unwrap()
            .client_config(None)
            .unwrap()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// === impl Running ===

impl Running {
    /// Starts a proxy for workload `ns/sa` with `labels`, serving `resources` (YAML text).
    pub async fn start(certs: &Certs, ns_sa: &str, labels: &str, resources: &str) -> Running {
        let (mesh, _) = Mesh::from_yaml("resources.yaml", resources).unwrap();
        Self::start_mesh(certs, ns_sa, labels, mesh, None, Limits::default()).await
    }

    pub async fn start_mesh(
        certs: &Certs,
        ns_sa: &str,
        labels: &str,
        mesh: Mesh,
        app_addr: Option<SocketAddr>,
        limits: Limits,
    ) -> Running {
        Self::start_full(certs, ns_sa, labels, mesh, app_addr, limits, None).await
    }

    /// Starts a proxy that also watches `source` for changes.
    pub async fn start_watching(
        certs: &Certs,
        ns_sa: &str,
        labels: &str,
        source: ConfigSource,
    ) -> Running {
        let mesh = source.load().unwrap();
        Self::start_full(
            certs,
            ns_sa,
            labels,
            mesh,
            None,
            Limits::default(),
            Some(source),
        )
        .await
    }

    async fn start_full(
        certs: &Certs,
        ns_sa: &str,
        labels: &str,
        mesh: Mesh,
        app_addr: Option<SocketAddr>,
        limits: Limits,
        source: Option<ConfigSource>,
    ) -> Running {
        let app = match app_addr {
            Some(a) => a,
            None => app().await,
        };
        let (ns, sa) = ns_sa.split_once('/').unwrap();
        let text = format!(
            "workload: {{name: {sa}-v1, namespace: {ns}, serviceAccount: {sa}, labels: {labels}}}\n\
             inbound: {{listen: \"127.0.0.1:0\", app: \"{app}\"}}\n{}",
            certs.issue(ns_sa)
        );
        let bootstrap = Bootstrap::from_str("bootstrap.yaml", &text).unwrap();
        let inbound = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (inbound_addr, admin_addr) =
            (inbound.local_addr().unwrap(), admin.local_addr().unwrap());
        let metrics = Metrics::new();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(mesh_proxy::run_with(
            Listeners {
                inbound,
                admin: Some(admin),
                outbound: None,
                gateways: Vec::new(),
            },
            ProxyConfig {
                limits,
                source,
                ..ProxyConfig::new(mesh, bootstrap)
            },
            metrics.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Running {
            inbound: inbound_addr,
            admin: admin_addr,
            metrics,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the proxy and waits for the drain to finish.
    pub async fn stop(mut self) -> Result<(), mesh_proxy::RunError> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    /// The sum of `istio_requests_total` series whose labels contain every fragment.
    pub fn requests(&self, fragments: &[&str]) -> u64 {
        series_sum(&self.metrics.encode(), "istio_requests_total{", fragments)
    }

    pub fn metric(&self, prefix: &str) -> u64 {
        series_sum(&self.metrics.encode(), prefix, &[])
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Waits until `check` holds: counters of connections the proxy closed are bumped by the
/// connection task, which the client cannot observe finishing.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !check() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("condition never became true");
}

pub fn series_sum(text: &str, prefix: &str, fragments: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix) && fragments.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// What a client got: status and body, or the transport error.
pub type Outcome = Result<(StatusCode, String), String>;

async fn exchange<I>(io: I, method: &str, path: &str, h2: bool) -> Outcome
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let req = Request::builder()
        .method(method)
        .uri(if h2 {
            format!("https://myapp.production.svc.cluster.local{path}")
        } else {
            path.to_owned()
        })
        .header(http::header::HOST, "myapp.production.svc.cluster.local")
        .header("x-forwarded-client-cert", "By=spiffe://forged")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let rsp = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(io),
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = req;
        req.headers_mut().remove(http::header::HOST);
        send.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        send.send_request(req).await.map_err(|e| e.to_string())?
    };
    let status = rsp.status();
    let body = rsp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One plaintext HTTP/1.1 request.
pub async fn plaintext(addr: SocketAddr, method: &str, path: &str) -> Outcome {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    exchange(stream, method, path, false).await
}

/// One plaintext HTTP/2 request with prior knowledge (h2c).
pub async fn plaintext_h2(addr: SocketAddr, method: &str, path: &str) -> Outcome {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    exchange(stream, method, path, true).await
}

/// One request over mTLS with `client`'s identity; ALPN picks h2 or HTTP/1.1.
pub async fn mtls(
    addr: SocketAddr,
    client: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
) -> Outcome {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("myapp.production.svc.cluster.local")
        .unwrap()
        .to_owned();
    let tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    exchange(tls, method, path, h2).await
}

/// GET on the admin port.
pub async fn admin(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    plaintext(addr, "GET", path).await.unwrap()
}
