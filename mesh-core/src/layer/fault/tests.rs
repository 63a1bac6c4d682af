use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use tokio::time::Instant;
use tower::ServiceExt;
use tower_test::mock;

use super::*;
use crate::resource::Duration as ResDuration;
use crate::route::action::{AbortError, FaultAbort, FaultDelay, FaultPolicy};

type Req = http::Request<()>;
type Rsp = http::Response<Empty<Bytes>>;

fn injector(delay_ms: Option<u64>, abort: Option<AbortError>) -> FaultInjector {
    FaultInjector::try_new(&FaultPolicy {
        delay: delay_ms.map(|ms| FaultDelay {
            fixed: ResDuration::from_millis(ms),
            per_million: 1_000_000,
        }),
        abort: abort.map(|error| FaultAbort {
            error,
            per_million: 1_000_000,
        }),
    })
    .unwrap()
}

fn service(inj: FaultInjector) -> (Fault<mock::Mock<Req, Rsp>>, mock::Handle<Req, Rsp>) {
    let (m, h) = mock::pair::<Req, Rsp>();
    (
        FaultLayer::from_rng(inj, SharedRng::seed_from_u64(1)).layer(m),
        h,
    )
}

#[tokio::test(start_paused = true)]
async fn abort_answers_locally_and_never_reaches_upstream() {
    let (svc, mut handle) = service(injector(None, Some(AbortError::Http(503))));
    let rsp = svc.oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(rsp.status(), 503);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("FI"))
    );
    assert!(
        handle.next_request().await.is_none(),
        "upstream saw nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn grpc_abort_is_a_trailers_only_response() {
    let (svc, _handle) = service(injector(None, Some(AbortError::Grpc("UNAVAILABLE".into()))));
    let rsp = svc.oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.headers()["grpc-status"], "14");
    assert_eq!(rsp.headers()["content-type"], "application/grpc");
}

#[tokio::test(start_paused = true)]
async fn delay_holds_the_request_then_forwards_it() {
    let (svc, mut handle) = service(injector(Some(1500), None));
    let start = Instant::now();
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, send) = handle.next_request().await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_millis(1500));
    send.send_response(http::Response::new(Empty::new()));
    let rsp = call.await.unwrap().unwrap();
    assert_eq!(rsp.status(), 200);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("DI"))
    );
}

#[tokio::test(start_paused = true)]
async fn delay_then_abort_waits_and_still_never_forwards() {
    let (svc, mut handle) = service(injector(Some(700), Some(AbortError::Http(429))));
    let start = Instant::now();
    let rsp = svc.oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_millis(700));
    assert_eq!(rsp.status(), 429);
    assert!(handle.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn zero_percent_faults_pass_requests_through() {
    let inj = FaultInjector::try_new(&FaultPolicy {
        delay: None,
        abort: Some(FaultAbort {
            error: AbortError::Http(500),
            per_million: 0,
        }),
    })
    .unwrap();
    let (svc, mut handle) = service(inj);
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(http::Response::new(Empty::new()));
    let rsp = call.await.unwrap().unwrap();
    assert_eq!(rsp.status(), 200);
    assert!(rsp.extensions().get::<ResponseFlag>().is_none());
}

#[tokio::test(start_paused = true)]
async fn aborts_outside_the_retry_layer_are_never_retried() {
    use crate::layer::retry::{IstioRetries, ReplayBody, RetryLayer};
    use crate::resilience::retry::IstioRetry;
    let mut p = IstioRetry::istio_default();
    p.conditions = crate::resilience::retry::RetryConditions::parse(["5xx"]).unwrap();
    let (m, mut handle) = mock::pair::<http::Request<ReplayBody<Empty<Bytes>>>, Rsp>();
    let svc = tower::ServiceBuilder::new()
        .layer(FaultLayer::from_rng(
            injector(None, Some(AbortError::Http(503))),
            SharedRng::seed_from_u64(2),
        ))
        .layer(RetryLayer::with_rng(
            IstioRetries::new(p),
            SharedRng::seed_from_u64(3),
        ))
        .service(m);
    let rsp = svc.oneshot(http::Request::new(Empty::new())).await.unwrap();
    assert_eq!(rsp.status(), 503);
    assert!(handle.next_request().await.is_none());
}
