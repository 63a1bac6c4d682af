//! The shipped `destinationrule-circuit-breaker.yaml` through the outbound path to an HTTP/1.1
//! upstream that holds every request (semantics §3.4): one request per connection, so
//! `maxConnections` (50) reach the upstream at once, the next `http1MaxPendingRequests` (100)
//! wait for a connection, and only the rest are answered at once with 503 `UO` and
//! `x-envoy-overloaded`; once the upstream lets go, every admitted request completes.

use http::StatusCode;
use tokio::sync::watch;

use super::myapp::{CIRCUIT_BREAKER, MYAPP, Reply, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::{Certs, eventually, series_sum};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_requests_beyond_max_connections_wait_and_beyond_pending_are_503_uo() {
    for field in [
        "maxConnections: 50",
        "http1MaxPendingRequests: 100",
        "http2MaxRequests: 100",
    ] {
        assert!(
            CIRCUIT_BREAKER.contains(field),
            "the example no longer sets {field}"
        );
    }
    const CONNECTIONS: usize = 50;
    const PENDING: usize = 100;
    const N: usize = 250;

    let certs = Certs::new("out-pool");
    let (open, gate) = watch::channel(false);
    let up = Upstream::start("myapp", Reply::Gated(gate)).await;
    let resources = docs(&[&service_entry("myapp", &[("v1", up.port)]), CIRCUIT_BREAKER]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = std::sync::Arc::new(App::new(&sidecar));

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..N {
        let (app, done) = (app.clone(), done_tx.clone());
        tokio::spawn(async move {
            let _ = done.send(send(&app, "GET", MYAPP, "/", &[]).await);
        });
    }
    drop(done_tx);
    // The upstream holds every request it gets: 50 arrive, 100 wait in the sidecar, 100 are
    // refused at once.
    let refused = N - CONNECTIONS - PENDING;
    let mut answers = Vec::new();
    eventually(|| {
        while let Ok(a) = done_rx.try_recv() {
            answers.push(a);
        }
        up.hits() == CONNECTIONS && answers.len() == refused
    })
    .await;
    for a in &answers {
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{a:?}");
        assert_eq!(a.headers["x-envoy-overloaded"], "true");
    }
    let text = sidecar.metrics.encode();
    assert_eq!(
        series_sum(
            &text,
            "mesh_upstream_overflow_total",
            &["limit=\"pending\""]
        ),
        refused as u64,
        "{text}"
    );
    assert_eq!(
        series_sum(&text, "mesh_upstream_overflow_total", &["limit=\"active\""]),
        0
    );

    // Open the gate: the 50 complete, then the 100 that waited reach the upstream in turn.
    open.send(true).unwrap();
    let mut ok = 0;
    while let Some(a) = done_rx.recv().await {
        assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "myapp"));
        ok += 1;
    }
    assert_eq!(ok, CONNECTIONS + PENDING);
    assert_eq!(up.hits(), CONNECTIONS + PENDING);
    assert_eq!(
        sidecar.requests(&["response_code=\"503\"", "response_flags=\"UO\""]),
        refused as u64
    );
    assert_eq!(
        sidecar.requests(&["response_code=\"200\"", "response_flags=\"-\""]),
        ok as u64
    );
    // A fresh request after the burst is admitted again (permits were released).
    assert_eq!(
        send(&app, "GET", MYAPP, "/", &[]).await.status,
        StatusCode::OK
    );
}
