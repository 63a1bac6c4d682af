use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use tower_test::mock;

use super::*;

type Req = http::Request<Full<Bytes>>;
type Rsp = http::Response<()>;
type Handle = mock::Handle<Req, Rsp>;
type Svc = Mirror<mock::Mock<Req, Rsp>, mock::Mock<Req, Rsp>>;

fn target(per_million: u32) -> MirrorTarget {
    MirrorTarget {
        host: "reviews-v2".into(),
        subset: None,
        port: None,
        per_million,
    }
}

fn setup(per_million: u32, rule: HostRule, max_body: u64) -> (Svc, Handle, Handle) {
    let (primary, ph) = mock::pair::<Req, Rsp>();
    let (mirror, mh) = mock::pair::<Req, Rsp>();
    let layer = MirrorLayer::from_rng(
        mirror,
        &target(per_million),
        rule,
        max_body,
        SharedRng::seed_from_u64(1),
    )
    .unwrap();
    (layer.layer(primary), ph, mh)
}

fn request(body: &'static str) -> Req {
    http::Request::builder()
        .method("POST")
        .uri("http://reviews.ns:9080/r?x=1")
        .header("x-id", "7")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn body(req: Req) -> Bytes {
    req.into_body().collect().await.unwrap().to_bytes()
}

#[tokio::test(start_paused = true)]
async fn copies_go_to_the_mirror_and_its_silence_is_ignored() {
    let (svc, mut primary, mut mirror) = setup(1_000_000, HostRule::Unchanged, 1024);
    let call = tokio::spawn(svc.oneshot(request("data")));
    let (req, send) = primary.next_request().await.unwrap();
    assert_eq!(body(req).await, "data");
    send.send_response(http::Response::new(()));
    assert_eq!(call.await.unwrap().unwrap().status(), 200);
    // The mirror got the same request and never answers: nobody waits for it.
    let (copy, _never) = mirror.next_request().await.unwrap();
    assert_eq!(copy.method(), "POST");
    assert_eq!(copy.uri(), "http://reviews.ns:9080/r?x=1");
    assert_eq!(copy.headers()["x-id"], "7");
    assert_eq!(body(copy).await, "data");
}

#[tokio::test(start_paused = true)]
async fn mirror_errors_do_not_touch_the_primary_response() {
    let (svc, mut primary, mut mirror) = setup(1_000_000, HostRule::Unchanged, 1024);
    let call = tokio::spawn(svc.oneshot(request("")));
    let (_copy, send_m) = mirror.next_request().await.unwrap();
    send_m.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    let (_req, send) = primary.next_request().await.unwrap();
    let mut ok = http::Response::new(());
    *ok.status_mut() = http::StatusCode::ACCEPTED;
    send.send_response(ok);
    assert_eq!(call.await.unwrap().unwrap().status(), 202);
}

#[tokio::test(start_paused = true)]
async fn zero_percent_never_mirrors() {
    let (svc, mut primary, mut mirror) = setup(0, HostRule::Unchanged, 1024);
    let call = tokio::spawn(svc.oneshot(request("x")));
    let (_req, send) = primary.next_request().await.unwrap();
    send.send_response(http::Response::new(()));
    call.await.unwrap().unwrap();
    // Every clone of the mirror service is gone: no copy was ever sent.
    assert!(mirror.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn large_bodies_are_forwarded_without_a_copy() {
    let (svc, mut primary, mut mirror) = setup(1_000_000, HostRule::Unchanged, 3);
    let call = tokio::spawn(svc.oneshot(request("four")));
    let (req, send) = primary.next_request().await.unwrap();
    assert_eq!(body(req).await, "four");
    send.send_response(http::Response::new(()));
    call.await.unwrap().unwrap();
    // Every clone of the mirror service is gone: no copy was ever sent.
    assert!(mirror.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn pre_1_28_host_rule_appends_shadow() {
    let (svc, mut primary, mut mirror) = setup(1_000_000, HostRule::ShadowSuffix, 1024);
    let mut req = request("");
    req.headers_mut().insert(
        http::header::HOST,
        http::HeaderValue::from_static("reviews.ns:9080"),
    );
    let call = tokio::spawn(svc.oneshot(req));
    let (req, send) = primary.next_request().await.unwrap();
    assert_eq!(
        req.uri().authority().unwrap(),
        "reviews.ns:9080",
        "primary untouched"
    );
    send.send_response(http::Response::new(()));
    call.await.unwrap().unwrap();
    let (copy, _) = mirror.next_request().await.unwrap();
    assert_eq!(copy.uri().authority().unwrap(), "reviews.ns-shadow:9080");
    assert_eq!(copy.headers()[http::header::HOST], "reviews.ns-shadow:9080");
}
