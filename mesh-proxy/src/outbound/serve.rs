//! The outbound listener: local applications connect in plaintext and speak HTTP/1.1 or h2c
//! (hyper-util auto, with the inbound's limits). Each request runs on the snapshot current
//! when it arrives; connections are driven by [`crate::conn::drive`] (drain, idle timeout,
//! first request head deadline).

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::Outbound;
use crate::conn::{ConnError, Requests};
use crate::drain::DrainController;
use crate::inbound::accept::{Limits, http_builder};

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
            let drain = graceful.watcher();
            let http = http.clone();
            let outbound = outbound.clone();
            let requests = Requests::new(&limits);
            async move {
                let admit = requests.clone();
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (req, in_flight) = admit.admit(req);
                    let call = outbound.load().stack.clone().oneshot(req);
                    async move {
                        let rsp = call.await.map_err(ConnError)?;
                        Ok::<_, ConnError>(Requests::respond(rsp, in_flight))
                    }
                });
                let conn = http.serve_connection(TokioIo::new(stream), svc);
                crate::conn::drive(conn, requests, drain, limits, "outbound").await;
            }
        },
    )
    .await;
}
