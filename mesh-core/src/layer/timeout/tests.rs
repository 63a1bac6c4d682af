use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_test::mock;

use super::*;

type Req = http::Request<()>;
type Rsp = http::Response<()>;

fn svc(timeout: Option<Duration>) -> (Timeout<mock::Mock<Req, Rsp>>, mock::Handle<Req, Rsp>) {
    let (mock, handle) = mock::pair::<Req, Rsp>();
    (TimeoutLayer::new(timeout).layer(mock), handle)
}

#[tokio::test(start_paused = true)]
async fn silent_upstream_fails_with_route_timeout_at_the_deadline() {
    let (svc, mut handle) = svc(Some(Duration::from_secs(5)));
    let start = Instant::now();
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, _send) = handle.next_request().await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    let timeout = err.downcast_ref::<RouteTimeout>().expect("a RouteTimeout");
    assert_eq!(timeout.after, Duration::from_secs(5));
    assert_eq!(Instant::now() - start, Duration::from_secs(5));
    assert!(!timeout.is_retryable());
    assert_eq!(timeout.origin(), ErrorOrigin::Local);
}

#[tokio::test(start_paused = true)]
async fn a_response_before_the_deadline_passes_through() {
    let (svc, mut handle) = svc(Some(Duration::from_secs(5)));
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, send) = handle.next_request().await.unwrap();
    tokio::time::advance(Duration::from_millis(4999)).await;
    let mut rsp = http::Response::new(());
    *rsp.status_mut() = http::StatusCode::CREATED;
    send.send_response(rsp);
    assert_eq!(call.await.unwrap().unwrap().status(), 201);
}

#[tokio::test(start_paused = true)]
async fn disabled_timeouts_wait_forever() {
    for t in [None, Some(Duration::ZERO)] {
        let (svc, mut handle) = svc(t);
        let call = tokio::spawn(svc.oneshot(http::Request::new(())));
        let (_req, send) = handle.next_request().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        send.send_response(http::Response::new(()));
        assert!(call.await.unwrap().is_ok(), "{t:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn upstream_errors_pass_through_boxed() {
    let (svc, mut handle) = svc(Some(Duration::from_secs(1)));
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    let err = call.await.unwrap().unwrap_err();
    assert!(err.downcast_ref::<RouteTimeout>().is_none());
    assert!(err.downcast_ref::<std::io::Error>().is_some());
}

#[tokio::test]
async fn local_reply_is_envoys_504_ut() {
    let rsp: http::Response<Full<Bytes>> = RouteTimeout {
        after: Duration::from_secs(1),
    }
    .to_response();
    assert_eq!(rsp.status(), 504);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("UT"))
    );
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "upstream request timeout");
}

#[tokio::test(start_paused = true)]
async fn service_profile_route_timeout_applies() {
    use crate::profile::{ProfileRoute, RequestCondition};
    let route = ProfileRoute {
        name: "GET /books".into(),
        condition: RequestCondition::Method("GET".into()),
        response_classes: Vec::new(),
        retryable: false,
        timeout: Some(crate::resource::Duration::from_millis(300)),
    };
    let (mock, mut handle) = mock::pair::<Req, Rsp>();
    let svc = TimeoutLayer::for_profile(&route).layer(mock);
    let call = tokio::spawn(svc.oneshot(http::Request::new(())));
    let (_req, _send) = handle.next_request().await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err.downcast_ref::<RouteTimeout>(),
        Some(&RouteTimeout {
            after: Duration::from_millis(300)
        })
    );
}
