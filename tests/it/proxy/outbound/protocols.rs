//! What local applications may send: h2c with prior knowledge (routed by `:authority`) and
//! HTTP/1.1 absolute-form (its authority wins over `Host`).

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::{Behaviour, HOST, Hits, SUBSETS, Sidecar, hits_of, service_entry, upstream};
use crate::proxy::harness::Certs;

/// `elsewhere` has its own endpoint, so a request routed by the wrong name is visible.
fn resources(v1: u16, elsewhere: u16) -> String {
    let other = service_entry(&[("v1", elsewhere)], "")
        .replace("name: reviews", "name: elsewhere")
        .replace(HOST, "elsewhere.shop.svc.cluster.local");
    [service_entry(&[("v1", v1)], ""), SUBSETS.into(), other].join("\n---\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_is_routed_by_authority_and_absolute_form_by_its_authority() {
    let certs = Certs::new("out-protocols");
    let hits = Hits::default();
    let v1 = upstream("reviews", Behaviour::Ok, hits.clone()).await;
    let elsewhere = upstream("elsewhere", Behaviour::Ok, hits.clone()).await;
    let sidecar = Sidecar::start(&certs, &resources(v1, elsewhere)).await;

    // h2c: the authority is in the URI (`:authority`), there is no Host header.
    let stream = TcpStream::connect(sidecar.outbound).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("http://{HOST}/h2"))
        .body(Full::<Bytes>::default())
        .unwrap();
    let rsp = send.send_request(req).await.unwrap();
    assert_eq!(rsp.status(), StatusCode::OK);
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "reviews");

    // HTTP/1.1 absolute-form: the request-target's authority, not Host, names the service.
    let stream = TcpStream::connect(sidecar.outbound).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("http://elsewhere.shop.svc.cluster.local/abs")
        .header(http::header::HOST, HOST)
        .body(Full::<Bytes>::default())
        .unwrap();
    let rsp = send.send_request(req).await.unwrap();
    assert_eq!(rsp.status(), StatusCode::OK);
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "elsewhere");

    assert_eq!(
        (hits_of(&hits, "reviews"), hits_of(&hits, "elsewhere")),
        (1, 1)
    );
    // A host the registry does not know is not passed through (no ALLOW_ANY): 503, and
    // neither upstream sees it.
    let (status, _) = unknown_host(&sidecar).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (hits_of(&hits, "reviews"), hits_of(&hits, "elsewhere")),
        (1, 1)
    );
    assert_eq!(sidecar.requests(&["response_code=\"503\""]), 1);
    assert_eq!(sidecar.requests(&["response_code=\"200\""]), 2);
}

async fn unknown_host(sidecar: &Sidecar) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(sidecar.outbound).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("/x")
        .header(http::header::HOST, "unknown.example.com")
        .body(Full::<Bytes>::default())
        .unwrap();
    let rsp = send.send_request(req).await.unwrap();
    let status = rsp.status();
    (status, rsp.into_body().collect().await.unwrap().to_bytes())
}
