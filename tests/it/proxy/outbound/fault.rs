//! The shipped `virtualservice-fault.yaml` through the outbound path: requests marked
//! `x-test-fault: inject` are aborted with the status it names at the ratio it names (flag
//! `FI`), and delayed before they reach the upstream; unmarked requests are untouched.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::myapp::{FAULT, MYAPP, Reply, Upstream, docs, patched, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::Certs;

const MARK: (&str, &str) = ("x-test-fault", "inject");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_aborts_its_ratio_of_marked_requests_with_its_status() {
    let certs = Certs::new("out-fault-abort");
    let up = Upstream::start("myapp", Reply::Status(StatusCode::OK)).await;
    // The example delays half the marked requests by 5s; 1ms keeps the test short while the
    // abort (10%, 503) is the example's own.
    let fault = patched(FAULT, "fixedDelay: 5s", "fixedDelay: 1ms");
    let resources = docs(&[&service_entry("myapp", &[("v1", up.port)]), &fault]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    const N: usize = 2000;
    let mut aborted = 0usize;
    for _ in 0..N {
        let a = send(&app, "GET", MYAPP, "/", &[MARK]).await;
        match a.status {
            StatusCode::OK => assert_eq!(a.body, "myapp"),
            StatusCode::SERVICE_UNAVAILABLE => {
                aborted += 1;
                // Answered by the proxy, with Envoy's body, not by the upstream.
                assert_eq!(a.body, "fault filter abort");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // 10% of 2,000 is 200; allow ±3 percentage points.
    assert!((140..=260).contains(&aborted), "aborted {aborted} of {N}");
    // Aborted requests never reach the upstream.
    assert_eq!(up.hits(), N - aborted);
    assert_eq!(
        sidecar.requests(&["response_code=\"503\"", "response_flags=\"FI\""]),
        aborted as u64
    );

    // Requests without the header take the second rule: never aborted.
    for _ in 0..200 {
        assert_eq!(
            send(&app, "GET", MYAPP, "/", &[]).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(up.hits(), N - aborted + 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_delay_holds_the_request_before_the_upstream_sees_it() {
    let certs = Certs::new("out-fault-delay");
    let up = Upstream::start("myapp", Reply::Status(StatusCode::OK)).await;
    // Every marked request delayed by 300ms, none aborted.
    let fault = patched(FAULT, "fixedDelay: 5s", "fixedDelay: 300ms");
    let fault = patched(&fault, "value: 10\n", "value: 0\n");
    let fault = patched(&fault, "value: 50\n", "value: 100\n");
    let resources = docs(&[&service_entry("myapp", &[("v1", up.port)]), &fault]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    let delay = Duration::from_millis(300);
    for _ in 0..3 {
        let sent = Instant::now();
        let a = send(&app, "GET", MYAPP, "/slow", &[MARK]).await;
        let answered = sent.elapsed();
        assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "myapp"));
        let arrived = up.seen().last().unwrap().at;
        assert!(
            arrived - sent >= delay,
            "upstream saw it after {:?}",
            arrived - sent
        );
        assert!(answered >= delay, "answered after {answered:?}");
    }
    // The unmarked route has no fault: the upstream sees it without the delay being applied
    // (checked through the flag: a delayed request is recorded with `DI`).
    assert_eq!(
        send(&app, "GET", MYAPP, "/", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(up.hits(), 4);
    assert_eq!(
        sidecar.requests(&["response_code=\"200\"", "response_flags=\"DI\""]),
        3
    );
    assert_eq!(
        sidecar.requests(&["response_code=\"200\"", "response_flags=\"-\""]),
        1
    );
}
