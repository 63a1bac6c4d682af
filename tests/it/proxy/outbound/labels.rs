//! Istio's workload and service labels on both reporters, and body sizes of chunked bodies
//! (no Content-Length) counted as they stream.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::myapp::{Reply, Upstream, docs};
use super::{HOST, Sidecar, service_entry};
use crate::proxy::harness::{Certs, Running, mtls, series_sum};

/// A request body sent in chunks, its length unknown up front.
struct Chunks(VecDeque<&'static str>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|s| Ok(Frame::data(Bytes::from(s)))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_labels_name_this_workload_and_the_service_and_count_chunked_bytes() {
    let certs = Certs::new("out-labels");
    let up = Upstream::start("reviews", Reply::Status(StatusCode::OK)).await;
    let resources = docs(&[&service_entry(&[("v1", up.port)], "")]);
    let sidecar = Sidecar::start(&certs, &resources).await;

    let client = Client::builder(TokioExecutor::new()).build_http::<Chunks>();
    let req = Request::post(format!("http://{}/upload", sidecar.outbound))
        .header(http::header::HOST, HOST)
        .body(Chunks(VecDeque::from(["0123456789", "abcdefghij", "xyz"])))
        .unwrap();
    let rsp = client.request(req).await.unwrap();
    assert_eq!(rsp.status(), StatusCode::OK);
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "reviews");
    // The upstream got it chunked too: the size was never known up front.
    assert!(up.seen()[0].chunked, "{:?}", up.seen());

    let set = [
        "reporter=\"source\"",
        "source_workload=\"frontend-v1\"",
        "source_workload_namespace=\"shop\"",
        "source_app=\"frontend\"",
        "destination_service=\"reviews.shop.svc.cluster.local\"",
        "destination_service_name=\"reviews\"",
        "destination_service_namespace=\"shop\"",
    ];
    assert_eq!(sidecar.requests(&set), 1);
    let text = sidecar.metrics.encode();
    let sum = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && set.iter().all(|f| l.contains(f)))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(sum("istio_request_bytes_sum{"), "23.0");
    assert_eq!(sum("istio_response_bytes_sum{"), "7.0");
    assert_eq!(series_sum(&text, "istio_request_bytes_count{", &set), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_labels_know_only_what_the_peer_identity_says() {
    let certs = Certs::new("in-labels");
    let frontend = certs.client("production/frontend");
    let proxy = Running::start(
        &certs,
        "production/myapp",
        "{app: myapp}",
        crate::proxy::PEER_AUTHN,
    )
    .await;
    let (status, _) = mtls(proxy.inbound, &frontend, "GET", "/api/x")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        proxy.requests(&[
            "reporter=\"destination\"",
            "source_principal=\"spiffe://cluster.local/ns/production/sa/frontend\"",
            "source_workload_namespace=\"production\"",
            // Peer metadata is not exchanged: the caller's workload and app are unknown.
            "source_workload=\"unknown\"",
            "source_app=\"unknown\"",
            "destination_service=\"myapp.production.svc.cluster.local\"",
            "destination_service_name=\"myapp\"",
            "destination_service_namespace=\"production\"",
        ]),
        1
    );
    proxy.stop().await.unwrap();
}
