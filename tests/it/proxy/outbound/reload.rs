//! Hot reload of the outbound path: a changed VirtualService takes effect without a restart.

use std::time::Duration;

use http::StatusCode;
use mesh_core::{LoadOptions, MeshConfig};
use mesh_proxy::reload::ConfigSource;

use super::{App, Behaviour, HOST, Hits, SUBSETS, Sidecar, service_entry, upstream};
use crate::proxy::harness::Certs;

fn route_to(subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: reviews, namespace: shop}}\nspec:\n  hosts: [{HOST}]\n  http:\n  \
         - route: [{{destination: {{host: {HOST}, subset: {subset}}}}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_virtual_service_reroutes_outbound_traffic_without_a_restart() {
    let certs = Certs::new("out-reload");
    let hits = Hits::default();
    let v1 = upstream("v1", Behaviour::Ok, hits.clone()).await;
    let v2 = upstream("v2", Behaviour::Ok, hits.clone()).await;
    let dir = std::env::temp_dir().join(format!("mesh-it-out-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = [service_entry(&[("v1", v1), ("v2", v2)], ""), SUBSETS.into()].join("\n---\n");
    std::fs::write(dir.join("base.yaml"), base).unwrap();
    std::fs::write(dir.join("vs.yaml"), route_to("v1")).unwrap();
    let source = ConfigSource {
        paths: vec![dir.clone()],
        options: LoadOptions::default(),
        mesh_config: MeshConfig::default(),
    };
    let mesh = source.load().unwrap();
    let sidecar = Sidecar::start_mesh(&certs, mesh, Some(source)).await;
    let app = App::new(&sidecar);
    assert_eq!(app.get("/r", &[]).await, (StatusCode::OK, "v1".into()));

    // Replace in one step (rename), as a ConfigMap update does.
    let tmp = std::env::temp_dir().join(format!("mesh-it-out-reload-{}.tmp", std::process::id()));
    std::fs::write(&tmp, route_to("v2")).unwrap();
    std::fs::rename(&tmp, dir.join("vs.yaml")).unwrap();
    let applied = "mesh_config_reloads_total{result=\"applied\"}";
    tokio::time::timeout(Duration::from_secs(20), async {
        while crate::proxy::harness::series_sum(&sidecar.metrics.encode(), applied, &[]) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the proxy never reloaded");
    assert_eq!(app.get("/r", &[]).await, (StatusCode::OK, "v2".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}
