//! Hostname endpoints (ServiceEntry `resolution: DNS`) through the outbound path: the proxy
//! resolves `localhost` when it connects; a name that does not resolve is 503 `UF`.

use http::StatusCode;

use super::myapp::{Reply, Upstream, send};
use super::{App, Sidecar};
use crate::proxy::harness::Certs;

const HOST: &str = "api.example.com";

fn dns_entry(address: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  \
         location: MESH_EXTERNAL\n  resolution: DNS\n  \
         ports: [{{number: 80, name: http, protocol: HTTP}}]\n  \
         endpoints: [{{address: {address}, ports: {{http: {port}}}}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostname_endpoint_is_resolved_when_connecting() {
    let certs = Certs::new("out-dns");
    let up = Upstream::start("api", Reply::Status(StatusCode::OK)).await;
    let sidecar = Sidecar::start(&certs, &dns_entry("localhost", up.port)).await;
    let app = App::new(&sidecar);
    for _ in 0..3 {
        let a = send(&app, "GET", HOST, "/v1", &[]).await;
        assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "api"));
    }
    assert_eq!(up.hits(), 3);
    // The service's Host reaches the upstream, not the endpoint's name.
    assert!(up.seen().iter().all(|s| s.host == HOST));
    assert_eq!(sidecar.requests(&["response_code=\"200\""]), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_endpoint_is_503_uf() {
    let certs = Certs::new("out-dns-fail");
    // `.invalid` never resolves (RFC 2606).
    let sidecar = Sidecar::start(&certs, &dns_entry("nowhere.invalid", 8080)).await;
    let app = App::new(&sidecar);
    let a = send(&app, "GET", HOST, "/v1", &[]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        sidecar.requests(&["response_code=\"503\"", "response_flags=\"UF\""]),
        1
    );
}
