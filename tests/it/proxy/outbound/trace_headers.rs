//! The outbound path: a request id is added when the application sent none and kept when it
//! did, and trace headers reach the upstream unchanged.

use http::StatusCode;

use super::{App, Sidecar, service_entry};
use crate::proxy::harness::Certs;
use crate::proxy::tracing::{Seen, is_uuid_v4, recording_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_adds_or_keeps_the_request_id_and_forwards_trace_headers() {
    let certs = Certs::new("out-trace");
    let seen = Seen::default();
    let upstream = recording_app(seen.clone()).await;
    let sidecar = Sidecar::start(&certs, &service_entry(&[("v1", upstream.port())], "")).await;
    let app = App::new(&sidecar);

    let (status, _) = app.get("/a", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let trace = [
        ("x-request-id", "kept-by-the-mesh"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        ),
        ("tracestate", "vendor=opaque"),
        ("x-b3-traceid", "463ac35c9f6413ad"),
        ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "0"),
        ("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-0"),
    ];
    let (status, _) = app.get("/b", &trace).await;
    assert_eq!(status, StatusCode::OK);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let generated = seen[0]["x-request-id"].to_str().unwrap();
    assert!(is_uuid_v4(generated), "{generated}");
    for (name, value) in trace {
        let got: Vec<_> = seen[1].get_all(name).iter().collect();
        assert_eq!(got, [value], "{name}");
    }
}
