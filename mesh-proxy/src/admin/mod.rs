//! The admin port: `/healthz` (the process is up), `/ready` (the inbound listener is serving),
//! `/config_dump` (the effective snapshot as JSON: bootstrap, identity, resources, the composed
//! mTLS mode) and `/metrics` (OpenMetrics text). HTTP/1.1 only; GET and HEAD only.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::body::Body;
use crate::metrics::Metrics;

/// What the admin port shows.
#[derive(Debug)]
pub struct AdminState {
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The effective snapshot.
    pub config_dump: ArcSwap<serde_json::Value>,
    /// Set once the proxy serves traffic, cleared when it drains.
    pub ready: AtomicBool,
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut rsp = Response::new(Body::from(body));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    rsp
}

/// Answers one admin request.
pub fn handle<B>(state: &AdminState, req: &Request<B>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/ready" if state.ready.load(Ordering::Acquire) => {
            text(StatusCode::OK, "text/plain", "ready\n".into())
        }
        "/ready" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready\n".into(),
        ),
        "/config_dump" => {
            let dump = state.config_dump.load();
            let body = serde_json::to_string_pretty(&**dump).unwrap_or_default();
            text(StatusCode::OK, "application/json", body)
        }
        "/metrics" => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.encode(),
        ),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

/// Serves the admin port until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let rsp = handle(&state, &req);
                async move { Ok::<_, std::convert::Infallible>(rsp) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests;
