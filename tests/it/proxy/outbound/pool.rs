//! The shipped `destinationrule-circuit-breaker.yaml` through the outbound path: more
//! concurrent requests than its limits admit to an upstream that holds them are answered at
//! once with 503 `UO` and `x-envoy-overloaded` (semantics §3.4); the admitted ones complete.

use http::StatusCode;
use tokio::sync::watch;

use super::myapp::{CIRCUIT_BREAKER, MYAPP, Reply, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::{Certs, eventually, series_sum};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_circuit_breaker_are_503_uo() {
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
    // Whatever the mapping of connections and pending requests, no more than
    // maxConnections + http1MaxPendingRequests may be in the cluster at once.
    const ADMITTED_AT_MOST: usize = 50 + 100;
    const N: usize = 200;

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
    // Wait until every request is either held at the upstream or already answered.
    let mut answers = Vec::new();
    eventually(|| {
        while let Ok(a) = done_rx.try_recv() {
            answers.push(a);
        }
        up.hits() + answers.len() == N
    })
    .await;
    let held = up.hits();
    for a in &answers {
        // Only overflow is answered while the upstream holds every request.
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{a:?}");
        assert_eq!(a.headers["x-envoy-overloaded"], "true");
    }
    assert!(held <= ADMITTED_AT_MOST, "{held} requests admitted at once");
    assert!(held > 0);
    assert_eq!(held + answers.len(), N);

    // Open the gate: every admitted request completes normally.
    open.send(true).unwrap();
    let mut ok = 0;
    while let Some(a) = done_rx.recv().await {
        assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "myapp"));
        ok += 1;
    }
    assert_eq!(ok, held);
    let refused = answers.len() as u64;
    assert!(refused >= (N - ADMITTED_AT_MOST) as u64);
    assert_eq!(
        sidecar.requests(&["response_code=\"503\"", "response_flags=\"UO\""]),
        refused
    );
    assert_eq!(
        sidecar.requests(&["response_code=\"200\"", "response_flags=\"-\""]),
        held as u64
    );
    let text = sidecar.metrics.encode();
    assert_eq!(
        series_sum(&text, "mesh_upstream_overflow_total", &[]),
        refused
    );
    // A fresh request after the burst is admitted again (permits were released).
    assert_eq!(
        send(&app, "GET", MYAPP, "/", &[]).await.status,
        StatusCode::OK
    );
}
