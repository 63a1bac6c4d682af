//! A tour of the shipped example resources: loads each Istio, Linkerd and SMI example, asks the
//! mesh engines what they would do with a few requests, and prints a short report.
//!
//! Run: `cargo run --example tour` (from the repository root).

use std::path::{Path, PathBuf};

use mesh_core::explain::{ExplainRequest, Explanation, ProxyScope, explain};
use mesh_core::model::Workload;
use mesh_core::{LoadOptions, Loaded, Mesh, MeshConfig};

fn main() {
    tour();
}

/// The whole tour; panics with the request and the error if any step fails (the end-to-end
/// tests run it too, so the tour cannot rot).
pub fn tour() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/resources");
    let all = Loaded::from_paths(&[&dir], LoadOptions::default());
    println!("== Validation of {} ({} files)", dir.display(), all.files);
    let sources = all.sources.clone();
    match Mesh::from_loaded(all, MeshConfig::default()) {
        Ok((mesh, warnings)) => {
            println!(
                "   {} resources valid, {} warning(s)",
                mesh.resources().len(),
                warnings.len()
            );
            for w in &warnings {
                print!("{}", indent(&w.render(&sources)));
            }
        }
        Err(e) => {
            for d in &e.diagnostics {
                print!("{}", d.render(&e.sources));
            }
            eprintln!("{e}");
            std::process::exit(1);
        }
    }

    section("VirtualService myapp + DestinationRule myapp");
    let m = mesh(&dir, &["virtualservice-myapp", "destinationrule-myapp"]);
    let e = ask(&m, "GET http://myapp/home", &[("x-version", "v2")], 0);
    line(
        "header x-version: v2",
        &format!("rule {} -> {}", rule(&e), picked(&e)),
    );
    let e = ask(&m, "GET http://myapp/api/users", &[], 0);
    let observed = (0..10_000u64)
        .filter(|s| picked(&ask(&m, "GET http://myapp/api/users", &[], *s)).ends_with("v2"))
        .count();
    line(
        "GET /api/users (canary)",
        &format!(
            "rule {} -> {} ; observed v2 share over 10,000 picks: {:.1}%",
            rule(&e),
            split(&e),
            observed as f64 / 100.0
        ),
    );
    let e = ask(&m, "POST http://myapp/orders", &[], 0);
    let r = e.route.retries.as_ref().expect("retries");
    line(
        "POST /orders (default rule)",
        &format!(
            "rule {} -> {} ; timeout {} ms ; {} retries on {:?} codes {:?} ; per try {} ms ; LB {}",
            rule(&e),
            picked(&e),
            e.route.timeout_ms.unwrap_or(0),
            r.attempts,
            r.retry_on,
            r.retriable_status_codes,
            r.per_try_timeout_ms.unwrap_or(0),
            e.destination_policy
                .as_ref()
                .map_or("-".into(), |p| p.load_balancer["simple"].to_string())
        ),
    );

    section("Gateway myapp-gateway");
    let m = mesh(
        &dir,
        &[
            "gateway-myapp",
            "virtualservice-myapp",
            "destinationrule-myapp",
        ],
    );
    let e = at_gateway(&m, 80, "GET http://myapp.example.com/api/x");
    line(
        "port 80",
        &format!(
            "{} {}",
            e.route.status.unwrap_or(0),
            e.route.redirect.map(|r| r.location).unwrap_or_default()
        ),
    );
    let e = at_gateway(&m, 443, "GET https://myapp.example.com/api/x");
    line(
        "port 443 (TLS terminated)",
        &format!("rule {} -> {}", rule(&e), split(&e)),
    );

    section("VirtualService myapp-fault");
    let m = mesh(&dir, &["virtualservice-fault"]);
    let e = ask(&m, "GET http://myapp/", &[("x-test-fault", "inject")], 0);
    let f = e.route.fault.as_ref().expect("fault");
    let (d, a) = (
        f.delay.as_ref().expect("delay"),
        f.abort.as_ref().expect("abort"),
    );
    line(
        "x-test-fault: inject",
        &format!(
            "delay {} ms for {}% ; abort {} for {}%",
            d.fixed_delay_ms,
            d.percentage,
            a.http_status.unwrap_or(0),
            a.percentage
        ),
    );
    let e = ask(&m, "GET http://myapp/", &[], 0);
    line(
        "no header",
        &format!("rule {} -> {} ; fault: none", rule(&e), picked(&e)),
    );

    section("VirtualService myapp-mirror");
    let m = mesh(&dir, &["virtualservice-mirror", "destinationrule-myapp"]);
    let e = ask(&m, "GET http://myapp/", &[], 0);
    let mirror = &e.route.mirror[0];
    line(
        "any request",
        &format!(
            "-> {} ; mirrored to {}/{} at {}%",
            picked(&e),
            mirror.host,
            mirror.subset.clone().unwrap_or_default(),
            mirror.percentage
        ),
    );

    section("DestinationRule myapp-circuit-breaker");
    let m = mesh(&dir, &["destinationrule-circuit-breaker"]);
    let p = m.destination_policy(
        "myapp.production.svc.cluster.local",
        "production",
        None,
        None,
    );
    let c = &p.connection_pool;
    let o = p.outlier_detection.expect("outlier detection");
    line(
        "limits",
        &format!(
            "maxConnections {} ; pending {} ; requests {} ; per connection {} ; eject after {} x 5xx for {} s (up to {}%)",
            c.max_connections,
            c.http1_max_pending_requests,
            c.http2_max_requests,
            c.max_requests_per_connection,
            o.consecutive_5xx,
            o.base_ejection_time.as_millis() / 1000,
            o.max_ejection_percent
        ),
    );

    section("ServiceProfile myapp (Linkerd)");
    let m = mesh(&dir, &["serviceprofile-myapp"]);
    for req in [
        "GET http://myapp/api/users",
        "POST http://myapp/api/orders",
        "GET http://myapp/other",
    ] {
        let e = ask(&m, req, &[], 0);
        let p = e.profile.expect("profile");
        line(
            req,
            &format!(
                "route {} ; timeout {} ; retryable {} ; budget {}",
                p.route.as_deref().unwrap_or("none (default)"),
                p.timeout_ms
                    .map_or_else(|| "none".to_owned(), |t| format!("{t} ms")),
                p.retryable,
                p.retry_budget
            ),
        );
    }

    section("TrafficSplit myapp-canary (SMI)");
    let m = mesh(&dir, &["trafficsplit-canary"]);
    let e = ask(&m, "GET http://myapp/", &[], 0);
    let s = e.traffic_split.expect("split");
    let shares: Vec<String> = s
        .backends
        .iter()
        .map(|b| format!("{} {}%", b.service, b.percent))
        .collect();
    line("apex myapp", &shares.join(" ; "));

    section("PeerAuthentication + AuthorizationPolicy at myapp (production/myapp, app=myapp)");
    let m = mesh(&dir, &["peerauthentication", "authorizationpolicy-myapp"]);
    let frontend = Some("cluster.local/ns/production/sa/frontend");
    let other = Some("cluster.local/ns/production/sa/other");
    for (req, principal) in [
        ("GET /api/users", frontend),
        ("GET /api/users", other),
        ("DELETE /api/users", frontend),
        ("GET /health", other),
        ("GET /api/../admin", frontend),
        ("GET /health", None),
    ] {
        let (method, path) = req.split_once(' ').unwrap_or(("GET", req));
        let who = principal.map_or("plaintext", |p| p.rsplit('/').next().unwrap_or(p));
        let req = &format!("{method} http://myapp:8080{path}");
        let e = at_myapp(&m, req, principal);
        let (mtls, authz) = (e.mtls.expect("mtls"), e.authz.expect("authz"));
        let verdict = if !mtls.accepted {
            format!(
                "connection refused: PeerAuthentication {} on port {}",
                mtls.mode, mtls.port
            )
        } else {
            format!(
                "{} {} ; {}",
                authz.decision,
                authz
                    .status
                    .map_or_else(|| "forwarded".to_owned(), |s| s.to_string()),
                authz.reason
            )
        };
        line(&format!("{method} {path} from {who}"), &verdict);
    }
}

