//! Native cost of `route` for the request the Python and Node per-call benches send, so their
//! overhead is the difference (`route_native_default`: the same request on a mesh without
//! resources, where the engine does almost nothing).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_bindings::{RequestSpec, mesh_from_path, route};

fn bench(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/resources");
    let (mesh, _) = mesh_from_path(&dir).expect("examples load");
    let req = RequestSpec::from_json(
        r#"{"url": "http://myapp.production.svc.cluster.local/api/users",
            "headers": {"x-version": "v2"}, "workload": "production/frontend"}"#,
    )
    .expect("request parses");
    c.bench_function("bindings/route_native", |b| {
        b.iter(|| route(black_box(&mesh), black_box(&req)).expect("routes"))
    });
    // No resources: the mesh default route (a full route object, tiny engine work), so the
    // bindings' figures for the same call are almost all overhead.
    let (empty, _) = mesh_bindings::mesh_from_yaml("", "empty.yaml").expect("empty mesh builds");
    c.bench_function("bindings/route_native_default", |b| {
        b.iter(|| route(black_box(&empty), black_box(&req)).expect("routes"))
    });
    c.bench_function("bindings/request_from_json", |b| {
        b.iter(|| {
            RequestSpec::from_json(black_box(
                r#"{"url": "http://myapp/api/users", "headers": {"x-version": "v2"}}"#,
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
