//! The shipped `serviceprofile-myapp.yaml` route timeout through the outbound path: a route
//! whose upstream does not answer in time gets 504 (`UT`); other routes are not cut.

use http::StatusCode;

use super::myapp::{MYAPP, PROFILE, Reply, Upstream, docs, patched, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::Certs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_route_timeout_answers_504_against_a_hung_upstream() {
    let certs = Certs::new("out-sp-timeout");
    let up = Upstream::start("myapp", Reply::Hang).await;
    // `GET /api/users` times out after 5s in the example; 200ms keeps the test short.
    let profile = patched(PROFILE, "timeout: 5s", "timeout: 200ms");
    let resources = docs(&[&service_entry("myapp", &[("v1", up.port)]), &profile]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    let a = send(&app, "GET", MYAPP, "/api/users", &[]).await;
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(a.body, "upstream request timeout");
    assert_eq!(up.hits(), 1);
    assert_eq!(
        sidecar.requests(&["response_code=\"504\"", "response_flags=\"UT\""]),
        1
    );
    // The route matches on method too: a POST to the same path has no profile timeout and
    // is still waiting when the client gives up.
    let post = tokio::time::timeout(
        std::time::Duration::from_millis(600),
        send(&app, "POST", MYAPP, "/api/users", &[]),
    )
    .await;
    assert!(post.is_err(), "answered {post:?}");
    assert_eq!(up.hits(), 2);
}
