//! The shipped `serviceprofile-myapp.yaml` through the outbound path: its `isRetryable`
//! route `POST /api/orders` retries failures only within the profile's retry budget, so a
//! storm of 503s is not multiplied (Linkerd's budget, semantics §5.3–§5.4).

use http::StatusCode;
use tokio::time::Instant;

use super::myapp::{MYAPP, PROFILE, Reply, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::{Certs, series_sum};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_budget_caps_retries_of_a_5xx_storm() {
    // The budget the example sets; the bound below is computed from it.
    for field in ["retryRatio: 0.2", "minRetriesPerSecond: 10", "ttl: 10s"] {
        assert!(
            PROFILE.contains(field),
            "the example no longer sets {field}"
        );
    }
    let (ratio, min_per_sec, ttl_secs) = (0.2_f64, 10.0_f64, 10.0_f64);

    let certs = Certs::new("out-budget");
    let up = Upstream::start("myapp", Reply::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let resources = docs(&[&service_entry("myapp", &[("v1", up.port)]), PROFILE]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    const N: usize = 300;
    let start = Instant::now();
    for _ in 0..N {
        let a = send(&app, "POST", MYAPP, "/api/orders", &[]).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "myapp")
        );
    }
    let elapsed = start.elapsed().as_secs_f64().ceil();
    let hits = up.hits() as f64;
    let retries = hits - N as f64;
    // Failures never deposit, so only the reserve (minRetriesPerSecond × ttl) is there at
    // first; spent withdrawals age out at up to 2 × minRetriesPerSecond per second (tower's
    // window quirk, §5.4); the ratio term is slack for the deposits a success would make.
    let bound = N as f64 * ratio + min_per_sec * ttl_secs + 2.0 * min_per_sec * elapsed;
    assert!(retries >= 1.0, "the retryable route never retried");
    assert!(
        retries <= bound,
        "{retries} retries for {N} requests in {elapsed}s; the budget allows {bound}"
    );
    // Every request ended with a failure the budget refused to retry again.
    let text = sidecar.metrics.encode();
    assert_eq!(
        series_sum(&text, "mesh_retry_budget_exhausted_total", &[]),
        N as u64
    );
    assert_eq!(sidecar.requests(&["response_code=\"503\""]), N as u64);

    // The profile's other route is not retryable: one attempt each, nothing exhausted.
    let before = up.hits();
    for _ in 0..5 {
        let a = send(&app, "GET", MYAPP, "/api/users", &[]).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(up.hits(), before + 5);
    let text = sidecar.metrics.encode();
    assert_eq!(
        series_sum(&text, "mesh_retry_budget_exhausted_total", &[]),
        N as u64
    );
}
