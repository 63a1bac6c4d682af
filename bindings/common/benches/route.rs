//! Native cost of `route` for the request the Python and Node per-call benches send, so their
//! overhead is the difference (`route_native_default`: the same request on a mesh without
//! resources, where the engine does almost nothing). The `*_cpu` figures are the thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`, what `bench.py` and `bench.mjs` read), which a loaded
//! machine inflates far less than wall time.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_bindings::positional::Positional;
use mesh_bindings::{RequestSpec, Sidecars, mesh_from_path, route, route_cached, route_owned};

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
    // What the bindings call: the sidecar's virtual hosts built once per workload.
    let sidecars = Sidecars::default();
    c.bench_function("bindings/route_native_cached", |b| {
        b.iter(|| route_cached(black_box(&mesh), &sidecars, black_box(&req)).expect("routes"))
    });
    c.bench_function("bindings/route_native_cached_cpu", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                route_cached(black_box(&mesh), &sidecars, black_box(&req)).expect("routes");
            })
        })
    });
    let authz = mesh_bindings::compile_authz(&mesh);
    let inbound = RequestSpec::from_json(
        r#"{"url": "http://myapp.production/api/x", "mtls": true,
            "source_principal": "cluster.local/ns/production/sa/frontend",
            "destination_workload": "production/myapp", "destination_labels": {"app": "myapp"}}"#,
    )
    .expect("request parses");
    c.bench_function("bindings/authorize_native_cpu", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                let _ = mesh_bindings::authorize(black_box(&mesh), &authz, black_box(&inbound));
            })
        })
    });
    // No resources: the mesh default route (a full route object, tiny engine work), so the
    // bindings' figures for the same call are almost all overhead.
    let (empty, _) = mesh_bindings::mesh_from_yaml("", "empty.yaml").expect("empty mesh builds");
    c.bench_function("bindings/route_native_default", |b| {
        b.iter(|| route(black_box(&empty), black_box(&req)).expect("routes"))
    });
    let empty_sidecars = Sidecars::default();
    c.bench_function("bindings/route_native_default_cached_cpu", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                route_cached(black_box(&empty), &empty_sidecars, black_box(&req)).expect("routes");
            })
        })
    });
    // The Node binding's whole native path short of napi: the request's JSON text parsed,
    // routed, and the decision written (keyed as before, positional now; the request copied
    // into the engine's as before, moved now).
    let text = r#"{"url":"http://myapp.production.svc.cluster.local/api/users","headers":{"x-version":"v2"},"workload":"production/frontend"}"#;
    let mut out = Vec::with_capacity(4096);
    c.bench_function("bindings/route_text_keyed_cpu", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                let spec: RequestSpec = serde_json::from_str(black_box(text)).expect("parses");
                let view = route_cached(&mesh, &sidecars, &spec).expect("routes");
                out.clear();
                serde_json::to_writer(&mut out, &view).expect("writes");
            })
        })
    });
    c.bench_function("bindings/route_text_positional_cpu", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                let spec: RequestSpec = serde_json::from_str(black_box(text)).expect("parses");
                let view = route_owned(&mesh, &sidecars, spec).expect("routes");
                out.clear();
                serde_json::to_writer(&mut out, &Positional(&view)).expect("writes");
            })
        })
    });
    c.bench_function("bindings/request_from_json", |b| {
        b.iter(|| {
            RequestSpec::from_json(black_box(
                r#"{"url": "http://myapp/api/users", "headers": {"x-version": "v2"}}"#,
            ))
        })
    });
}

/// The CPU time this thread spends running `f` `n` times.
fn cpu(n: u64, mut f: impl FnMut()) -> Duration {
    let start = thread_cpu();
    for _ in 0..n {
        f();
    }
    thread_cpu().saturating_sub(start)
}

fn thread_cpu() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(ts.tv_sec.unsigned_abs(), ts.tv_nsec.unsigned_abs() as u32)
}

criterion_group!(benches, bench);
criterion_main!(benches);
