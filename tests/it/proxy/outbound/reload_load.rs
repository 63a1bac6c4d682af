//! Hot reload under load: while local clients keep sending, the config directory changes
//! several times; every change is applied and no request fails (issue 5: "no request fails
//! because of a reload").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::StatusCode;
use mesh_core::{LoadOptions, MeshConfig};
use mesh_proxy::reload::ConfigSource;

use super::myapp::{DR_MYAPP, MYAPP, Reply, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::{Certs, series_sum};

fn route_to(subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: myapp, namespace: production}}\nspec:\n  hosts: [myapp]\n  http:\n  \
         - route: [{{destination: {{host: myapp, subset: {subset}}}}}]\n"
    )
}

/// Waits for `check`, generously: the machine is shared with other tests under load.
async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !check() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_continuous_traffic_fail_no_request() {
    let certs = Certs::new("out-reload-load");
    let v1 = Upstream::start("v1", Reply::Status(StatusCode::OK)).await;
    let v2 = Upstream::start("v2", Reply::Status(StatusCode::OK)).await;
    let dir = std::env::temp_dir().join(format!("mesh-it-reload-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = docs(&[
        &service_entry("myapp", &[("v1", v1.port), ("v2", v2.port)]),
        DR_MYAPP,
    ]);
    std::fs::write(dir.join("base.yaml"), base).unwrap();
    std::fs::write(dir.join("vs.yaml"), route_to("v1")).unwrap();
    let source = ConfigSource {
        paths: vec![dir.clone()],
        options: LoadOptions::default(),
        mesh_config: MeshConfig::default(),
    };
    let mesh = source.load().unwrap();
    let sidecar = Sidecar::start_mesh(&certs, mesh, Some(source)).await;
    let app = Arc::new(App::new(&sidecar));

    // Four clients, each sending back to back until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let a = send(&app, "GET", MYAPP, "/", &[]).await;
                    statuses.push((a.status, a.body));
                }
                statuses
            })
        })
        .collect();

    let applied = |m: &Sidecar| {
        series_sum(
            &m.metrics.encode(),
            "mesh_config_reloads_total{result=\"applied\"}",
            &[],
        )
    };
    // The proxy registers its watch before it serves: once traffic flows, changes are seen.
    wait_for("the first requests", || v1.hits() > 0).await;
    const CHANGES: u64 = 6;
    for i in 0..CHANGES {
        let (seen_v1, seen_v2) = (v1.hits(), v2.hits());
        // Replace in one step (rename), as a ConfigMap update does.
        let tmp = dir.with_extension(format!("{i}.tmp"));
        let subset = if i % 2 == 0 { "v2" } else { "v1" };
        std::fs::write(&tmp, route_to(subset)).unwrap();
        std::fs::rename(&tmp, dir.join("vs.yaml")).unwrap();
        wait_for(&format!("change {i} applied"), || applied(&sidecar) > i).await;
        // Traffic keeps flowing, now to the new subset.
        let target = if subset == "v2" { &v2 } else { &v1 };
        let before = if subset == "v2" { seen_v2 } else { seen_v1 };
        wait_for(&format!("traffic to {subset}"), || {
            target.hits() > before + 20
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        for (status, body) in c.await.unwrap() {
            assert_eq!(status, StatusCode::OK, "{body}");
            total += 1;
        }
    }
    assert!(total > 100, "only {total} requests ran");
    assert!(applied(&sidecar) >= CHANGES);
    assert_eq!(sidecar.requests(&["response_code=\"200\""]), total as u64);
    std::fs::remove_dir_all(&dir).unwrap();
}
