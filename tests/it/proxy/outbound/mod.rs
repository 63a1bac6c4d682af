//! The outbound path end to end: a local client sends plain HTTP to the proxy's outbound
//! listener; the proxy routes through MeshLayer to in-process upstream servers whose addresses
//! a ServiceEntry generated at runtime gives (127.0.0.1, the ports they were bound to).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_core::Mesh;
use mesh_proxy::bootstrap::Bootstrap;
use mesh_proxy::metrics::Metrics;
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::{Listeners, ProxyConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::harness::{self, Certs};

mod body_limit;
mod dns;
mod fault;
mod idle;
mod labels;
mod mirror;
mod mtls;
mod myapp;
mod pool;
mod profile_timeout;
mod protocols;
mod reload;
mod reload_load;
mod retry_budget;
mod trace_headers;
mod traffic_split;

pub(super) const HOST: &str = "reviews.shop.svc.cluster.local";

/// Requests each upstream received, by name.
pub(super) type Hits = Arc<Mutex<BTreeMap<&'static str, u32>>>;

#[derive(Clone, Copy)]
pub(super) enum Behaviour {
    Ok,
    Fail503,
    /// Never answers (a route timeout must cut it off).
    Hang,
}

/// An upstream on 127.0.0.1:0 answering with its name.
pub(super) async fn upstream(name: &'static str, behaviour: Behaviour, hits: Hits) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let hits = hits.clone();
            let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                *hits.lock().unwrap().entry(name).or_default() += 1;
                async move {
                    let status = match behaviour {
                        Behaviour::Ok => StatusCode::OK,
                        Behaviour::Fail503 => StatusCode::SERVICE_UNAVAILABLE,
                        Behaviour::Hang => std::future::pending().await,
                    };
                    let mut rsp = Response::new(Full::new(Bytes::from(name)));
                    *rsp.status_mut() = status;
                    Ok::<_, std::convert::Infallible>(rsp)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    port
}

pub(super) fn hits_of(hits: &Hits, name: &str) -> u32 {
    hits.lock().unwrap().get(name).copied().unwrap_or(0)
}

/// `reviews` with one endpoint per (version, port); `extra` labels every endpoint.
pub(super) fn service_entry(endpoints: &[(&str, u16)], extra: &str) -> String {
    let eps: String = endpoints
        .iter()
        .map(|(v, p)| {
            format!(
                "  - {{address: 127.0.0.1, ports: {{http: {p}}}, labels: {{app: reviews, \
                 version: {v}{extra}}}}}\n"
            )
        })
        .collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  \
         location: MESH_INTERNAL\n  resolution: STATIC\n  \
         ports: [{{number: 80, name: http, protocol: HTTP}}]\n  endpoints:\n{eps}"
    )
}

pub(super) const SUBSETS: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
metadata: {name: reviews, namespace: shop}\nspec:\n  host: reviews.shop.svc.cluster.local\n  \
subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";

/// A proxy for `shop/frontend` with an outbound listener.
pub(super) struct Sidecar {
    outbound: SocketAddr,
    metrics: Arc<Metrics>,
    _stop: oneshot::Sender<()>,
}

impl Sidecar {
    async fn start(certs: &Certs, resources: &str) -> Sidecar {
        let (mesh, _) = Mesh::from_yaml("resources.yaml", resources).unwrap();
        Self::start_mesh(certs, mesh, None).await
    }

    /// Starts on `mesh`, watching `source` when given.
    async fn start_mesh(certs: &Certs, mesh: Mesh, source: Option<ConfigSource>) -> Sidecar {
        Self::start_with(certs, mesh, source, "").await
    }

    /// Starts with `extra` appended to the bootstrap file (e.g. a `limits` section).
    async fn start_with(
        certs: &Certs,
        mesh: Mesh,
        source: Option<ConfigSource>,
        extra: &str,
    ) -> Sidecar {
        let app = harness::app().await;
        let text = format!(
            "workload: {{name: frontend-v1, namespace: shop, serviceAccount: frontend, \
             labels: {{app: frontend}}}}\n\
             inbound: {{listen: \"127.0.0.1:0\", app: \"{app}\"}}\n\
             outbound: {{listen: \"127.0.0.1:0\"}}\n{}{extra}",
            certs.issue("shop/frontend")
        );
        let bootstrap = Bootstrap::from_str("bootstrap.yaml", &text).unwrap();
        let inbound = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outbound = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = outbound.local_addr().unwrap();
        let metrics = Metrics::new();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(mesh_proxy::run_with(
            Listeners {
                inbound,
                admin: None,
                outbound: Some(outbound),
                gateways: Vec::new(),
            },
            ProxyConfig {
                outbound_seed: Some(7),
                source,
                ..ProxyConfig::new(mesh, bootstrap)
            },
            metrics.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Sidecar {
            outbound: addr,
            metrics,
            _stop: stop,
        }
    }

    fn requests(&self, fragments: &[&str]) -> u64 {
        harness::series_sum(&self.metrics.encode(), "istio_requests_total{", fragments)
    }
}

/// A local application's client, sending to the outbound listener.
pub(super) struct App {
    client: Client<HttpConnector, Full<Bytes>>,
    outbound: SocketAddr,
}

impl App {
    fn new(sidecar: &Sidecar) -> App {
        App {
            client: Client::builder(TokioExecutor::new()).build_http(),
            outbound: sidecar.outbound,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
        let mut req = Request::builder()
            .uri(format!("http://{}{path}", self.outbound))
            .header(http::header::HOST, HOST);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let rsp = self
            .client
            .request(req.body(Full::default()).unwrap())
            .await
            .unwrap();
        let status = rsp.status();
        let body = rsp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_route_sends_jason_to_v2_and_others_to_v1() {
    let certs = Certs::new("out-header");
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  http:\n  \
         - match: [{{headers: {{end-user: {{exact: jason}}}}}}]\n    \
         route: [{{destination: {{host: {HOST}, subset: v2}}}}]\n  \
         - route: [{{destination: {{host: {HOST}, subset: v1}}}}]\n"
    );
    let resources = [
        service_entry(&[("v1", v1), ("v2", v2)], ""),
        SUBSETS.into(),
        vs,
    ]
    .join("\n---\n");
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);
    assert_eq!(
        app.get("/r", &[("end-user", "jason")]).await,
        (StatusCode::OK, "v2".into())
    );
    assert_eq!(app.get("/r", &[]).await, (StatusCode::OK, "v1".into()));
    assert_eq!(
        app.get("/r", &[("end-user", "bob")]).await,
        (StatusCode::OK, "v1".into())
    );
    assert_eq!((hits_of(&hits, "v1"), hits_of(&hits, "v2")), (2, 1));
    assert_eq!(
        sidecar.requests(&[
            "reporter=\"source\"",
            "source_principal=\"spiffe://cluster.local/ns/shop/sa/frontend\"",
            "response_code=\"200\"",
            "connection_security_policy=\"none\"",
        ]),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_90_10_canary_splits_5000_requests_within_2_percent() {
    let certs = Certs::new("out-canary");
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  http:\n  \
         - route:\n    - {{destination: {{host: {HOST}, subset: v1}}, weight: 90}}\n    \
         - {{destination: {{host: {HOST}, subset: v2}}, weight: 10}}\n"
    );
    let resources = [
        service_entry(&[("v1", v1), ("v2", v2)], ""),
        SUBSETS.into(),
        vs,
    ]
    .join("\n---\n");
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);
    let mut v2_answers = 0u32;
    for _ in 0..5000 {
        let (status, body) = app.get("/r", &[]).await;
        assert_eq!(status, StatusCode::OK);
        v2_answers += u32::from(body == "v2");
    }
    // 10% of 5,000 is 500; ±2 percentage points is ±100.
    assert!((400..=600).contains(&v2_answers), "v2 served {v2_answers}");
    assert_eq!(hits_of(&hits, "v1") + hits_of(&hits, "v2"), 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_timeout_answers_504_ut_against_a_hung_upstream() {
    let certs = Certs::new("out-timeout");
    let hits = Hits::default();
    let slow = upstream("slow", Behaviour::Hang, hits.clone()).await;
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  http:\n  \
         - timeout: 0.2s\n    route: [{{destination: {{host: {HOST}}}}}]\n"
    );
    let resources = [service_entry(&[("v1", slow)], ""), vs].join("\n---\n");
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);
    let (status, _) = app.get("/r", &[]).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(hits_of(&hits, "slow"), 1);
    assert_eq!(
        sidecar.requests(&["response_code=\"504\"", "response_flags=\"UT\""]),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_on_503_reach_the_upstream_attempts_plus_one_times() {
    let certs = Certs::new("out-retry");
    let hits = Hits::default();
    let failing = upstream("failing", Behaviour::Fail503, hits.clone()).await;
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  http:\n  \
         - retries: {{attempts: 3, retryOn: 5xx}}\n    route: [{{destination: {{host: {HOST}}}}}]\n"
    );
    let resources = [service_entry(&[("v1", failing)], ""), vs].join("\n---\n");
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);
    for _ in 0..2 {
        let (status, body) = app.get("/r", &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "failing")
        );
    }
    // Each request: the first try and 3 retries.
    assert_eq!(hits_of(&hits, "failing"), 8);
    assert_eq!(sidecar.requests(&["response_code=\"503\""]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_endpoint_is_ejected() {
    let certs = Certs::new("out-eject");
    let hits = Hits::default();
    let good = upstream("good", Behaviour::Ok, hits.clone()).await;
    let bad = upstream("bad", Behaviour::Fail503, hits.clone()).await;
    let dr = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  host: {HOST}\n  \
         trafficPolicy:\n    outlierDetection: {{consecutive5xxErrors: 3, interval: 10s, \
         baseEjectionTime: 60s, maxEjectionPercent: 50}}\n"
    );
    let resources = [service_entry(&[("v1", good), ("v1", bad)], ""), dr].join("\n---\n");
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);
    let mut ok = 0;
    for _ in 0..40 {
        ok += u32::from(app.get("/r", &[]).await.0 == StatusCode::OK);
    }
    // Three consecutive 503s eject it; it sees nothing after.
    assert_eq!(hits_of(&hits, "bad"), 3);
    assert_eq!(ok, 37);
}
