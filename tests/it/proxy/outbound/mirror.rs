//! The shipped `virtualservice-mirror.yaml` through the outbound path: every request to
//! `myapp` goes to subset v1 and a copy to subset v2; the client only ever sees v1's answer,
//! whatever the mirror does.

use http::StatusCode;

use super::myapp::{DR_MYAPP, MIRROR, MYAPP, Reply, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::{Certs, eventually};

/// Sends N requests; `copies` is how many the mirror must end up seeing (a failing mirror
/// may be ejected by the example's outlier detection after 5 errors, so fewer copies reach it).
async fn run(name: &str, mirror_reply: Reply, copies_at_least: usize) {
    let certs = Certs::new(name);
    let v1 = Upstream::start("v1", Reply::Status(StatusCode::OK)).await;
    let v2 = Upstream::start("v2", mirror_reply).await;
    let resources = docs(&[
        &service_entry("myapp", &[("v1", v1.port), ("v2", v2.port)]),
        DR_MYAPP,
        MIRROR,
    ]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    const N: usize = 20;
    for i in 0..N {
        let a = send(&app, "GET", MYAPP, &format!("/item/{i}"), &[]).await;
        assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "v1"));
    }
    assert_eq!(v1.hits(), N);
    // mirrorPercentage 100: every request is copied to v2, fire and forget.
    eventually(|| v2.hits() >= copies_at_least).await;
    let copies = v2.seen();
    assert!(copies.len() <= N);
    for (i, copy) in copies.iter().enumerate() {
        assert_eq!(copy.method, "GET");
        assert!(copy.path.starts_with("/item/"), "{copy:?}");
        // Istio >= 1.28 (DISABLE_SHADOW_HOST_SUFFIX) keeps the Host; see semantics §1.7.
        assert_eq!(copy.host, MYAPP, "copy {i}");
    }
    if copies_at_least == N {
        let mut paths: Vec<_> = copies.iter().map(|c| c.path.clone()).collect();
        paths.sort();
        let mut want: Vec<_> = (0..N).map(|i| format!("/item/{i}")).collect();
        want.sort();
        assert_eq!(paths, want);
    }
    // Only the client's requests are reported; mirrored copies are not.
    assert_eq!(sidecar.requests(&["response_code=\"200\""]), N as u64);
    assert_eq!(sidecar.requests(&[]), N as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_reach_the_mirror_and_the_client_sees_only_the_primary() {
    run("out-mirror-ok", Reply::Status(StatusCode::OK), 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mirror_does_not_affect_the_client() {
    run(
        "out-mirror-fail",
        Reply::Status(StatusCode::INTERNAL_SERVER_ERROR),
        5,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_mirror_does_not_delay_the_client() {
    // The mirror never answers: were the client waiting on it, the first request would hang.
    run("out-mirror-hang", Reply::Hang, 20).await;
}
