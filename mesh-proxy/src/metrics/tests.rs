use bytes::Bytes;
use http::HeaderMap;

use super::{DestinationService, Metrics, RequestLabels, RequestSample, body_size};
use crate::body::Body;

fn labels(code: u16) -> RequestLabels {
    RequestLabels {
        reporter: "destination",
        source_principal: "unknown".into(),
        source_workload: "unknown".into(),
        source_workload_namespace: "unknown".into(),
        source_app: "unknown".into(),
        destination_service: "myapp.production.svc.cluster.local".into(),
        destination_service_name: "myapp".into(),
        destination_service_namespace: "production".into(),
        destination_workload: "myapp-v1".into(),
        destination_workload_namespace: "production".into(),
        destination_principal: "spiffe://cluster.local/ns/production/sa/myapp".into(),
        response_code: code,
        response_flags: "-",
        connection_security_policy: "none",
    }
}

#[test]
fn content_length_wins_then_the_exact_hint_then_zero() {
    let mut h = HeaderMap::new();
    h.insert(http::header::CONTENT_LENGTH, "1234".parse().unwrap());
    assert_eq!(body_size(&h, &Body::empty()), 1234);
    assert_eq!(body_size(&HeaderMap::new(), &Body::from("hello")), 5);
    assert_eq!(body_size(&HeaderMap::new(), &Body::new(Chunked)), 0);
}

/// A streamed body whose length is not known up front (like a chunked one).
struct Chunked;

impl http_body::Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

#[test]
fn one_request_records_the_counter_and_three_histograms_under_one_label_set() {
    let m = Metrics::new();
    let sample = RequestSample {
        millis: 12.0,
        request_bytes: 100,
        response_bytes: 5,
    };
    m.request(&labels(200), sample);
    let text = m.encode();
    let series = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    let counter = series("istio_requests_total{");
    let set = &counter[counter.find('{').unwrap()..=counter.rfind('}').unwrap()];
    assert!(counter.ends_with(" 1"), "{counter}");
    assert_eq!(
        series("istio_request_duration_milliseconds_sum{"),
        format!("istio_request_duration_milliseconds_sum{set} 12.0")
    );
    assert_eq!(
        series("istio_request_bytes_sum{"),
        format!("istio_request_bytes_sum{set} 100.0")
    );
    assert_eq!(
        series("istio_response_bytes_sum{"),
        format!("istio_response_bytes_sum{set} 5.0")
    );
}

#[test]
fn destination_service_comes_from_the_authority() {
    let d = DestinationService::from_authority("Reviews.Shop.svc.cluster.local:9080", "a");
    assert_eq!(
        (&*d.service, &*d.name, &*d.namespace),
        ("reviews.shop.svc.cluster.local", "reviews", "shop")
    );
    // A bare name is a service of the caller's namespace (DNS search path).
    let d = DestinationService::from_authority("reviews", "a");
    assert_eq!((&*d.name, &*d.namespace), ("reviews", "a"));
    // Anything else is its own name in no known namespace.
    let d = DestinationService::from_authority("api.example.com", "a");
    assert_eq!(
        (&*d.service, &*d.name, &*d.namespace),
        ("api.example.com", "api.example.com", "unknown")
    );
    let d = DestinationService::from_authority("", "a");
    assert_eq!(&*d.service, "unknown");
    let req = http::Request::builder()
        .uri("http://myapp.production.svc.cluster.local/x")
        .header(http::header::HOST, "ignored")
        .body(())
        .unwrap();
    assert_eq!(&*DestinationService::of(&req, "a").name, "myapp");
    // The cache gives the same labels, for the URI's authority and for Host alike.
    let cache = super::DestinationCache::new("a");
    assert_eq!(cache.of(&req), DestinationService::of(&req, "a"));
    assert_eq!(cache.of(&req), DestinationService::of(&req, "a"));
    let by_host = http::Request::builder()
        .uri("/x")
        .header(http::header::HOST, "reviews:9080")
        .body(())
        .unwrap();
    let d = cache.of(&by_host);
    assert_eq!((&*d.name, &*d.namespace), ("reviews", "a"));
}

#[test]
fn the_destination_cache_starts_over_when_full_and_stays_right() {
    let cache = super::DestinationCache::new("ns");
    for i in 0..super::DestinationCache::CAPACITY + 10 {
        let req = http::Request::builder()
            .uri(format!("http://svc{i}.other.svc.cluster.local/"))
            .body(())
            .unwrap();
        let d = cache.of(&req);
        assert_eq!(
            (&*d.name, &*d.namespace),
            (format!("svc{i}").as_str(), "other")
        );
        assert!(cache.len() <= super::DestinationCache::CAPACITY);
    }
    assert_eq!(cache.len(), 10);
}

/// Three data frames of a body whose length is unknown up front.
struct Frames(Vec<&'static str>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = (!self.0.is_empty()).then(|| self.0.remove(0));
        std::task::Poll::Ready(next.map(|s| Ok(http_body::Frame::data(Bytes::from(s)))))
    }
}

fn sums(m: &Metrics) -> (String, String, String) {
    let text = m.encode();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
            .unwrap_or_default()
    };
    (
        line("istio_request_bytes_sum{"),
        line("istio_response_bytes_sum{"),
        line("istio_response_bytes_count{"),
    )
}

#[tokio::test]
async fn chunked_bodies_are_counted_as_they_stream_and_recorded_at_the_end() {
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use super::stream::{RequestCount, ResponseCount};

    let m = Metrics::new();
    let count = Arc::new(AtomicU64::new(0));
    let req = RequestCount::new(Frames(vec!["abc", "defg"]), count.clone());
    assert_eq!(req.collect().await.unwrap().to_bytes(), "abcdefg");
    let rsp = ResponseCount::new(
        Frames(vec!["hello", " ", "world"]),
        m.series(&labels(200)),
        count,
    );
    // Nothing is recorded before the response body ends.
    assert_eq!(
        sums(&m),
        ("0.0".to_owned(), "0.0".to_owned(), "0".to_owned())
    );
    assert_eq!(rsp.collect().await.unwrap().to_bytes(), "hello world");
    assert_eq!(
        sums(&m),
        ("7.0".to_owned(), "11.0".to_owned(), "1".to_owned())
    );
}

#[tokio::test]
async fn a_dropped_response_body_records_what_streamed_once() {
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use super::stream::ResponseCount;

    let m = Metrics::new();
    let mut rsp = ResponseCount::new(
        Frames(vec!["hello", "world"]),
        m.series(&labels(200)),
        Arc::new(AtomicU64::new(0)),
    );
    let first = rsp.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "hello");
    drop(rsp);
    assert_eq!(
        sums(&m),
        ("0.0".to_owned(), "5.0".to_owned(), "1".to_owned())
    );
    // An empty body is recorded at once (a server may never poll it).
    let empty = ResponseCount::new(
        Body::empty(),
        m.series(&labels(204)),
        Arc::new(AtomicU64::new(0)),
    );
    assert_eq!(sums(&m).2, "1");
    drop(empty);
    let text = m.encode();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("istio_response_bytes_count{"))
            .count(),
        2
    );
}