/// `req` received by production/myapp's sidecar from `principal` (mTLS), or in plaintext.
fn at_myapp(m: &Mesh, req: &str, principal: Option<&str>) -> Explanation {
    let myapp = Workload {
        namespace: "production".into(),
        name: "myapp".into(),
        labels: [("app".to_owned(), "myapp".to_owned())].into(),
    };
    let mut r = ExplainRequest::from_line(req, &[], ProxyScope::Sidecar(myapp.clone()))
        .unwrap_or_else(|e| panic!("{req}: {e}"))
        .with_destination(myapp);
    r.source.principal = principal.map(str::to_owned);
    r.source.mtls = principal.is_some();
    explain(m, &r).unwrap_or_else(|e| panic!("{req}: {e}"))
}

fn mesh(dir: &Path, names: &[&str]) -> Mesh {
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(format!("{n}.yaml")))
        .collect();
    let loaded = Loaded::from_paths(&paths, LoadOptions::default());
    match Mesh::from_loaded(loaded, MeshConfig::default()) {
        Ok((m, _)) => m,
        Err(e) => panic!("{e}"),
    }
}

fn ask(m: &Mesh, line: &str, headers: &[(&str, &str)], seed: u64) -> Explanation {
    run(
        m,
        line,
        headers,
        seed,
        ProxyScope::Sidecar(Workload {
            namespace: "production".into(),
            name: "frontend".into(),
            labels: Default::default(),
        }),
    )
}

fn at_gateway(m: &Mesh, port: u16, line: &str) -> Explanation {
    run(
        m,
        line,
        &[],
        0,
        ProxyScope::Gateway {
            gateway: "production/myapp-gateway".into(),
            port,
        },
    )
}

fn run(
    m: &Mesh,
    line: &str,
    headers: &[(&str, &str)],
    seed: u64,
    scope: ProxyScope,
) -> Explanation {
    ExplainRequest::from_line(line, headers, scope)
        .and_then(|r| explain(m, &r.with_seed(seed)))
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn rule(e: &Explanation) -> String {
    e.route.rule.map_or("default".into(), |r| r.to_string())
}

fn picked(e: &Explanation) -> String {
    e.route.picked.as_ref().map_or("-".into(), |d| {
        format!("{} subset {}", d.host, d.subset.as_deref().unwrap_or("-"))
    })
}

fn split(e: &Explanation) -> String {
    let parts: Vec<String> = e
        .route
        .destinations
        .iter()
        .map(|d| format!("{} {}%", d.subset.as_deref().unwrap_or(&d.host), d.percent))
        .collect();
    parts.join(" / ")
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn line(what: &str, result: &str) {
    println!("   {what:<32} {result}");
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}
