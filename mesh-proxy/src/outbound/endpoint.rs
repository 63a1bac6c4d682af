//! The endpoint services `MeshLayer` forwards to: one pooled hyper-util client per endpoint,
//! in plaintext, or over mTLS when the registry labels the endpoint
//! `security.istio.io/tlsMode: istio`. Over mTLS the upstream's certificate must be an SVID
//! for the endpoint's service account (`spiffe://<trust domain>/ns/<namespace>/sa/<account>`);
//! an endpoint without a service account accepts any identity the trust bundle vouches for.
//! Hostname endpoints (ServiceEntry `resolution: DNS`) are resolved when a connection opens,
//! through the [`DnsCache`](super::dns::DnsCache).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header;
use http::uri::{self, Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh_core::Mesh;
use mesh_core::layer::mesh::EndpointAddr;
use mesh_core::layer::retry::ReplayBody;
use mesh_core::security::identity::SpiffeId;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::dns::{DEFAULT_REFRESH, DnsCache};
use crate::body::{Body, BoxError, is_body_too_large, payload_too_large};
use crate::hop::strip_hop_by_hop;
use crate::tls::{Identity, TlsError};

/// The endpoint label that asks for mTLS (Istio's auto-mTLS signal).
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";

/// How one endpoint is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Plaintext,
    /// mTLS, verifying the server as `expected` (any identity the bundle vouches for when
    /// `None`).
    Mtls {
        /// The SPIFFE ID the upstream must present.
        expected: Option<SpiffeId>,
    },
}

/// The transport of every endpoint of the registry, by address and endpoint port.
pub fn transports(mesh: &Mesh, trust_domain: &str) -> HashMap<EndpointAddr, Transport> {
    let mut out = HashMap::new();
    for svc in mesh.services() {
        for port in &svc.ports {
            for e in &svc.endpoints {
                let addr = EndpointAddr {
                    address: e.address.clone(),
                    port: svc.endpoint_port(e, port.number),
                };
                let transport =
                    if e.labels.get(TLS_MODE_LABEL).map(String::as_str) == Some("istio") {
                        Transport::Mtls {
                            expected: e.service_account.as_deref().and_then(|sa| {
                                SpiffeId::new(trust_domain, &svc.namespace, sa).ok()
                            }),
                        }
                    } else {
                        Transport::Plaintext
                    };
                // An address listed as mTLS anywhere is reached over mTLS.
                let slot = out.entry(addr).or_insert(Transport::Plaintext);
                if transport != Transport::Plaintext {
                    *slot = transport;
                }
            }
        }
    }
    out
}

/// What the upstream was, as a response extension (for the metric labels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamPeer {
    /// The verified SPIFFE ID expected of the upstream, when reached over mTLS.
    pub principal: Option<crate::metrics::Label>,
    /// Whether the connection was mTLS.
    pub mtls: bool,
}

/// The upstream could not be reached or broke the exchange (Envoy flag `UF`).
#[derive(Debug, thiserror::Error)]
#[error("endpoint {endpoint}: {source}")]
pub struct EndpointError {
    /// `address:port`.
    pub endpoint: String,
    /// The client's error.
    #[source]
    pub source: BoxError,
}

/// Connects over TCP then TLS to one endpoint.
#[derive(Clone)]
pub struct MtlsConnector {
    host: String,
    port: u16,
    dns: DnsCache,
    tls: TlsConnector,
    connect_timeout: Duration,
}

/// An established mTLS connection.
pub struct TlsConn(TokioIo<TlsStream<TcpStream>>);

impl hyper::rt::Read for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Connection for TlsConn {
    fn connected(&self) -> Connected {
        let h2 = self.0.inner().get_ref().1.alpn_protocol() == Some(b"h2");
        if h2 {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl tower::Service<Uri> for MtlsConnector {
    type Response = TlsConn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsConn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.dns.resolve_port(&this.host, this.port).await?;
            let tcp = tokio::time::timeout(this.connect_timeout, TcpStream::connect(&addrs[..]))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            let _ = tcp.set_nodelay(true);
            // The verifier checks the SPIFFE ID, not this name; it only fills SNI.
            let name = ServerName::try_from(this.host.clone())?;
            let tls = this.tls.connect(name, tcp).await?;
            Ok(TlsConn(TokioIo::new(tls)))
        })
    }
}

enum Pooled {
    Plain(Client<HttpConnector<DnsCache>, ReplayBody<Body>>),
    Tls(Client<MtlsConnector, ReplayBody<Body>>),
}

/// The service of one endpoint: a pooled client bound to its address.
#[derive(Clone)]
pub struct Endpoint {
    authority: Arc<str>,
    /// `authority` parsed once, for request URIs (`None` if it is not a valid authority:
    /// every request then fails as `UF`).
    uri_authority: Option<Authority>,
    client: Arc<Pooled>,
    peer: UpstreamPeer,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("authority", &self.authority)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Builds endpoint services; cheap to clone.
#[derive(Clone)]
pub struct Connect {
    transports: Arc<HashMap<EndpointAddr, Transport>>,
    mtls: Arc<HashMap<Option<SpiffeId>, Arc<rustls::ClientConfig>>>,
    connect_timeout: Duration,
    dns: DnsCache,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("transports", &self.transports)
            .finish_non_exhaustive()
    }
}

