//! Hot reload: a valid change takes effect without a restart; an invalid one is rejected,
//! counted, and the last good snapshot keeps serving.

use std::time::Duration;

use http::StatusCode;
use mesh_core::{LoadOptions, MeshConfig};
use mesh_proxy::reload::ConfigSource;

use super::harness::{Certs, Running, mtls};
use super::{AUTHZ, PEER_AUTHN};

/// Writes a file in one step (rename), as a ConfigMap update does, so the watcher never sees
/// it half written.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = std::env::temp_dir().join(format!(
        "mesh-it-reload-{}-{}.tmp",
        std::process::id(),
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits for the watcher (it reacts asynchronously to file events).
async fn until(mut check: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !check() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the proxy never reloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_change_applies_and_an_invalid_one_is_rejected() {
    let certs = Certs::new("reload");
    let other = certs.client("production/other");
    let dir = std::env::temp_dir().join(format!("mesh-it-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("peerauthentication.yaml"), PEER_AUTHN).unwrap();
    let source = ConfigSource {
        paths: vec![dir.clone()],
        options: LoadOptions::default(),
        mesh_config: MeshConfig::default(),
    };
    let proxy = Running::start_watching(&certs, "production/myapp", "{app: myapp}", source).await;
    let addr = proxy.inbound;

    // No AuthorizationPolicy yet: anyone with mTLS gets through.
    let (status, _) = mtls(addr, &other, "GET", "/api/x").await.unwrap();
    assert_eq!(status, StatusCode::OK);

    // Adding the example policy denies `other` on /api/x without a restart.
    replace(&dir.join("authz.yaml"), AUTHZ);
    until(|| proxy.metric("mesh_config_reloads_total{result=\"applied\"}") >= 1).await;
    let (status, body) = mtls(addr, &other, "GET", "/api/x").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::FORBIDDEN, "RBAC: access denied")
    );

    // A broken edit is rejected as a whole; the policy in force stays.
    std::fs::write(
        dir.join("authz.yaml"),
        AUTHZ.replace("action: ALLOW", "action: MAYBE"),
    )
    .unwrap();
    until(|| proxy.metric("mesh_config_reloads_total{result=\"rejected\"}") >= 1).await;
    let (status, body) = mtls(addr, &other, "GET", "/api/x").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::FORBIDDEN, "RBAC: access denied")
    );
    let (status, _) = mtls(addr, &other, "GET", "/health").await.unwrap();
    assert_eq!(status, StatusCode::OK);

    proxy.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
