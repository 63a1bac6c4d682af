//! Request ids and trace context through the inbound path, as the application sees them, and
//! the request histograms after one request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mesh_core::Mesh;
use mesh_proxy::inbound::accept::Limits;
use tokio::net::{TcpListener, TcpStream};

use super::harness::{Certs, Running, series_sum};

/// Headers of every request the application received.
pub(super) type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// An application that records the headers it receives and answers 200 `hello`.
pub(super) async fn recording_app(seen: Seen) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                seen.lock().unwrap().push(req.headers().clone());
                async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// One plaintext HTTP/1.1 GET with `headers`; returns the status and response headers.
async fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .uri("/traced")
        .header(http::header::HOST, "myapp.production.svc.cluster.local");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let rsp = send
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = rsp.into_parts();
    let _ = body.collect().await.unwrap();
    (parts.status, parts.headers)
}

/// A proxy for production/myapp with no PeerAuthentication (PERMISSIVE: plaintext accepted).
async fn proxy(certs: &Certs, seen: Seen) -> Running {
    let (mesh, _) = Mesh::from_yaml("resources.yaml", "").unwrap();
    let app = recording_app(seen).await;
    Running::start_mesh(
        certs,
        "production/myapp",
        "{app: myapp}",
        mesh,
        Some(app),
        Limits::default(),
    )
    .await
}

pub(super) fn is_uuid_v4(s: &str) -> bool {
    let lens: Vec<usize> = s.split('-').map(str::len).collect();
    lens == [8, 4, 4, 4, 12]
        && s.as_bytes()[14] == b'4'
        && s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_generated_when_absent_and_kept_when_present() {
    let certs = Certs::new("request-id");
    let seen = Seen::default();
    let proxy = proxy(&certs, seen.clone()).await;

    let (status, _) = get(proxy.inbound, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(proxy.inbound, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, rsp) = get(proxy.inbound, &[("x-request-id", "from-the-client-42")]).await;
    assert_eq!(status, StatusCode::OK);
    // Envoy does not echo the id to the client unless configured to.
    assert!(!rsp.contains_key("x-request-id"));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let id = |i: usize| seen[i]["x-request-id"].to_str().unwrap().to_owned();
    assert!(is_uuid_v4(&id(0)), "{}", id(0));
    assert!(is_uuid_v4(&id(1)), "{}", id(1));
    assert_ne!(id(0), id(1), "each request gets its own id");
    assert_eq!(id(2), "from-the-client-42");
    assert_eq!(seen[2].get_all("x-request-id").iter().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w3c_and_b3_trace_headers_reach_the_app_unchanged() {
    let certs = Certs::new("trace-headers");
    let seen = Seen::default();
    let proxy = proxy(&certs, seen.clone()).await;
    let trace = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
        (
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        ),
    ];
    let (status, _) = get(proxy.inbound, &trace).await;
    assert_eq!(status, StatusCode::OK);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    for (name, value) in trace {
        let got: Vec<_> = seen[0].get_all(name).iter().collect();
        assert_eq!(got, [value], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_leaves_a_duration_sample_with_the_counter_labels() {
    let certs = Certs::new("duration");
    let proxy = proxy(&certs, Seen::default()).await;
    let (status, _) = get(proxy.inbound, &[]).await;
    assert_eq!(status, StatusCode::OK);

    let text = proxy.metrics.encode();
    let labels = [
        "reporter=\"destination\"",
        "source_principal=\"unknown\"",
        "destination_workload=\"myapp-v1\"",
        "destination_workload_namespace=\"production\"",
        "response_code=\"200\"",
        "connection_security_policy=\"none\"",
    ];
    assert_eq!(series_sum(&text, "istio_requests_total{", &labels), 1);
    assert_eq!(
        series_sum(&text, "istio_request_duration_milliseconds_count{", &labels),
        1,
        "{text}"
    );
    // The same label set as the counter, not a subset or a superset.
    let counter_labels = label_set(&text, "istio_requests_total{");
    let duration_labels = label_set(&text, "istio_request_duration_milliseconds_count{");
    assert_eq!(counter_labels, duration_labels);
    // The app answered `hello` (Content-Length 5) to a request without a body.
    assert_eq!(series_sum(&text, "istio_response_bytes_count{", &labels), 1);
    assert!(
        text.contains("istio_response_bytes_sum{")
            && text
                .lines()
                .any(|l| { l.starts_with("istio_response_bytes_sum{") && l.ends_with(" 5.0") }),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("istio_request_bytes_sum{") && l.ends_with(" 0.0")),
        "{text}"
    );
}

/// The `{...}` of the first series starting with `prefix`.
fn label_set(text: &str, prefix: &str) -> String {
    let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
    let start = line.find('{').unwrap();
    let end = line.rfind('}').unwrap();
    line[start..=end].to_owned()
}
