use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_layer::Layer;
use tower_test::mock;

use super::*;
use crate::clock::TokioClock;
use crate::layer::timeout::{RouteTimeout, TimeoutLayer};
use crate::resilience::budget::RetryBudget;
use crate::resilience::retry::{IstioRetry, ProfileRetry, RetryConditions, RetryOn};

type Req = http::Request<ReplayBody<Full<Bytes>>>;
type Rsp = http::Response<()>;
type Handle = mock::Handle<Req, Rsp>;

fn rsp(status: u16) -> Rsp {
    let mut r = http::Response::new(());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    r
}

fn request(body: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method("POST")
        .uri("http://reviews/")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

fn istio(tokens: &[RetryOn], codes: &[u16], attempts: u32, per_try: Option<u64>) -> IstioRetries {
    let mut p = IstioRetry::istio_default();
    p.attempts = attempts;
    p.conditions = RetryConditions::new(tokens.iter().copied(), codes.iter().copied());
    p.per_try_timeout = per_try.map(Duration::from_millis);
    IstioRetries::new(p)
}

fn spawn_call<P: Retries>(
    layer: RetryLayer<P>,
    req: http::Request<Full<Bytes>>,
) -> (tokio::task::JoinHandle<Result<Rsp, BoxError>>, Handle) {
    let (svc, handle) = mock::pair::<Req, Rsp>();
    let svc = layer.layer(svc);
    (tokio::spawn(svc.oneshot(req)), handle)
}

async fn body_of(req: Req) -> Bytes {
    req.into_body().collect().await.unwrap().to_bytes()
}

#[tokio::test(start_paused = true)]
async fn istio_default_retries_connect_failures_twice() {
    let layer = RetryLayer::with_rng(
        IstioRetries::new(IstioRetry::istio_default()),
        SharedRng::seed_from_u64(1),
    );
    let (call, mut handle) = spawn_call(layer, request("hello"));
    for _ in 0..3 {
        let (req, send) = handle.next_request().await.unwrap();
        assert_eq!(body_of(req).await, "hello");
        send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    }
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    // No fourth attempt: the service was dropped with the finished call.
    assert!(handle.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_5xx_then_success_returns_the_success_with_the_body_replayed() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::FiveXx], &[], 2, None),
        SharedRng::seed_from_u64(2),
    );
    let (call, mut handle) = spawn_call(layer, request("payload"));
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(body_of(req).await, "payload");
    send.send_response(rsp(503));
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(body_of(req).await, "payload");
    send.send_response(rsp(200));
    assert_eq!(call.await.unwrap().unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_statuses_return_at_once() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::RetriableStatusCodes], &[429], 5, None),
        SharedRng::seed_from_u64(2),
    );
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(503));
    assert_eq!(call.await.unwrap().unwrap().status(), 503);
}

#[tokio::test(start_paused = true)]
async fn the_last_failure_is_returned_when_attempts_run_out() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::GatewayError], &[], 1, None),
        SharedRng::seed_from_u64(3),
    );
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(502));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(504));
    assert_eq!(call.await.unwrap().unwrap().status(), 504);
}

#[tokio::test(start_paused = true)]
async fn bodies_over_the_bound_are_sent_once_and_never_retried() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::FiveXx], &[], 3, None),
        SharedRng::seed_from_u64(4),
    )
    .with_max_body(4);
    let (call, mut handle) = spawn_call(layer, request("12345"));
    let (req, send) = handle.next_request().await.unwrap();
    assert!(!req.body().is_buffered());
    assert_eq!(body_of(req).await, "12345");
    send.send_response(rsp(503));
    assert_eq!(call.await.unwrap().unwrap().status(), 503);
}

#[tokio::test(start_paused = true)]
async fn ratelimited_responses_are_not_retried_on_5xx() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::FiveXx], &[], 3, None),
        SharedRng::seed_from_u64(5),
    );
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    let mut r = rsp(503);
    r.headers_mut().insert(
        "x-envoy-ratelimited",
        http::HeaderValue::from_static("true"),
    );
    send.send_response(r);
    assert_eq!(call.await.unwrap().unwrap().status(), 503);
}

#[tokio::test(start_paused = true)]
async fn grpc_unavailable_in_headers_is_retried_by_default() {
    let layer = RetryLayer::with_rng(
        IstioRetries::new(IstioRetry::istio_default()),
        SharedRng::seed_from_u64(6),
    );
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    let mut r = rsp(200);
    r.headers_mut()
        .insert("grpc-status", http::HeaderValue::from_static("14"));
    send.send_response(r);
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(200));
    let out = call.await.unwrap().unwrap();
    assert!(out.headers().get("grpc-status").is_none());
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_with_default_tokens_is_not_retried() {
    let mut p = IstioRetry::istio_default();
    p.per_try_timeout = Some(Duration::from_secs(2));
    let layer = RetryLayer::with_rng(IstioRetries::new(p), SharedRng::seed_from_u64(7));
    let start = Instant::now();
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, _send) = handle.next_request().await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    let t = err
        .downcast_ref::<PerTryTimeout>()
        .expect("per-try timeout");
    assert_eq!(t.after, Duration::from_secs(2));
    assert_eq!(Instant::now() - start, Duration::from_secs(2));
    let local: http::Response<Full<Bytes>> = t.to_response();
    assert_eq!(local.status(), 504);
}

