//! HTTP hardening and shutdown through the running proxy (security.md §3): header count limit,
//! header-read timeout, graceful drain.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mesh_proxy::inbound::accept::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::harness::{Certs, Running, admin, mtls, plaintext};

const PERMISSIVE: &str = "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n\
    metadata: {name: default, namespace: production}\nspec: {mtls: {mode: PERMISSIVE}}\n";

/// Reads until the server closes; fails if it never does (bounded, so a bug fails instead of
/// hanging).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out))
        .await
        .expect("the proxy never closed the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_100_headers_is_431() {
    let certs = Certs::new("headers");
    let proxy = Running::start(&certs, "production/myapp", "{app: myapp}", PERMISSIVE).await;
    let mut head = String::from("GET /ok HTTP/1.1\r\nhost: myapp\r\n");
    for i in 0..100 {
        head.push_str(&format!("x-h{i}: v\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(proxy.inbound).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // An ordinary request on a new connection passes.
    let (status, _) = plaintext(proxy.inbound, "GET", "/ok").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(proxy.requests(&["response_code=\"200\""]), 1);
}

/// A PERMISSIVE proxy that gives a request head 200 ms.
async fn with_head_timeout(certs: &Certs) -> Running {
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", PERMISSIVE).unwrap();
    let limits = Limits {
        header_read_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    Running::start_mesh(
        certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        None,
        limits,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_head_is_cut_off() {
    let certs = Certs::new("slowloris");
    let proxy = with_head_timeout(&certs).await;
    let mut s = TcpStream::connect(proxy.inbound).await.unwrap();
    // Half a head, then nothing: the server must close rather than wait forever.
    s.write_all(b"GET / HTTP/1.1\r\nhost: myapp\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(!answer.contains(" 200 "), "{answer}");
    assert_eq!(proxy.requests(&[]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_connection_without_a_request_head_is_closed() {
    let certs = Certs::new("h2idle");
    let proxy = with_head_timeout(&certs).await;
    let mut s = TcpStream::connect(proxy.inbound).await.unwrap();
    // The h2c preface and an empty SETTINGS frame, then no HEADERS ever (hyper's HTTP/2 server
    // has no header-read timeout of its own; PING keep-alive would take 40 s).
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    read_to_close(&mut s).await;
    assert_eq!(proxy.requests(&[]), 0);
}

/// An application that holds `/slow` until released.
async fn gated_app(arrived: Arc<Notify>, release: Arc<Notify>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (arrived, release) = (arrived.clone(), release.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    let (arrived, release) = (arrived.clone(), release.clone());
                    async move {
                        arrived.notify_one();
                        release.notified().await;
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                            "finished",
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_requests_and_stops_accepting() {
    let certs = Certs::new("drain");
    let frontend = certs.client("production/frontend");
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let app = gated_app(arrived.clone(), release.clone()).await;
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", PERMISSIVE).unwrap();
    let proxy = Running::start_mesh(
        &certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        Some(app),
        Limits::default(),
    )
    .await;
    let (inbound, admin_addr) = (proxy.inbound, proxy.admin);
    let in_flight = tokio::spawn(async move { mtls(inbound, &frontend, "GET", "/slow").await });
    arrived.notified().await;
    let stopping = tokio::spawn(proxy.stop());
    // Draining: not ready, and no new connections.
    tokio::time::timeout(Duration::from_secs(10), async {
        while admin(admin_addr, "/ready").await.0 != StatusCode::SERVICE_UNAVAILABLE {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the proxy never reported draining");
    assert!(TcpStream::connect(inbound).await.is_err());
    // The request in flight still completes.
    release.notify_one();
    let (status, body) = in_flight.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "finished"));
    stopping.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_closed() {
    let certs = Certs::new("connlimit");
    let (mesh, _) = mesh_core::Mesh::from_yaml("r.yaml", PERMISSIVE).unwrap();
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let proxy = Running::start_mesh(
        &certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        None,
        limits,
    )
    .await;
    // The first connection holds the only slot (it has not sent a byte yet).
    let holder = TcpStream::connect(proxy.inbound).await.unwrap();
    let mut second = TcpStream::connect(proxy.inbound).await.unwrap();
    let _ = second.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
    let answer = read_to_close(&mut second).await;
    assert!(answer.is_empty(), "{answer}");
    assert_eq!(
        proxy.metric("mesh_inbound_connections_refused_total{reason=\"connection_limit\"}"),
        1
    );
    // Once the holder goes, the slot is free again.
    drop(holder);
    tokio::time::timeout(Duration::from_secs(20), async {
        while plaintext(proxy.inbound, "GET", "/").await.map(|r| r.0) != Ok(StatusCode::OK) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the slot was never released");
}
