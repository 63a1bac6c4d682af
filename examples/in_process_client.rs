//! In-process (proxyless) mesh client: a hyper client wrapped in `MeshLayer`, so the mesh policy
//! of the shipped examples runs inside the application, with no sidecar.
//!
//! Three local hyper servers stand in for `myapp`'s endpoints (v1, v2 and a v1 endpoint that
//! always answers 503); a ServiceEntry giving their addresses is generated at startup with the
//! ports they were bound to. The client sends requests through the `myapp` VirtualService,
//! DestinationRule and ServiceProfile of `examples/resources` and prints what happened: the
//! 90/10 canary split, 503s retried onto the healthy endpoint, the failing endpoint ejected by
//! outlier detection, and retries of a 5xx storm capped by the Linkerd retry budget.
//!
//! Run: `cargo run --example in_process_client` (from the repository root).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_core::layer::mesh::{EndpointAddr, MeshLayer, MeshService};
use mesh_core::layer::retry::ReplayBody;
use mesh_core::model::Workload;
use mesh_core::{LoadOptions, Loaded, Mesh, MeshConfig};
use tower::{Layer, Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = Full<Bytes>;

/// Requests each local server received, by name.
pub type Hits = Arc<Mutex<BTreeMap<&'static str, u32>>>;

/// What the scenario observed.
#[derive(Debug, Default)]
pub struct Report {
    /// `GET /api/users`: requests sent and answered 200.
    pub canary_requests: u32,
    /// Of those, answered by v2.
    pub canary_v2: u32,
    /// `GET /home` (retries on 503): requests sent, answered 200, and 503s the failing
    /// endpoint answered (each retried).
    pub retry_requests: u32,
    /// Client-visible 200s among them.
    pub retry_ok: u32,
    /// 503s from the failing endpoint during the retry phase.
    pub retried_503s: u32,
    /// Requests the failing endpoint got after the retry phase (it is ejected: 0).
    pub failing_after_ejection: u32,
    /// `POST /api/orders?fail`: requests sent while every endpoint fails.
    pub storm_requests: u32,
    /// Upstream attempts they caused (requests plus the retries the budget allowed).
    pub storm_attempts: u32,
}

/// The endpoint of one server: a pooled hyper client bound to its address.
#[derive(Clone)]
struct Endpoint {
    client: Client<HttpConnector, ReplayBody<Body>>,
    authority: String,
}

impl Service<Request<ReplayBody<Body>>> for Endpoint {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<ReplayBody<Body>>) -> Self::Future {
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let uri = format!("http://{}{pq}", self.authority);
        let client = self.client.clone();
        Box::pin(async move {
            *req.uri_mut() = uri.parse::<Uri>()?;
            let (parts, body) = client.request(req).await?.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok(Response::from_parts(parts, Full::new(body)))
        })
    }
}

/// Starts a server on 127.0.0.1:0 answering 200 with its name (503 when `failing`, or when
/// the query asks for a failure).
async fn server(name: &'static str, failing: bool, hits: Hits) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let hits = hits.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                *hits.lock().expect("hits").entry(name).or_default() += 1;
                let fail = failing || req.uri().query().is_some_and(|q| q.contains("fail"));
                let mut rsp = Response::new(Full::new(Bytes::from(name)));
                if fail {
                    *rsp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                }
                async move { Ok::<_, Infallible>(rsp) }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc);
                // A client closing its pooled connection is not an error of the demo.
                let _ = conn.await;
            });
        }
    });
    Ok(addr)
}

/// `myapp`'s endpoints, at the ports the servers were bound to.
fn service_entry(v1: u16, v2: u16, failing: u16) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: myapp-endpoints, namespace: production}}
spec:
  hosts: [myapp.production.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  endpoints:
  - {{address: 127.0.0.1, ports: {{http: {v1}}}, labels: {{app: myapp, version: v1}}}}
  - {{address: 127.0.0.1, ports: {{http: {failing}}}, labels: {{app: myapp, version: v1}}}}
  - {{address: 127.0.0.1, ports: {{http: {v2}}}, labels: {{app: myapp, version: v2}}}}
"#
    )
}

type MeshClient = MeshService<Box<dyn Fn(&EndpointAddr) -> Endpoint + Send + Sync>>;

