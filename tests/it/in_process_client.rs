//! The in-process client example's scenario, run as a test so the example cannot rot: hyper
//! servers on 127.0.0.1:0, the shipped myapp resources, and `MeshLayer` in front of a hyper
//! client.

use crate::in_process_example::run;

#[tokio::test(flavor = "current_thread")]
async fn in_process_client_split_retries_ejection_and_budget() {
    let r = run().await.expect("scenario runs");
    // Every 503 of the failing endpoint was retried onto the healthy one.
    assert_eq!(r.retry_ok, r.retry_requests, "{r:?}");
    assert!((1..=5).contains(&r.retried_503s), "{r:?}");
    // consecutive5xxErrors: 5 ejected it; it got nothing afterwards.
    assert_eq!(r.failing_after_ejection, 0, "{r:?}");
    // 90/10 split within a wide tolerance (1000 seeded picks).
    assert_eq!(r.canary_requests, 1000, "{r:?}");
    assert!((50..=150).contains(&r.canary_v2), "{r:?}");
    // The Linkerd budget (no successes, 10 retries/s over 10 s) caps the storm's retries.
    let retries = r.storm_attempts - r.storm_requests;
    assert!((1..=100).contains(&retries), "{r:?}");
}
