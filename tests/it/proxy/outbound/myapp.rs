//! The shipped examples' `myapp` service (namespace `production`) behind the outbound path:
//! the example resources, ServiceEntries giving their hosts endpoints on 127.0.0.1, and
//! upstreams that record every request they saw and answer as told.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use super::App;

/// The FQDN the examples' short host `myapp` (namespace `production`) stands for.
pub(super) const MYAPP: &str = "myapp.production.svc.cluster.local";

pub(super) const FAULT: &str =
    include_str!("../../../../examples/resources/virtualservice-fault.yaml");
pub(super) const MIRROR: &str =
    include_str!("../../../../examples/resources/virtualservice-mirror.yaml");
pub(super) const DR_MYAPP: &str =
    include_str!("../../../../examples/resources/destinationrule-myapp.yaml");
pub(super) const CIRCUIT_BREAKER: &str =
    include_str!("../../../../examples/resources/destinationrule-circuit-breaker.yaml");
pub(super) const PROFILE: &str =
    include_str!("../../../../examples/resources/serviceprofile-myapp.yaml");
pub(super) const SPLIT: &str =
    include_str!("../../../../examples/resources/trafficsplit-canary.yaml");

/// `text` with `from` replaced by `to` once; panics when the shipped file no longer says
/// `from`, so a changed example is noticed rather than silently tested unchanged.
pub(super) fn patched(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the example no longer contains {from:?}"
    );
    text.replacen(from, to, 1)
}

/// A ServiceEntry making `<service>.production.svc.cluster.local` an in-mesh HTTP service on
/// port 80 with one 127.0.0.1 endpoint per (version, port).
pub(super) fn service_entry(service: &str, endpoints: &[(&str, u16)]) -> String {
    let eps: String = endpoints
        .iter()
        .map(|(v, p)| {
            format!(
                "  - {{address: 127.0.0.1, ports: {{http: {p}}}, labels: {{app: {service}, \
                 version: {v}}}}}\n"
            )
        })
        .collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: {service}, namespace: production}}\nspec:\n  \
         hosts: [{service}.production.svc.cluster.local]\n  location: MESH_INTERNAL\n  \
         resolution: STATIC\n  ports: [{{number: 80, name: http, protocol: HTTP}}]\n  \
         endpoints:\n{eps}"
    )
}

/// Joins resource documents into one YAML stream.
pub(super) fn docs(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

/// How an [`Upstream`] answers.
#[derive(Clone)]
pub(super) enum Reply {
    /// This status, with the upstream's name as the body.
    Status(StatusCode),
    /// Never answers.
    Hang,
    /// Answers 200 once the gate opens.
    Gated(watch::Receiver<bool>),
}

/// One request an upstream received.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    /// The `Host` header.
    pub(super) host: String,
    /// Method and path.
    pub(super) method: String,
    pub(super) path: String,
    /// When it arrived (tokio time).
    pub(super) at: Instant,
    /// Whether it came with `Transfer-Encoding: chunked`.
    pub(super) chunked: bool,
}

/// An upstream on 127.0.0.1:0.
pub(super) struct Upstream {
    pub(super) port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    bodies: Arc<Mutex<Vec<usize>>>,
}

impl Upstream {
    pub(super) async fn start(name: &'static str, reply: Reply) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let read = bodies.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, reply, bodies) = (log.clone(), reply.clone(), read.clone());
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let host = req
                        .headers()
                        .get(http::header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    log.lock().unwrap().push(Seen {
                        host,
                        method: req.method().to_string(),
                        path: req.uri().path().to_owned(),
                        at: Instant::now(),
                        chunked: req.headers().contains_key(http::header::TRANSFER_ENCODING),
                    });
                    let (reply, bodies) = (reply.clone(), bodies.clone());
                    async move {
                        // Read the whole request before answering, as most servers do.
                        if let Ok(body) = req.into_body().collect().await {
                            bodies.lock().unwrap().push(body.to_bytes().len());
                        }
                        let status = match reply {
                            Reply::Status(s) => s,
                            Reply::Hang => std::future::pending().await,
                            Reply::Gated(mut open) => {
                                let _ = open.wait_for(|o| *o).await;
                                StatusCode::OK
                            }
                        };
                        let mut rsp = Response::new(Full::new(Bytes::from(name)));
                        *rsp.status_mut() = status;
                        Ok::<_, std::convert::Infallible>(rsp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream { port, seen, bodies }
    }

    /// The sizes of the request bodies read to their end.
    pub(super) fn bodies(&self) -> Vec<usize> {
        self.bodies.lock().unwrap().clone()
    }

    /// Every request seen so far.
    pub(super) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests arrived.
    pub(super) fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// What the local application got back.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

/// Sends `method path` for `host` through the sidecar's outbound listener.
pub(super) async fn send(
    app: &App,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", app.outbound))
        .header(http::header::HOST, host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let rsp = app
        .client
        .request(req.body(Full::default()).unwrap())
        .await
        .unwrap();
    let (parts, body) = rsp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
