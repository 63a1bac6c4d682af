//! mTLS to endpoints labelled `security.istio.io/tlsMode: istio`: the upstream is the inbound
//! of a second in-process proxy, whose AuthorizationPolicy judges the caller's principal.

use http::StatusCode;

use super::{App, HOST, Sidecar, service_entry};
use crate::proxy::harness::{Certs, Running};

/// The upstream sidecar (shop/reviews) only lets shop/frontend in.
const AUTHZ: &str = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
                     metadata: {name: reviews, namespace: shop}\nspec:\n  \
                     selector: {matchLabels: {app: reviews}}\n  action: ALLOW\n  \
                     rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]}]\n";

/// `reviews` at the upstream sidecar's inbound port, mTLS, as service account `sa`.
fn mtls_entry(port: u16, sa: &str) -> String {
    service_entry(&[("v1", port)], ", security.istio.io/tlsMode: istio").replace(
        "labels: {app: reviews",
        &format!("serviceAccount: {sa}, labels: {{app: reviews"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_to_an_upstream_sidecar_carries_the_callers_principal_to_its_authz() {
    let certs = Certs::new("out-mtls");
    let upstream_proxy = Running::start(&certs, "shop/reviews", "{app: reviews}", AUTHZ).await;
    let port = upstream_proxy.inbound.port();
    let entry = mtls_entry(port, "reviews");
    let sidecar = Sidecar::start(&certs, &entry).await;
    let app = App::new(&sidecar);
    let (status, body) = app.get("/api/x", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("app saw GET /api/x"), "{body}");
    assert!(body.contains(&format!("host={HOST}")), "{body}");
    assert_eq!(
        upstream_proxy.requests(&[
            "reporter=\"destination\"",
            "source_principal=\"spiffe://cluster.local/ns/shop/sa/frontend\"",
            "connection_security_policy=\"mutual_tls\"",
            "response_code=\"200\"",
        ]),
        1
    );
    assert_eq!(
        sidecar.requests(&[
            "reporter=\"source\"",
            "destination_principal=\"spiffe://cluster.local/ns/shop/sa/reviews\"",
            "connection_security_policy=\"mutual_tls\"",
            "response_code=\"200\"",
        ]),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_presenting_another_identity_is_refused_503_uf() {
    let certs = Certs::new("out-mtls-wrong");
    let upstream_proxy = Running::start(&certs, "shop/reviews", "{app: reviews}", AUTHZ).await;
    // The registry says the endpoint runs as `ratings`; the sidecar there is `reviews`.
    let entry = mtls_entry(upstream_proxy.inbound.port(), "ratings");
    let sidecar = Sidecar::start(&certs, &entry).await;
    let app = App::new(&sidecar);
    let (status, _) = app.get("/api/x", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        sidecar.requests(&["response_code=\"503\"", "response_flags=\"UF\""]),
        1
    );
    // No request reached the upstream's application.
    assert_eq!(upstream_proxy.requests(&[]), 0);
}
