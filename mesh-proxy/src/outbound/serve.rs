//! The outbound listener: local applications connect in plaintext and speak HTTP/1.1 or h2c
//! (hyper-util auto, with the inbound's limits). Each request runs on the snapshot current
//! when it arrives; connections are watched for drain and closed after `Limits::idle_timeout`
//! with no request in flight.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::Outbound;
use crate::body::{Body, BodyLimit};
use crate::drain::DrainController;
use crate::idle::{IdleTracker, Tracked};
use crate::inbound::accept::{Limits, http_builder};

/// Why a request ended without a response; hyper closes the connection.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ConnError(crate::body::BoxError);

/// Accepts local connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    outbound: Arc<ArcSwap<Outbound>>,
    limits: Limits,
    graceful: &DrainController,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let http = Arc::new(http_builder(&limits));
    crate::listen::accept_loop(
        listener,
        "outbound",
        limits.max_connections,
        shutdown,
        || {},
        |stream, _peer| {
            let _ = stream.set_nodelay(true);
            let mut drain = graceful.watcher();
            let http = http.clone();
            let outbound = outbound.clone();
            let body_limit = limits.max_request_body.map(BodyLimit);
            let idle = IdleTracker::new();
            let tracker = idle.clone();
            async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let mut req = req.map(Body::new);
                    if let Some(limit) = body_limit {
                        req.extensions_mut().insert(limit);
                    }
                    let in_flight = tracker.start();
                    let call = outbound.load().stack.clone().oneshot(req);
                    async move {
                        let rsp = call.await.map_err(ConnError)?;
                        Ok::<_, ConnError>(rsp.map(|b| Body::new(Tracked::new(b, in_flight))))
                    }
                });
                let conn = http.serve_connection(TokioIo::new(stream), svc);
                tokio::pin!(conn);
                let mut draining = false;
                loop {
                    tokio::select! {
                        done = conn.as_mut() => {
                            if let Err(e) = done {
                                tracing::debug!(error = %e, "outbound connection ended with an error");
                            }
                            break;
                        }
                        () = drain.signaled(), if !draining => {
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        () = idle.idle_for(limits.idle_timeout.unwrap_or_default()),
                            if !draining && limits.idle_timeout.is_some() => {
                            tracing::debug!("outbound connection idle; closing");
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        },
    )
    .await;
}
