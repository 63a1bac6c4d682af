//! The downstream idle timeout (bootstrap `limits: {idleTimeout: ..}`): a connection that has
//! finished its requests and stays idle is closed by the proxy, over HTTP/2 (which hyper
//! would otherwise keep open forever) and HTTP/1.1, outbound and inbound.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_core::Mesh;
use mesh_proxy::inbound::accept::Limits;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::myapp::{Reply, Upstream, docs};
use super::{HOST, Sidecar, service_entry};
use crate::proxy::harness::{Certs, Running};

const IDLE: Duration = Duration::from_millis(200);

/// Opens one connection (h2c with prior knowledge, or HTTP/1.1), sends one GET for `host`,
/// then waits for the proxy to close the connection. Returns how long after sending the
/// request it closed (the proxy's idle clock starts later, when the response ends there).
async fn idle_close_after(addr: SocketAddr, host: &str, h2: bool) -> Duration {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let sent = Instant::now();
    let req = Request::get(format!("http://{host}/"))
        .header(http::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    // The request handle is kept (`_keep`): dropping it would close the connection from
    // the client's side.
    let (rsp, conn, _keep): (_, _, Box<dyn std::any::Any + Send>) = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        let conn = tokio::spawn(async move { conn.await.is_ok() });
        let rsp = send.send_request(req).await.unwrap();
        (rsp, conn, Box::new(send))
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let conn = tokio::spawn(async move { conn.await.is_ok() });
        let rsp = send.send_request(req).await.unwrap();
        (rsp, conn, Box::new(send))
    };
    assert_eq!(rsp.status(), StatusCode::OK);
    rsp.into_body().collect().await.unwrap();
    // The proxy closes it; the bound only keeps a broken proxy from hanging the test.
    let closed = tokio::time::timeout(Duration::from_secs(30), conn).await;
    assert!(closed.is_ok(), "the idle connection was never closed");
    sent.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_closes_idle_h2_and_h1_connections() {
    let certs = Certs::new("out-idle");
    let up = Upstream::start("reviews", Reply::Status(StatusCode::OK)).await;
    let (mesh, _) =
        Mesh::from_yaml("r.yaml", &docs(&[&service_entry(&[("v1", up.port)], "")])).unwrap();
    let sidecar = Sidecar::start_with(&certs, mesh, None, "limits: {idleTimeout: 200ms}\n").await;
    for h2 in [true, false] {
        let open = idle_close_after(sidecar.outbound, HOST, h2).await;
        assert!(open >= IDLE, "closed after {open:?} (h2: {h2})");
    }
    assert_eq!(up.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_closes_idle_h2_connections() {
    let certs = Certs::new("in-idle");
    // The example's legacy-service is PERMISSIVE: h2c is accepted in plaintext.
    let (mesh, _) = Mesh::from_yaml("r.yaml", crate::proxy::PEER_AUTHN).unwrap();
    let limits = Limits {
        idle_timeout: Some(IDLE),
        ..Limits::default()
    };
    let proxy = Running::start_mesh(
        &certs,
        "production/legacy",
        "{app: legacy-service}",
        mesh,
        None,
        limits,
    )
    .await;
    let open = idle_close_after(proxy.inbound, "legacy.production.svc.cluster.local", true).await;
    assert!(open >= IDLE, "closed after {open:?}");
    proxy.stop().await.unwrap();
}
