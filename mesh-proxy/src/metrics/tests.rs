use bytes::Bytes;
use http::HeaderMap;

use super::{Metrics, RequestLabels, RequestSample, body_size};
use crate::body::Body;

fn labels(code: &str) -> RequestLabels {
    RequestLabels {
        reporter: "destination",
        source_principal: "unknown".into(),
        source_workload_namespace: "unknown".into(),
        destination_workload: "myapp-v1".into(),
        destination_workload_namespace: "production".into(),
        destination_principal: "spiffe://cluster.local/ns/production/sa/myapp".into(),
        response_code: code.into(),
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
    m.request(&labels("200"), sample);
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
