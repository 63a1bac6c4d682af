//! The innermost inbound service: forwards to the local application over a pooled HTTP/1.1
//! client (hyper-util legacy client). Hop-by-hop headers are dropped both ways, and
//! `x-forwarded-client-cert` from the peer is removed (identity never comes from a header,
//! security.md §1.5); on an mTLS connection it is set to the verified peer's details
//! ([`ClientCertDetails`]), as Istio's sidecar tells the application who called. A connect or protocol failure becomes a typed [`UpstreamError`]. The
//! listener's [`BodyLimit`] is applied here: 413 for an over-limit `Content-Length` before
//! anything is sent, and for a streamed body that outgrows it (the request is aborted).

use std::net::SocketAddr;
use std::time::Duration;

use http::header;
use http::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::Inbound;
use crate::body::{Body, BodyLimit, BoxError, is_body_too_large, payload_too_large};
use crate::conn::XFCC;
use crate::hop::strip_hop_by_hop;
use crate::stack::Stack;

/// The local application could not be reached or broke the exchange (Envoy flag `UF`/`UC`).
#[derive(Debug, thiserror::Error)]
#[error("local application {app}: {source}")]
pub struct UpstreamError {
    /// The application's address.
    pub app: SocketAddr,
    /// The client's error.
    #[source]
    pub source: BoxError,
}

/// The `x-forwarded-client-cert` value of an mTLS connection (`By`, `Hash`, `URI`), a request
/// extension the acceptor inserts; the application receives it in place of whatever the peer
/// sent (Envoy's `SANITIZE_SET`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertDetails(pub http::HeaderValue);

/// Forwards requests to one local address.
#[derive(Clone, Debug)]
pub struct Forward {
    app: SocketAddr,
    client: Client<HttpConnector, Body>,
}

// === impl Forward ===

impl Forward {
    /// A pooled client to `app`.
    pub fn new(app: SocketAddr, connect_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Forward { app, client }
    }
}

impl tower::Service<Request<Body>> for Forward {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        // The pool opens connections on demand.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let req = match req.extensions().get::<BodyLimit>().copied() {
            Some(limit) => match limit.apply(req) {
                Ok(req) => req,
                Err(_) => return Box::pin(async move { Ok(payload_too_large()) }),
            },
            None => req,
        };
        let (mut parts, body) = req.into_parts();
        // h2 carries the authority in the URI; the application speaks HTTP/1.1 and needs Host.
        if !parts.headers.contains_key(header::HOST)
            && let Some(auth) = parts.uri.authority()
            && let Ok(v) = auth.as_str().parse()
        {
            parts.headers.insert(header::HOST, v);
        }
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(XFCC);
        if let Some(ClientCertDetails(v)) = parts.extensions.remove::<ClientCertDetails>() {
            parts.headers.insert(XFCC, v);
        }
        let pq = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let app = self.app;
        let uri = Uri::builder()
            .scheme("http")
            .authority(app.to_string())
            .path_and_query(pq)
            .build();
        let client = self.client.clone();
        Box::pin(async move {
            parts.uri = uri.map_err(|e| UpstreamError {
                app,
                source: e.into(),
            })?;
            parts.version = Version::HTTP_11;
            let rsp = match client.request(Request::from_parts(parts, body)).await {
                Ok(rsp) => rsp,
                // The body outgrew the limit mid-stream: the request to the application was
                // aborted; the peer is told why.
                Err(e) if is_body_too_large(&e) => return Ok(payload_too_large()),
                Err(e) => {
                    return Err(UpstreamError {
                        app,
                        source: e.into(),
                    }
                    .into());
                }
            };
            let (mut parts, body) = rsp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts.version = Version::default();
            Ok(Response::from_parts(parts, Body::new(body)))
        })
    }
}

impl Inbound {
    /// The innermost service: the pooled client to the local application.
    pub fn forward(&self) -> Stack<Forward> {
        Stack::new(Forward::new(self.app, self.connect_timeout))
    }
}
