//! One downstream HTTP connection once its transport is settled, the same on every listener
//! (inbound, outbound, gateway): each request is marked as seen, gets the listener's
//! [`BodyLimit`] and stays in flight until its response body ends ([`Requests`]); the
//! connection itself ([`drive`]) is shut down gracefully on drain or after
//! `Limits::idle_timeout` with nothing in flight, and closed outright when no request head
//! arrived within `Limits::header_read_timeout` (hyper times out HTTP/1 heads but not HTTP/2
//! HEADERS, security.md §3.1).

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::server::graceful::GracefulConnection;

use tokio::net::TcpStream;

use crate::body::{Body, BodyLimit, BoxError};
use crate::drain::Drain;
use crate::idle::{IdleTracker, InFlight, Tracked};
use crate::inbound::accept::Limits;
use crate::metrics::Metrics;

/// The first byte of a TLS record carrying a handshake (every TLS version we accept).
const TLS_HANDSHAKE: u8 = 0x16;

/// Client certificate details (Envoy's XFCC): only the proxy that verified a certificate may
/// assert them, so every listener drops the value a client sent.
pub(crate) const XFCC: &str = "x-forwarded-client-cert";

/// Why a request ended without a response; hyper closes the connection.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct ConnError(pub(crate) BoxError);

/// Peeks at the first byte within `limits.detect_timeout`: `Some(true)` for a TLS handshake,
/// `Some(false)` for anything else, `None` when there is nothing to serve (closed before a
/// byte, an error, or no byte in time, which is counted as `detect_timeout`: a silent peer never
/// falls through to a more privileged path).
pub(crate) async fn detect_tls(
    stream: &TcpStream,
    limits: &Limits,
    metrics: &Metrics,
) -> Option<bool> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.detect_timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) => Some(first[0] == TLS_HANDSHAKE),
        Ok(_) => None,
        Err(_) => {
            metrics.refuse("detect_timeout");
            None
        }
    }
}

/// The request bookkeeping of one connection; clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Requests {
    seen: Arc<AtomicBool>,
    idle: Arc<IdleTracker>,
    body_limit: Option<BodyLimit>,
}

impl Requests {
    /// A connection with no request yet.
    pub(crate) fn new(limits: &Limits) -> Self {
        Requests {
            seen: Arc::new(AtomicBool::new(false)),
            idle: IdleTracker::new(),
            body_limit: limits.max_request_body.map(BodyLimit),
        }
    }

    /// A request arrived: it carries the body limit and is in flight until the returned
    /// guard is dropped (see [`Requests::respond`]).
    pub(crate) fn admit(&self, req: Request<Incoming>) -> (Request<Body>, InFlight) {
        self.seen.store(true, Ordering::Release);
        let mut req = req.map(Body::new);
        if let Some(limit) = self.body_limit {
            req.extensions_mut().insert(limit);
        }
        (req, self.idle.start())
    }

    /// The response of an admitted request: in flight until its body ends or is dropped.
    pub(crate) fn respond(rsp: Response<Body>, in_flight: InFlight) -> Response<Body> {
        rsp.map(|b| Body::new(Tracked::new(b, in_flight)))
    }
}

/// Serves `conn` to its end, watching for drain, the idle timeout and the first request
/// head's deadline. `what` names the listener in logs.
///
/// The future is boxed: hyper's connection borrows its builder, and an `async fn` generic over
/// that lifetime defeats the compiler's `Send` inference at the `tokio::spawn` sites.
pub(crate) fn drive<'a, C>(
    conn: C,
    requests: Requests,
    drain: Drain,
    limits: Limits,
    what: &'static str,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>
where
    C: GracefulConnection + Send + 'a,
    C::Error: Display,
{
    Box::pin(serve(conn, requests, drain, limits, what))
}

async fn serve<C>(conn: C, requests: Requests, mut drain: Drain, limits: Limits, what: &'static str)
where
    C: GracefulConnection,
    C::Error: Display,
{
    tokio::pin!(conn);
    let deadline = tokio::time::sleep(limits.header_read_timeout);
    tokio::pin!(deadline);
    let (mut draining, mut checked) = (false, false);
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, listener = what, "connection ended with an error");
                }
                return;
            }
            () = drain.signaled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = requests.idle.idle_for(limits.idle_timeout.unwrap_or_default()),
                if !draining && limits.idle_timeout.is_some() => {
                tracing::debug!(listener = what, "connection idle; closing");
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = &mut deadline, if !checked => {
                checked = true;
                if !requests.seen.load(Ordering::Acquire) {
                    // A peer that sent no request head in time gets no graceful GOAWAY
                    // round trip (it may never answer the PING): the socket is closed.
                    tracing::debug!(listener = what, "no request head in time; closing");
                    return;
                }
            }
        }
    }
}