// === impl Connect ===

impl Connect {
    /// The connector of `mesh`'s endpoints, with one client TLS configuration per expected
    /// upstream identity.
    pub fn new(
        mesh: &Mesh,
        identity: &Identity,
        connect_timeout: Duration,
    ) -> Result<Self, TlsError> {
        let transports = transports(mesh, identity.id.trust_domain());
        let mut mtls = HashMap::new();
        for t in transports.values() {
            if let Transport::Mtls { expected } = t
                && !mtls.contains_key(expected)
            {
                mtls.insert(expected.clone(), identity.client_config(expected.clone())?);
            }
        }
        Ok(Connect {
            transports: Arc::new(transports),
            mtls: Arc::new(mtls),
            connect_timeout,
            dns: DnsCache::new(DEFAULT_REFRESH),
        })
    }

    /// Resolves hostname endpoints through `dns` (its refresh interval, or a fake resolver).
    #[must_use]
    pub fn with_dns(mut self, dns: DnsCache) -> Self {
        self.dns = dns;
        self
    }

    /// The service for `addr`.
    pub fn endpoint(&self, addr: &EndpointAddr) -> Endpoint {
        let authority = addr.to_string();
        let transport = self.transports.get(addr).unwrap_or(&Transport::Plaintext);
        let tls = match transport {
            Transport::Mtls { expected } => self
                .mtls
                .get(expected)
                .map(|cfg| (expected.clone(), cfg.clone())),
            Transport::Plaintext => None,
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90));
        let (client, peer) = match tls {
            Some((expected, cfg)) => {
                let connector = MtlsConnector {
                    host: addr.address.clone(),
                    port: addr.port,
                    dns: self.dns.clone(),
                    tls: TlsConnector::from(cfg),
                    connect_timeout: self.connect_timeout,
                };
                let peer = UpstreamPeer {
                    principal: expected.map(|id| id.to_string().into()),
                    mtls: true,
                };
                (Pooled::Tls(builder.build(connector)), peer)
            }
            None => {
                // Hostname endpoints are resolved per connection through the cache.
                let mut connector = HttpConnector::new_with_resolver(self.dns.clone());
                connector.set_connect_timeout(Some(self.connect_timeout));
                connector.set_nodelay(true);
                let peer = UpstreamPeer {
                    principal: None,
                    mtls: false,
                };
                (Pooled::Plain(builder.build(connector)), peer)
            }
        };
        Endpoint {
            uri_authority: Authority::try_from(authority.as_str()).ok(),
            authority: authority.into(),
            client: Arc::new(client),
            peer,
        }
    }
}

// === impl Endpoint ===

impl tower::Service<Request<ReplayBody<Body>>> for Endpoint {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The pool opens connections on demand.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReplayBody<Body>>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        // The destination service name travels in Host (h2 clients put it in the URI).
        if !parts.headers.contains_key(header::HOST)
            && let Some(auth) = parts.uri.authority()
            && let Ok(v) = auth.as_str().parse()
        {
            parts.headers.insert(header::HOST, v);
        }
        strip_hop_by_hop(&mut parts.headers);
        // Plaintext: the URI names the endpoint (the connector dials it). mTLS: the connector
        // dials the endpoint whatever the URI says, so over h2 `:authority` keeps the service
        // name the upstream sidecar routes and authorizes on.
        let mut uri = uri::Parts::default();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = match &*self.client {
            Pooled::Tls(_) => parts
                .headers
                .get(header::HOST)
                .and_then(|h| Authority::try_from(h.as_bytes()).ok())
                .or_else(|| self.uri_authority.clone()),
            Pooled::Plain(_) => self.uri_authority.clone(),
        };
        uri.path_and_query = Some(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        let (client, peer, endpoint) = (
            self.client.clone(),
            self.peer.clone(),
            self.authority.clone(),
        );
        Box::pin(async move {
            let fail = |source: BoxError| EndpointError {
                endpoint: endpoint.to_string(),
                source,
            };
            parts.uri = Uri::from_parts(uri).map_err(|e| fail(e.into()))?;
            parts.version = Version::HTTP_11;
            let req = Request::from_parts(parts, body);
            let rsp = match &*client {
                Pooled::Plain(c) => c.request(req).await,
                Pooled::Tls(c) => c.request(req).await,
            };
            let rsp = match rsp {
                Ok(rsp) => rsp,
                // The request body outgrew the limit mid-stream: the upstream request was
                // aborted; the client is told why.
                Err(e) if is_body_too_large(&e) => {
                    tracing::debug!(%endpoint, "request body over the limit; aborted");
                    return Ok(payload_too_large());
                }
                Err(e) => return Err(fail(e.into()).into()),
            };
            let (mut parts, body) = rsp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts.version = Version::default();
            parts.extensions.insert(peer);
            Ok(Response::from_parts(parts, Body::new(body)))
        })
    }
}