#[tokio::test(start_paused = true)]
async fn spec_example_three_tries_then_route_timeout_at_five_seconds() {
    // timeout 5s, attempts 3, perTryTimeout 2s, retryOn 5xx, upstream never answers.
    let retry = RetryLayer::with_rng(
        istio(&[RetryOn::FiveXx], &[], 3, Some(2000)),
        SharedRng::seed_from_u64(8),
    );
    let (svc, mut handle) = mock::pair::<Req, Rsp>();
    let svc = TimeoutLayer::new(Some(Duration::from_secs(5))).layer(retry.layer(svc));
    let start = Instant::now();
    let call = tokio::spawn(svc.oneshot(request("x")));
    let mut starts = Vec::new();
    let mut pending = Vec::new();
    while let Ok(Some((_req, send))) =
        tokio::time::timeout(Duration::from_secs(10), handle.next_request()).await
    {
        starts.push(Instant::now() - start);
        pending.push(send);
    }
    assert_eq!(starts.len(), 3, "the 4th attempt never happens: {starts:?}");
    assert_eq!(starts[0], Duration::ZERO);
    assert!(starts[1] >= Duration::from_secs(2) && starts[1] < Duration::from_millis(2025));
    assert!(starts[2] >= Duration::from_secs(4) && starts[2] < Duration::from_millis(4100));
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err.downcast_ref::<RouteTimeout>(),
        Some(&RouteTimeout {
            after: Duration::from_secs(5)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_permits_limit_retries() {
    use crate::resilience::envoy_budget::EnvoyRetryBudget;
    let budget = EnvoyRetryBudget::new(0, 0);
    let policy = IstioRetries {
        policy: istio(&[RetryOn::FiveXx], &[], 3, None).policy,
        permits: budget,
    };
    let layer = RetryLayer::with_rng(policy, SharedRng::seed_from_u64(9));
    let (call, mut handle) = spawn_call(layer, request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(503));
    assert_eq!(call.await.unwrap().unwrap().status(), 503);
}

fn profile_layer(budget: Arc<RetryBudget>) -> RetryLayer<ProfileRetries> {
    RetryLayer::with_rng(
        ProfileRetries {
            policy: ProfileRetry {
                classes: Vec::new(),
                retryable: true,
                timeout: None,
            },
            budget,
        },
        SharedRng::seed_from_u64(10),
    )
}

#[tokio::test(start_paused = true)]
async fn profile_retries_spend_the_budget_then_stop() {
    let now = TokioClock.now();
    // Ratio 0, one retry per second for 1s: a reserve of exactly one retry.
    let budget = Arc::new(RetryBudget::from_ppm(0, 1, Duration::from_secs(1), now).unwrap());
    let (call, mut handle) = spawn_call(profile_layer(budget.clone()), request("p"));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(rsp(500));
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(body_of(req).await, "p");
    send.send_response(rsp(502));
    // The budget is empty: the second failure is returned.
    assert_eq!(call.await.unwrap().unwrap().status(), 502);
    assert_eq!(budget.available(TokioClock.now()), 0);
}

#[tokio::test(start_paused = true)]
async fn profile_retries_never_retry_transport_errors() {
    let now = TokioClock.now();
    let budget =
        Arc::new(RetryBudget::from_ppm(1_000_000, 10, Duration::from_secs(10), now).unwrap());
    let (call, mut handle) = spawn_call(profile_layer(budget), request(""));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    assert!(call.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn non_retryable_profile_routes_stream_the_body_once() {
    let now = TokioClock.now();
    let budget =
        Arc::new(RetryBudget::from_ppm(1_000_000, 10, Duration::from_secs(10), now).unwrap());
    let layer = RetryLayer::with_rng(
        ProfileRetries {
            policy: ProfileRetry {
                classes: Vec::new(),
                retryable: false,
                timeout: None,
            },
            budget,
        },
        SharedRng::seed_from_u64(11),
    );
    let (call, mut handle) = spawn_call(layer, request("s"));
    let (req, send) = handle.next_request().await.unwrap();
    assert!(!req.body().is_buffered());
    send.send_response(rsp(500));
    assert_eq!(call.await.unwrap().unwrap().status(), 500);
}

#[test]
fn default_error_classification() {
    let io = |k| -> BoxError { Box::new(std::io::Error::from(k)) };
    use std::io::ErrorKind as K;
    assert_eq!(
        classify_error(&io(K::ConnectionRefused)),
        Some(Outcome::ConnectFailure)
    );
    assert_eq!(
        classify_error(&io(K::ConnectionReset)),
        Some(Outcome::Reset {
            before_request: false
        })
    );
    let rt: BoxError = Box::new(RouteTimeout {
        after: Duration::from_secs(1),
    });
    assert_eq!(classify_error(&rt), None);
    let pt: BoxError = Box::new(PerTryTimeout {
        after: Duration::from_secs(1),
    });
    assert_eq!(classify_error(&pt), Some(Outcome::PerTryTimeout));
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_applies_even_when_the_body_cannot_be_replayed() {
    let layer = RetryLayer::with_rng(
        istio(&[RetryOn::Reset], &[], 2, Some(500)),
        SharedRng::seed_from_u64(12),
    )
    .with_max_body(0);
    let (call, mut handle) = spawn_call(layer, request("big"));
    let (_req, _send) = handle.next_request().await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(err.downcast_ref::<PerTryTimeout>().is_some());
    assert!(
        handle.next_request().await.is_none(),
        "a streamed body is never retried"
    );
}
