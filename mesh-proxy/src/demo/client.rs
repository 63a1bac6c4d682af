//! The demo's HTTP client: what a local application sends to its sidecar's outbound listener
//! (plain HTTP/1.1, routed by `Host`), and what a client outside the mesh sends straight to
//! a sidecar's inbound port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A pooled plain-HTTP client.
#[derive(Clone, Debug)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

/// One request to send.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    /// The listener to connect to.
    pub via: SocketAddr,
    /// The `Host` header.
    pub host: &'a str,
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: &'a str,
    /// Extra headers.
    pub headers: &'a [(&'a str, &'a str)],
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body, as text (the demo's applications answer with their name).
    pub body: String,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
    /// Whether a circuit breaker refused it (`x-envoy-overloaded`).
    pub overloaded: bool,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// Why no answer came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failed {
    /// The connection or the exchange failed (e.g. closed by the server).
    Transport(String),
    /// No answer within the time allowed.
    TimedOut,
}

// === impl Client ===

impl Client {
    /// A client with connection reuse.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client {
            http: HyperClient::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }

    /// Sends `call`, waiting at most `timeout` for the whole answer.
    pub async fn send(&self, call: &Call<'_>, timeout: Duration) -> Result<Answer, Failed> {
        let mut req = Request::builder()
            .method(call.method.clone())
            .uri(format!("http://{}{}", call.via, call.path))
            .header(http::header::HOST, call.host);
        for (k, v) in call.headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::default())
            .map_err(|e| Failed::Transport(e.to_string()))?;
        let start = Instant::now();
        let exchange = async {
            let rsp = self
                .http
                .request(req)
                .await
                .map_err(|e| Failed::Transport(e.to_string()))?;
            answer(rsp, start).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Failed::TimedOut))
    }

    /// `GET path` to `via` for `host`.
    pub async fn get(
        &self,
        via: SocketAddr,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, Failed> {
        let call = Call {
            via,
            host,
            method: Method::GET,
            path,
            headers,
        };
        self.send(&call, Duration::from_secs(10)).await
    }
}

/// Reads a response.
async fn answer<B>(rsp: http::Response<B>, start: Instant) -> Result<Answer, Failed>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    let status = rsp.status();
    let overloaded = rsp.headers().contains_key("x-envoy-overloaded");
    let location = rsp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = rsp
        .into_body()
        .collect()
        .await
        .map_err(|e| Failed::Transport(e.to_string()))?
        .to_bytes();
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        elapsed: start.elapsed(),
        overloaded,
        location,
    })
}

/// `GET path` over TLS to `addr`, with SNI and `Host` `server_name`, trusting only
/// `root_pem`: an answer proves the server presented a certificate for `server_name` that
/// chains to `root_pem`.
pub async fn https_get(
    addr: SocketAddr,
    server_name: &str,
    root_pem: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, Failed> {
    use rustls_pki_types::pem::PemObject;
    let failed = |e: &dyn std::fmt::Display| Failed::Transport(e.to_string());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| failed(&e))?)
            .map_err(|e| failed(&e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| failed(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name =
        rustls_pki_types::ServerName::try_from(server_name.to_owned()).map_err(|e| failed(&e))?;
    let start = Instant::now();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| failed(&e))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| failed(&e))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| failed(&e))?;
        tokio::spawn(conn);
        let mut req = Request::get(path).header(http::header::HOST, server_name);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::<Bytes>::default()).map_err(|e| failed(&e))?;
        let rsp = send.send_request(req).await.map_err(|e| failed(&e))?;
        answer(rsp, start).await
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or(Err(Failed::TimedOut))
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Transport(e) => write!(f, "no answer ({e})"),
            Failed::TimedOut => f.write_str("no answer in time"),
        }
    }
}
