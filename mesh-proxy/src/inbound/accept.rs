//! The inbound listener: accept, detect TLS by peeking, decide with the workload's
//! PeerAuthentication, terminate mTLS, then serve HTTP/1.1 and HTTP/2 (hyper-util auto) with
//! [`ConnectionFacts`] inserted into every request.
//!
//! Hardening (security.md §3): a cap on open connections; protocol detection and the TLS handshake have hard timeouts;
//! HTTP/1 has a header-read timeout, at most 100 headers and a 64 KiB head; HTTP/2 has at most
//! 100 concurrent streams, a 60 KiB header list, at most 20 pending-accept resets and 1024
//! local-error resets, and PING keep-alive. Because hyper's HTTP/2 server has no header-read
//! timeout, a connection of either protocol that completes no request head within the
//! header-read timeout is closed (later idle HTTP/2 streams are not bounded yet).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use mesh_core::security::conn::{ConnectionFacts, PeerIdentity};
use mesh_core::security::peer_authn::{MtlsMode, Transport};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::Inbound;
use super::forward::ClientCertDetails;
use crate::body::Body;
use crate::conn::{ConnError, Requests, detect_tls};
use crate::drain::{Drain, DrainController};
use crate::stack::HttpService;

/// Connection-level limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for the first byte (protocol detection).
    pub detect_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// HTTP/1 header-read timeout (also the idle keep-alive timeout).
    pub header_read_timeout: Duration,
    /// Open inbound connections at most; more are closed on accept (hyper has no limit).
    pub max_connections: usize,
    /// Request bodies larger than this many bytes are refused with 413, inbound and
    /// outbound: a declared `Content-Length` before anything is forwarded, a streamed body
    /// when it grows past the limit (the upstream request is aborted). `None` (the default):
    /// no limit, as in Envoy, which streams bodies through and only limits what a filter
    /// must buffer; the proxy never buffers a body it does not retry.
    pub max_request_body: Option<u64>,
    /// A connection with no request in flight for this long is shut down gracefully
    /// (GOAWAY on HTTP/2; hyper has no HTTP/2 idle timer). Istio's default: 1 h; `None`
    /// disables it (Istio's `0s`).
    pub idle_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            detect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_request_body: None,
            idle_timeout: Some(crate::idle::DEFAULT_IDLE_TIMEOUT),
        }
    }
}

impl Limits {
    /// The defaults with the bootstrap's optional `limits` section applied.
    pub fn from_bootstrap(bootstrap: &crate::bootstrap::Bootstrap) -> Self {
        let mut limits = Limits::default();
        if let Some(spec) = &bootstrap.limits {
            limits.max_request_body = spec.max_request_body_bytes.or(limits.max_request_body);
            if let Some(t) = spec.idle_timeout {
                limits.idle_timeout = Some(t.to_std()).filter(|t| !t.is_zero());
            }
        }
        limits
    }
}

/// What serving one snapshot needs; swapped whole on reload.
pub struct Serving {
    /// The inbound view of the snapshot.
    pub inbound: Inbound,
    /// The per-request stack built from it.
    pub stack: HttpService,
    /// The mTLS server configuration.
    pub tls: TlsAcceptor,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("inbound", &self.inbound)
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// Builds the stack for `inbound`.
    pub fn new(inbound: Inbound, tls: Arc<rustls::ServerConfig>) -> Self {
        Serving {
            stack: inbound.build(),
            inbound,
            tls: TlsAcceptor::from(tls),
        }
    }
}

/// The HTTP server settings shared by every connection.
pub fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(100)
        .max_buf_size(64 * 1024)
        .half_close(false);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .max_header_list_size(60 * 1024)
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(1024)
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20));
    b
}

/// Accepts connections until `shutdown` resolves; each connection is served on the snapshot
/// current when it was accepted and watched by `graceful` for drain.
pub async fn serve(
    listener: TcpListener,
    serving: Arc<ArcSwap<Serving>>,
    limits: Limits,
    graceful: &DrainController,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let http = Arc::new(http_builder(&limits));
    crate::listen::accept_loop(
        listener,
        "inbound",
        limits.max_connections,
        shutdown,
        || serving.load().inbound.metrics.refuse("connection_limit"),
        |stream, peer| {
            connection(
                stream,
                peer,
                serving.clone(),
                limits,
                http.clone(),
                graceful.watcher(),
            )
        },
    )
    .await;
}

