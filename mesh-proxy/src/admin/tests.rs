use http_body_util::BodyExt;

use super::*;

fn state() -> AdminState {
    AdminState {
        metrics: Metrics::new(),
        config_dump: ArcSwap::from_pointee(
            serde_json::json!({"identity": "spiffe://td/ns/a/sa/b"}),
        ),
        ready: AtomicBool::new(false),
    }
}

fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).unwrap()
}

async fn body(rsp: Response<Body>) -> String {
    let b = rsp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(b.to_vec()).unwrap()
}

#[tokio::test]
async fn ready_follows_the_flag_and_healthz_does_not() {
    let s = state();
    assert_eq!(
        handle(&s, &get("/ready")).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(handle(&s, &get("/healthz")).status(), StatusCode::OK);
    s.ready.store(true, Ordering::Release);
    assert_eq!(handle(&s, &get("/ready")).status(), StatusCode::OK);
}

#[tokio::test]
async fn config_dump_and_metrics_show_the_state() {
    let s = state();
    s.metrics.plaintext_accepted.inc();
    let dump = body(handle(&s, &get("/config_dump"))).await;
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(v["identity"], "spiffe://td/ns/a/sa/b");
    let m = handle(&s, &get("/metrics"));
    assert!(
        m.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = body(m).await;
    assert!(
        text.contains("mesh_plaintext_connections_accepted_total 1"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn only_get_and_known_paths() {
    let s = state();
    let post = Request::post("/healthz").body(()).unwrap();
    assert_eq!(handle(&s, &post).status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        handle(&s, &get("/quitquitquit")).status(),
        StatusCode::NOT_FOUND
    );
}
