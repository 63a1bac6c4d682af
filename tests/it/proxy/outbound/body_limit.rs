//! The request body limit (bootstrap `limits: {maxRequestBodyBytes: N}`) on both sides: a
//! Content-Length over the limit is answered 413 before anything is forwarded; a chunked body
//! that outgrows it mid-stream is answered 413 and the upstream request is aborted (the
//! upstream never reads a whole body).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_core::Mesh;
use mesh_proxy::inbound::accept::Limits;

use super::myapp::{Reply, Upstream, docs};
use super::{HOST, Sidecar, service_entry};
use crate::proxy::harness::{Certs, Running};

/// Chunks of a body whose length is unknown up front (sent chunked).
struct Chunks(VecDeque<&'static str>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|s| Ok(Frame::data(Bytes::from(s)))))
    }
}

fn sized(s: &'static str) -> BoxBody<Bytes, Infallible> {
    Full::new(Bytes::from(s)).boxed()
}

fn chunked(parts: &[&'static str]) -> BoxBody<Bytes, Infallible> {
    Chunks(parts.iter().copied().collect()).boxed()
}

/// POSTs `body` to `addr` for `host`; a fresh connection each time.
async fn post(
    addr: SocketAddr,
    host: &str,
    body: BoxBody<Bytes, Infallible>,
) -> (StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::post(format!("http://{addr}/upload"))
        .header(http::header::HOST, host)
        .body(body)
        .unwrap();
    let rsp = client.request(req).await.unwrap();
    let status = rsp.status();
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The four cases against one proxy listener and the upstream behind it.
async fn check(addr: SocketAddr, host: &str, up: &Upstream, name: &str) {
    // 16 bytes: at the limit, both ways.
    assert_eq!(
        post(addr, host, sized("0123456789abcdef")).await,
        (StatusCode::OK, name.to_owned())
    );
    assert_eq!(
        post(addr, host, chunked(&["01234567", "89abcdef"])).await,
        (StatusCode::OK, name.to_owned())
    );
    assert_eq!(up.bodies(), [16, 16]);
    assert_eq!(up.hits(), 2);

    // A declared length over the limit: refused before anything is forwarded.
    let (status, body) = post(addr, host, sized("0123456789abcdefg")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
    );
    assert_eq!(up.hits(), 2);

    // A chunked body outgrowing the limit: the head was forwarded, the body never completes.
    let (status, _) = post(addr, host, chunked(&["0123456789", "0123456789", "xyz"])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(up.hits() <= 3);
    assert_eq!(
        up.bodies(),
        [16, 16],
        "the upstream read an over-limit body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_refuses_request_bodies_over_the_bootstrap_limit() {
    let certs = Certs::new("out-body-limit");
    let up = Upstream::start("reviews", Reply::Status(StatusCode::OK)).await;
    let (mesh, _) =
        Mesh::from_yaml("r.yaml", &docs(&[&service_entry(&[("v1", up.port)], "")])).unwrap();
    let sidecar =
        Sidecar::start_with(&certs, mesh, None, "limits: {maxRequestBodyBytes: 16}\n").await;
    check(sidecar.outbound, HOST, &up, "reviews").await;
    assert_eq!(sidecar.requests(&["response_code=\"413\""]), 2);
    assert_eq!(sidecar.requests(&["response_code=\"200\""]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_refuses_request_bodies_over_the_limit() {
    let certs = Certs::new("in-body-limit");
    let up = Upstream::start("legacy", Reply::Status(StatusCode::OK)).await;
    // The example's legacy-service is PERMISSIVE: plaintext is accepted.
    let (mesh, _) = Mesh::from_yaml("r.yaml", crate::proxy::PEER_AUTHN).unwrap();
    let limits = Limits {
        max_request_body: Some(16),
        ..Limits::default()
    };
    let app: SocketAddr = ([127, 0, 0, 1], up.port).into();
    let proxy = Running::start_mesh(
        &certs,
        "production/legacy",
        "{app: legacy-service}",
        mesh,
        Some(app),
        limits,
    )
    .await;
    check(
        proxy.inbound,
        "legacy.production.svc.cluster.local",
        &up,
        "legacy",
    )
    .await;
    assert_eq!(proxy.requests(&["response_code=\"413\""]), 2);
    proxy.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_over_the_limit_gets_413_without_a_100() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // security.md H-48: a 1 GiB Content-Length with `Expect: 100-continue`.
    let certs = Certs::new("out-body-expect");
    let up = Upstream::start("reviews", Reply::Status(StatusCode::OK)).await;
    let (mesh, _) =
        Mesh::from_yaml("r.yaml", &docs(&[&service_entry(&[("v1", up.port)], "")])).unwrap();
    let sidecar =
        Sidecar::start_with(&certs, mesh, None, "limits: {maxRequestBodyBytes: 1024}\n").await;
    let mut tcp = tokio::net::TcpStream::connect(sidecar.outbound)
        .await
        .unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 1073741824\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // Read until the head of the first response is complete.
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert_eq!(up.hits(), 0);
}