/// One connection, from the first byte to the last response.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    snapshots: Arc<ArcSwap<Serving>>,
    limits: Limits,
    http: Arc<auto::Builder<TokioExecutor>>,
    watcher: Drain,
) {
    // The connection-level decision uses the snapshot current at accept; every request then
    // runs on the snapshot current when it arrives (a reload never fails a request).
    let serving = snapshots.load_full();
    let inbound = &serving.inbound;
    let metrics = &inbound.metrics;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let Some(is_tls) = detect_tls(&stream, &limits, metrics).await else {
        return;
    };
    let transport = if is_tls {
        Transport::Mtls
    } else {
        Transport::Plaintext
    };
    let decision = inbound.mtls.decide(inbound.port, transport);
    if !decision.accept {
        metrics.refuse(if is_tls {
            "tls_on_disable"
        } else {
            "plaintext_on_strict"
        });
        tracing::debug!(%peer, reason = %decision.reason, "connection refused");
        return;
    }
    let mut facts = ConnectionFacts::plaintext(peer.ip(), inbound.port);
    facts.destination_ip = local.map(|a| a.ip());
    if is_tls {
        let tls = match tokio::time::timeout(limits.handshake_timeout, serving.tls.accept(stream))
            .await
        {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                metrics.refuse("handshake");
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                metrics.refuse("handshake");
                return;
            }
        };
        let conn = tls.get_ref().1;
        let xfcc = match crate::tls::peer_identity(conn) {
            Ok(id) => {
                facts.peer = Some(PeerIdentity::from(&id));
                crate::tls::client_cert_details(&inbound.id, &id, conn).map(ClientCertDetails)
            }
            Err(e) => {
                metrics.refuse("handshake");
                tracing::debug!(%peer, error = %e, "peer certificate is not a usable SVID");
                return;
            }
        };
        facts.sni = conn.server_name().map(str::to_owned);
        serve_http(
            TokioIo::new(tls),
            facts,
            xfcc,
            snapshots.clone(),
            &http,
            watcher,
            limits,
        )
        .await;
    } else {
        if decision.mode == MtlsMode::Permissive {
            metrics.plaintext_accepted.inc();
        }
        serve_http(
            TokioIo::new(stream),
            facts,
            None,
            snapshots.clone(),
            &http,
            watcher,
            limits,
        )
        .await;
    }
}

async fn serve_http<I>(
    io: I,
    facts: ConnectionFacts,
    xfcc: Option<ClientCertDetails>,
    snapshots: Arc<ArcSwap<Serving>>,
    http: &auto::Builder<TokioExecutor>,
    drain: Drain,
    limits: Limits,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let requests = Requests::new(&limits);
    let svc = PerConnection {
        facts,
        xfcc,
        snapshots,
        requests: requests.clone(),
    };
    crate::conn::drive(
        http.serve_connection(io, svc),
        requests,
        drain,
        limits,
        "inbound",
    )
    .await;
}

/// The hyper service of one connection: inserts its facts into each request.
#[derive(Clone)]
struct PerConnection {
    facts: ConnectionFacts,
    xfcc: Option<ClientCertDetails>,
    snapshots: Arc<ArcSwap<Serving>>,
    requests: Requests,
}

impl hyper::service::Service<Request<Incoming>> for PerConnection {
    type Response = http::Response<Body>;
    type Error = ConnError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<http::Response<Body>, ConnError>> + Send>,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let (mut req, in_flight) = self.requests.admit(req);
        req.extensions_mut().insert(self.facts.clone());
        if let Some(xfcc) = &self.xfcc {
            req.extensions_mut().insert(xfcc.clone());
        }
        let fut = self.snapshots.load().stack.clone().oneshot(req);
        Box::pin(async move {
            let rsp = fut.await.map_err(ConnError)?;
            Ok(Requests::respond(rsp, in_flight))
        })
    }
}