async fn send(
    mesh: &MeshClient,
    method: &str,
    path: &str,
) -> Result<(StatusCode, Bytes), BoxError> {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://myapp{path}"))
        .body(Full::default())?;
    let rsp = mesh.clone().oneshot(req).await?;
    let status = rsp.status();
    Ok((status, rsp.into_body().collect().await?.to_bytes()))
}

fn hits_of(hits: &Hits, name: &str) -> u32 {
    hits.lock().expect("hits").get(name).copied().unwrap_or(0)
}

/// Runs the whole scenario and reports what it observed.
pub async fn run() -> Result<Report, BoxError> {
    let hits = Hits::default();
    let v1 = server("v1", false, hits.clone()).await?;
    let v2 = server("v2", false, hits.clone()).await?;
    let failing = server("v1-failing", true, hits.clone()).await?;

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/resources");
    let files = [
        "virtualservice-myapp",
        "destinationrule-myapp",
        "serviceprofile-myapp",
    ]
    .map(|f| dir.join(format!("{f}.yaml")));
    let mut loaded = Loaded::from_paths(&files, LoadOptions::default());
    let endpoints = service_entry(v1.port(), v2.port(), failing.port());
    loaded.add_text("myapp-endpoints.yaml", &endpoints, LoadOptions::default());
    let (mesh, _warnings) = Mesh::from_loaded(loaded, MeshConfig::default())?;

    let client: Client<HttpConnector, ReplayBody<Body>> =
        Client::builder(TokioExecutor::new()).build_http();
    let connect: Box<dyn Fn(&EndpointAddr) -> Endpoint + Send + Sync> =
        Box::new(move |addr: &EndpointAddr| Endpoint {
            client: client.clone(),
            authority: addr.to_string(),
        });
    let frontend = Workload {
        namespace: "production".into(),
        name: "frontend".into(),
        labels: [("app".to_owned(), "frontend".to_owned())].into(),
    };
    let mesh: MeshClient = MeshLayer::try_new(Arc::new(mesh), frontend)?
        .with_seed(42)
        .layer(connect);
    let mut report = Report::default();

    // The default rule retries 503 up to 3 times on another host: the failing v1 endpoint's
    // answers are retried onto the healthy one, until outlier detection ejects it
    // (consecutive5xxErrors: 5).
    for _ in 0..20 {
        let (status, _) = send(&mesh, "GET", "/home").await?;
        report.retry_requests += 1;
        report.retry_ok += u32::from(status == StatusCode::OK);
    }
    report.retried_503s = hits_of(&hits, "v1-failing");

    // The canary rule: 90% v1, 10% v2. The ejected endpoint gets nothing.
    for _ in 0..1000 {
        let (status, body) = send(&mesh, "GET", "/api/users").await?;
        if status == StatusCode::OK {
            report.canary_requests += 1;
            report.canary_v2 += u32::from(body == "v2");
        }
    }
    report.failing_after_ejection = hits_of(&hits, "v1-failing") - report.retried_503s;

    // A 5xx storm on the ServiceProfile's retryable route: retries stop when the Linkerd
    // budget (20% of successes, plus 10 retries/s over 10 s) runs dry.
    let before: u32 = hits.lock().expect("hits").values().sum();
    for _ in 0..300 {
        send(&mesh, "POST", "/api/orders?fail=1").await?;
        report.storm_requests += 1;
    }
    let after: u32 = hits.lock().expect("hits").values().sum();
    report.storm_attempts = after - before;
    Ok(report)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let r = run().await?;
    println!("== In-process mesh client (MeshLayer over a hyper client)");
    println!(
        "   retries        GET /home x{}: {} answered 200; {} 503s from the failing v1 endpoint \
         were retried onto the healthy one",
        r.retry_requests, r.retry_ok, r.retried_503s
    );
    println!(
        "   outlier        the failing endpoint was ejected after {} consecutive 5xx; it got \
         {} of the next {} requests",
        r.retried_503s, r.failing_after_ejection, r.canary_requests
    );
    println!(
        "   canary split   GET /api/users x{}: v2 served {} ({:.1}%, configured 10%)",
        r.canary_requests,
        r.canary_v2,
        f64::from(r.canary_v2) * 100.0 / f64::from(r.canary_requests.max(1))
    );
    println!(
        "   retry budget   POST /api/orders x{} while every endpoint fails: {} upstream \
         attempts ({} retries; the budget allows 20% of successes plus 10/s over 10 s)",
        r.storm_requests,
        r.storm_attempts,
        r.storm_attempts - r.storm_requests
    );
    Ok(())
}
