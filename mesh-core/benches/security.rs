//! Security engine benchmarks (issue 4 targets): a 10-rule policy <= 200 ns, 100 policies x 5
//! rules <= 1 us, normalizing a typical path <= 100 ns.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::Mesh;
use mesh_core::model::Workload;
use mesh_core::security::authz::{
    AuthzPolicies, AuthzRequest, HttpAttributes, NoCustomProvider, WorkloadAuthz,
};
use mesh_core::security::conn::{ConnectionFacts, PeerIdentity};
use mesh_core::security::normalize::{PathNormalization, normalize};

fn policy(name: &str, action: &str, rules: &[String]) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  \
         namespace: ns\nspec:\n  action: {action}\n  rules:\n{}---\n",
        rules.concat()
    )
}

/// A rule over source principal, method, path prefix, port and a header: the shape of
/// production policies.
fn rule(i: usize) -> String {
    format!(
        "  - from: [{{source: {{principals: [cluster.local/ns/client{i}/sa/client]}}}}]\n    \
         to: [{{operation: {{methods: [GET, POST], paths: ['/api/v{i}/*'], ports: ['8080']}}}}]\n    \
         when: [{{key: 'request.headers[x-tenant]', values: [tenant-{i}]}}]\n"
    )
}

fn compile(text: &str) -> WorkloadAuthz {
    let (mesh, _) = Mesh::from_yaml("bench.yaml", text).expect("valid bench policies");
    let (p, issues) = AuthzPolicies::from_mesh(&mesh);
    assert!(issues.is_empty());
    let w = Workload {
        namespace: "ns".to_owned(),
        name: "app".to_owned(),
        ..Workload::default()
    };
    p.for_workload(&w)
}

fn bench_authz(c: &mut Criterion) {
    let ten = compile(&policy(
        "ten",
        "ALLOW",
        &(0..10).map(rule).collect::<Vec<_>>(),
    ));
    // 100 policies x 5 rules: 50 DENY (none matches) and 50 ALLOW (only the last rule of the
    // last policy matches): every rule is evaluated.
    let mut text = String::new();
    for p in 0..100 {
        let action = if p < 50 { "DENY" } else { "ALLOW" };
        let rules: Vec<String> = (0..5).map(|r| rule(1000 + p * 5 + r)).collect();
        text.push_str(&policy(&format!("p{p}"), action, &rules));
    }
    let hundred = compile(&text);

    let mut headers = http::HeaderMap::new();
    headers.insert("x-tenant", http::HeaderValue::from_static("tenant-9"));
    let peer = PeerIdentity::from_principal("cluster.local/ns/client9/sa/client").unwrap();
    let conn = ConnectionFacts::plaintext("10.1.2.3".parse().unwrap(), 8080).with_peer(peer);
    let req = AuthzRequest {
        conn: &conn,
        http: Some(HttpAttributes {
            method: "GET",
            authority: "app.ns.svc.cluster.local",
            path: "/api/v9/users/42",
            headers: &headers,
            auth: None,
        }),
    };
    assert!(ten.evaluate(&req, &NoCustomProvider).is_allowed());
    c.bench_function("authz/10_rules_last_matches", |b| {
        b.iter(|| {
            black_box(&ten)
                .evaluate(black_box(&req), &NoCustomProvider)
                .is_allowed()
        })
    });

    let mut headers = http::HeaderMap::new();
    headers.insert("x-tenant", http::HeaderValue::from_static("tenant-1499"));
    let peer = PeerIdentity::from_principal("cluster.local/ns/client1499/sa/client").unwrap();
    let conn = ConnectionFacts::plaintext("10.1.2.3".parse().unwrap(), 8080).with_peer(peer);
    let req = AuthzRequest {
        conn: &conn,
        http: Some(HttpAttributes {
            method: "POST",
            authority: "app.ns.svc.cluster.local",
            path: "/api/v1499/orders",
            headers: &headers,
            auth: None,
        }),
    };
    assert!(hundred.evaluate(&req, &NoCustomProvider).is_allowed());
    c.bench_function("authz/100_policies_x_5_rules", |b| {
        b.iter(|| {
            black_box(&hundred)
                .evaluate(black_box(&req), &NoCustomProvider)
                .is_allowed()
        })
    });
    // The same policies for an opaque TCP connection: no path, so no index; every rule is
    // scanned (the worst case, for contrast).
    let tcp = AuthzRequest {
        conn: &conn,
        http: None,
    };
    c.bench_function("authz/100_policies_x_5_rules_tcp_linear", |b| {
        b.iter(|| {
            black_box(&hundred)
                .evaluate(black_box(&tcp), &NoCustomProvider)
                .is_allowed()
        })
    });
}

fn bench_normalize(c: &mut Criterion) {
    let typical = "/api/v1/users/42/orders?limit=10&sort=desc";
    c.bench_function("normalize/typical_base", |b| {
        b.iter(|| normalize(black_box(typical), PathNormalization::Base).map(|n| n.path.len()))
    });
    c.bench_function("normalize/typical_decode_and_merge", |b| {
        b.iter(|| {
            normalize(black_box(typical), PathNormalization::DecodeAndMergeSlashes)
                .map(|n| n.path.len())
        })
    });
    let dirty = "/api/v1/../v2/./users//%34%32/orders?limit=10";
    c.bench_function("normalize/dirty_decode_and_merge", |b| {
        b.iter(|| {
            normalize(black_box(dirty), PathNormalization::DecodeAndMergeSlashes)
                .map(|n| n.path.len())
        })
    });
}

criterion_group!(benches, bench_authz, bench_normalize);
criterion_main!(benches);
