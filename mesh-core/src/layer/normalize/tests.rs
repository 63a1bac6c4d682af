use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio_test::{assert_pending, assert_ready_ok};
use tower_test::mock;

use super::*;

type Res = Response<Full<Bytes>>;

fn req(method: &str, uri: &str) -> Request<()> {
    Request::builder().method(method).uri(uri).body(()).unwrap()
}

/// What the upstream sees for `uri`, or the status of the local answer.
async fn through(mode: PathNormalization, method: &str, uri: &str) -> Result<String, StatusCode> {
    let (mut svc, mut handle) = mock::spawn_layer::<Request<()>, Res, _>(NormalizeLayer::new(mode));
    assert_ready_ok!(svc.poll_ready());
    let fut = svc.call(req(method, uri));
    tokio::pin!(fut);
    // Forwarded: the upstream answers 200.
    if let Some((seen, send)) = futures_poll(&mut handle).await {
        send.send_response(Response::new(Full::new(Bytes::new())));
        let res = fut.await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        return Ok(seen.uri().to_string());
    }
    let res = fut.await.unwrap();
    assert!(res.extensions().get::<Rejected>().is_some());
    assert_eq!(res.headers()["connection"], "close");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"Bad Request");
    Err(StatusCode::BAD_REQUEST)
}

/// The next request the mock received, if the service forwarded one.
async fn futures_poll(
    handle: &mut mock::Handle<Request<()>, Res>,
) -> Option<(Request<()>, mock::SendResponse<Res>)> {
    let mut next = tokio_test::task::spawn(handle.next_request());
    match next.poll() {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => None,
    }
}

#[tokio::test(start_paused = true)]
async fn forwards_the_normalized_target() {
    use PathNormalization::*;
    let cases: &[(PathNormalization, &str, &str, Result<&str, StatusCode>)] = &[
        (Base, "GET", "/public/../admin?x=1", Ok("/admin?x=1")),
        (Base, "GET", "/a/%2e%2E/b", Ok("/b")),
        (Base, "GET", "/already/clean?q", Ok("/already/clean?q")),
        (Base, "GET", "//admin", Ok("//admin")),
        (MergeSlashes, "GET", "//admin", Ok("/admin")),
        (
            DecodeAndMergeSlashes,
            "GET",
            "/x%2F..%2Fadmin",
            Ok("/admin"),
        ),
        (None, "GET", "/a/../b", Ok("/a/../b")),
        (
            Base,
            "GET",
            "http://svc.ns:8080/a/./b?y",
            Ok("http://svc.ns:8080/a/b?y"),
        ),
        (Base, "OPTIONS", "*", Ok("*")),
        (Base, "GET", "/admin%00", Err(StatusCode::BAD_REQUEST)),
        (Base, "GET", "/a%zz", Err(StatusCode::BAD_REQUEST)),
        (Base, "get", "/admin", Err(StatusCode::BAD_REQUEST)),
        (None, "Post", "/admin", Err(StatusCode::BAD_REQUEST)),
    ];
    for (mode, method, uri, want) in cases {
        let got = through(*mode, method, uri).await;
        assert_eq!(
            got.as_deref().map_err(|s| *s),
            *want,
            "{method} {uri} {mode:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_is_the_inner_services() {
    let (mut svc, mut handle) =
        mock::spawn_layer::<Request<()>, Res, _>(NormalizeLayer::new(PathNormalization::Base));
    handle.allow(0);
    assert_pending!(svc.poll_ready());
    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
}
