use std::collections::VecDeque;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;

use super::*;

/// Chunks of a body whose length is unknown up front.
struct Chunks(VecDeque<&'static str>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.0.pop_front().map(|s| Ok(Frame::data(Bytes::from(s)))))
    }
}

fn chunked(parts: &[&'static str]) -> Request<Body> {
    Request::new(Body::new(Chunks(parts.iter().copied().collect())))
}

#[test]
fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let req = Request::builder()
        .header(http::header::CONTENT_LENGTH, "17")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        BodyLimit(16).apply(req).unwrap_err(),
        BodyTooLarge { limit: 16 }
    );
    assert_eq!(payload_too_large().status(), StatusCode::PAYLOAD_TOO_LARGE);
    // An exact size hint counts as declared too.
    let req = Request::new(Body::from("0123456789abcdefg"));
    assert!(BodyLimit(16).apply(req).is_err());
    // At the limit is fine.
    let req = Request::new(Body::from("0123456789abcdef"));
    let body = BodyLimit(16).apply(req).unwrap().into_body();
    assert_eq!(
        pollster(body.collect()).unwrap().to_bytes(),
        "0123456789abcdef"
    );
}

#[tokio::test]
async fn a_streamed_body_fails_once_it_outgrows_the_limit() {
    let body = BodyLimit(16)
        .apply(chunked(&["0123456789", "0123456789", "x"]))
        .unwrap()
        .into_body();
    let err = body.collect().await.unwrap_err();
    assert!(is_body_too_large(err.as_ref()), "{err}");
    assert_eq!(
        err.to_string(),
        "request body exceeds the limit of 16 bytes"
    );
    // Under the limit it streams through untouched.
    let body = BodyLimit(16)
        .apply(chunked(&["01234", "56789"]))
        .unwrap()
        .into_body();
    assert_eq!(body.collect().await.unwrap().to_bytes(), "0123456789");
}

#[test]
fn body_too_large_is_found_through_error_sources() {
    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapped(#[source] BoxError);
    let e = Wrapped(BodyTooLarge { limit: 1 }.into());
    assert!(is_body_too_large(&e));
    let other = Wrapped("reset".into());
    assert!(!is_body_too_large(&other));
}

/// Drives a ready future (the bodies here never wait).
fn pollster<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f
        .as_mut()
        .poll(&mut Context::from_waker(std::task::Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the body waited"),
    }
}
