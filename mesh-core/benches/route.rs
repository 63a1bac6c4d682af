//! Route selection and snapshot build (issue 2 targets: <= 100 ns per decision at 100 routes,
//! <= 200 ns at 1,000, snapshot build of 1,000 resources <= 50 ms). Figures: docs/benchmarks.md.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::model::{Mesh, MeshConfig, Workload};
use mesh_core::route::RouteRequest;
use mesh_core::split::WeightedSet;
use mesh_core::{LoadOptions, Loaded};

/// One VirtualService for `shop.prod.svc.cluster.local` with `n` rules: a mix of exact and
/// prefix paths (some with a header or method condition), a few regexes, then a catch-all.
fn route_table_yaml(n: usize) -> String {
    let mut s = String::from(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: shop\n  \
         namespace: prod\nspec:\n  hosts: [shop]\n  http:\n",
    );
    for i in 0..n.saturating_sub(1) {
        let m = match i % 10 {
            0 => format!("uri: {{exact: /api/v1/item{i}}}"),
            1 => format!("uri: {{prefix: /svc{i}/}}\n      headers: {{x-tier: {{exact: gold}}}}"),
            2 => format!("uri: {{prefix: /svc{i}/}}\n      method: {{exact: POST}}"),
            3 if i % 100 == 3 => format!("uri: {{regex: \"/re{i}/[0-9]+\"}}"),
            _ => format!("uri: {{prefix: /svc{i}/}}"),
        };
        let _ = write!(
            s,
            "  - match:\n    - {m}\n    route:\n    - destination: {{host: shop, subset: s{}}}\n",
            i % 4
        );
    }
    s.push_str("  - route:\n    - destination: {host: shop}\n");
    s
}

fn bench_route(c: &mut Criterion) {
    let workload = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: Default::default(),
    };
    for n in [100usize, 1000] {
        let (mesh, _) = Mesh::from_yaml("bench.yaml", &route_table_yaml(n)).expect("valid");
        let vhosts = mesh.sidecar_routes(&workload);
        let headers = http::HeaderMap::new();
        let hit_path = format!("/svc{}/orders/42", n - 6);
        let req = |path: &'static str| RouteRequest {
            method: "GET",
            scheme: "http",
            authority: "shop",
            path,
            query: None,
            headers: &headers,
            port: 80,
        };
        let hit_path: &'static str = Box::leak(hit_path.into_boxed_str());
        let hit = req(hit_path);
        // No rule matches: only the catch-all at the end answers.
        let miss = req("/nowhere/at/all");
        assert!(matches!(
            mesh.route_sidecar(&vhosts, "prod", &hit).0,
            mesh_core::route::Decision::Route { entry, .. } if entry.rule.index == n - 6
        ));
        let mut g = c.benchmark_group(format!("route_{n}"));
        g.bench_function("hit_late_rule", |b| {
            b.iter(|| black_box(mesh.route_sidecar(&vhosts, "prod", black_box(&hit)).0));
        });
        g.bench_function("miss_to_catch_all", |b| {
            b.iter(|| black_box(mesh.route_sidecar(&vhosts, "prod", black_box(&miss)).0));
        });
        let table = &vhosts.iter().next().expect("one host").routes;
        g.bench_function("table_find_hit", |b| {
            b.iter(|| black_box(table.find(black_box(&hit))));
        });
        g.bench_function("table_scan_hit_reference", |b| {
            b.iter(|| black_box(table.scan(black_box(&hit))));
        });
        g.finish();
    }
}

/// 1,000 resources: 400 VirtualServices, 300 DestinationRules, 300 ServiceEntries.
fn snapshot_yaml() -> String {
    let mut s = String::new();
    for i in 0..400 {
        let _ = write!(
            s,
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs{i}, \
             namespace: ns{}}}\nspec:\n  hosts: [svc{i}]\n  http:\n  - match:\n    - headers: \
             {{x-version: {{exact: v2}}}}\n    route:\n    - destination: {{host: svc{i}, \
             subset: v2}}\n  - match:\n    - uri: {{prefix: /api}}\n    route:\n    - \
             destination: {{host: svc{i}, subset: v1}}\n      weight: 90\n    - destination: \
             {{host: svc{i}, subset: v2}}\n      weight: 10\n  - route:\n    - destination: \
             {{host: svc{i}}}\n    timeout: 30s\n---\n",
            i % 20
        );
    }
    for i in 0..300 {
        let _ = write!(
            s,
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: dr{i}, \
             namespace: ns{}}}\nspec:\n  host: svc{i}\n  trafficPolicy:\n    connectionPool:\n      \
             http: {{http1MaxPendingRequests: 100}}\n    outlierDetection: {{consecutive5xxErrors: \
             5, interval: 10s, baseEjectionTime: 30s}}\n  subsets:\n  - name: v1\n    labels: \
             {{version: v1}}\n  - name: v2\n    labels: {{version: v2}}\n---\n",
            i % 20
        );
    }
    for i in 0..300 {
        let _ = write!(
            s,
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: se{i}, \
             namespace: ns{}}}\nspec:\n  hosts: [ext{i}.example.com]\n  location: \
             MESH_EXTERNAL\n  resolution: STATIC\n  ports:\n  - {{number: 443, name: https, \
             protocol: HTTPS}}\n  endpoints:\n  - {{address: 10.0.{}.{}}}\n---\n",
            i % 20,
            i / 250,
            i % 250
        );
    }
    s
}

fn bench_snapshot(c: &mut Criterion) {
    let text = snapshot_yaml();
    let loaded = Loaded::from_str("bench.yaml", &text, LoadOptions::default());
    assert_eq!(loaded.resources.len(), 1000);
    assert!(!mesh_core::diag::has_errors(&loaded.diagnostics));
    let mut g = c.benchmark_group("snapshot_1000_resources");
    g.sample_size(10);
    g.bench_function("build", |b| {
        b.iter(|| Mesh::build(black_box(loaded.resources.clone()), MeshConfig::default()));
    });
    g.bench_function("parse_validate_build", |b| {
        b.iter(|| Mesh::from_yaml("bench.yaml", black_box(&text)).is_ok());
    });
    g.finish();
}

fn bench_weighted_pick(c: &mut Criterion) {
    use rand::SeedableRng;
    let canary = WeightedSet::istio(vec![("v1", 90), ("v2", 10)]).expect("non-empty");
    let five = WeightedSet::istio((0..5).map(|i| (i, 20)).collect()).expect("non-empty");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut g = c.benchmark_group("weighted_pick");
    g.bench_function("canary_90_10", |b| {
        b.iter(|| black_box(canary.pick(&mut rng).0))
    });
    g.bench_function("five_way", |b| b.iter(|| black_box(five.pick(&mut rng).0)));
    g.finish();
}

criterion_group!(benches, bench_route, bench_snapshot, bench_weighted_pick);
criterion_main!(benches);
