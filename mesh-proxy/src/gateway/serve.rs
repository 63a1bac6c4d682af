//! A gateway listener: accept, peek the first byte (TLS or plaintext), read the ClientHello's
//! SNI, let mesh-core's [`GatewayTls`](mesh_core::security::gateway_tls::GatewayTls) take or
//! refuse the connection, finish the handshake with the selected server's configuration, then
//! serve HTTP/1.1 and HTTP/2 (the inbound's hardened builder) with [`GatewayConnection`] in
//! every request. The connection decision uses the snapshot current at accept; each request
//! runs on the stack current when it arrives. Connections are watched for drain.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_core::security::gateway_tls::{Accepted, GatewayTransport};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::LazyConfigAcceptor;
use tower::ServiceExt;

use super::{GatewayConnection, GatewayPort};
use crate::conn::{ConnError, Requests, XFCC, detect_tls};
use crate::drain::{Drain, DrainController};
use crate::inbound::accept::{Limits, http_builder};

/// Accepts connections on one gateway listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    port: Arc<ArcSwap<GatewayPort>>,
    limits: Limits,
    graceful: &DrainController,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let http = Arc::new(http_builder(&limits));
    crate::listen::accept_loop(
        listener,
        "gateway",
        limits.max_connections,
        shutdown,
        || port.load().metrics.refuse("connection_limit"),
        |stream, _peer| {
            connection(
                stream,
                port.clone(),
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
    snapshots: Arc<ArcSwap<GatewayPort>>,
    limits: Limits,
    http: Arc<auto::Builder<TokioExecutor>>,
    drain: Drain,
) {
    let current = snapshots.load_full();
    let metrics = &current.metrics;
    let _ = stream.set_nodelay(true);
    let Some(is_tls) = detect_tls(&stream, &limits, metrics).await else {
        return;
    };
    if !is_tls {
        match current
            .tls
            .accept(current.port, GatewayTransport::Plaintext)
        {
            Ok(accepted @ Accepted::PlaintextHttp { .. }) => {
                let conn = GatewayConnection {
                    tls: current.tls.clone(),
                    accepted,
                };
                let io = TokioIo::new(stream);
                serve_http(io, conn, snapshots, &http, drain, limits).await;
            }
            Ok(other) => refuse(&current, &format!("{other:?} is not served")),
            Err(e) => refuse(&current, &e.to_string()),
        }
        return;
    }
    let handshake = async {
        let acceptor = rustls::server::Acceptor::default();
        let start = LazyConfigAcceptor::new(acceptor, stream).await?;
        let sni = start.client_hello().server_name().map(str::to_owned);
        let transport = GatewayTransport::Tls {
            sni: sni.as_deref(),
        };
        let (accepted, server) = match current.tls.accept(current.port, transport) {
            Ok(a @ Accepted::Terminated { server, .. }) => (a, server),
            Ok(other) => return Ok(Err(format!("{other:?} is not served"))),
            Err(e) => return Ok(Err(e.to_string())),
        };
        let config = match current.configs.get(server) {
            Ok(c) => c,
            Err(why) => return Ok(Err(format!("servers[{server}]: {why}"))),
        };
        // Dropping the half-done handshake closes the connection: the client sees it fail.
        let tls = start.into_stream(config).await?;
        Ok::<_, std::io::Error>(Ok((tls, accepted)))
    };
    match tokio::time::timeout(limits.handshake_timeout, handshake).await {
        Ok(Ok(Ok((tls, accepted)))) => {
            let conn = GatewayConnection {
                tls: current.tls.clone(),
                accepted,
            };
            let io = TokioIo::new(tls);
            serve_http(io, conn, snapshots, &http, drain, limits).await;
        }
        Ok(Ok(Err(why))) => refuse(&current, &why),
        Ok(Err(e)) => refuse(&current, &format!("TLS handshake failed: {e}")),
        Err(_) => refuse(&current, "TLS handshake timed out"),
    }
}

fn refuse(port: &GatewayPort, why: &str) {
    port.metrics.refuse("gateway");
    tracing::debug!(gateway = %port.gateway, port = port.port, reason = why, "connection refused");
}

async fn serve_http<I>(
    io: I,
    conn: GatewayConnection,
    snapshots: Arc<ArcSwap<GatewayPort>>,
    http: &auto::Builder<TokioExecutor>,
    drain: Drain,
    limits: Limits,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let requests = Requests::new(&limits);
    let admit = requests.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (mut req, in_flight) = admit.admit(req);
        // Istio gateways sanitize client certificate details sent from outside the mesh.
        req.headers_mut().remove(XFCC);
        req.extensions_mut().insert(conn.clone());
        let call = snapshots.load().stack.clone().oneshot(req);
        async move {
            let rsp = call.await.map_err(ConnError)?;
            Ok::<_, ConnError>(Requests::respond(rsp, in_flight))
        }
    });
    let served = http.serve_connection(io, svc);
    crate::conn::drive(served, requests, drain, limits, "gateway").await;
}
