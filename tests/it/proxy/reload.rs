//! Hot reload: a valid change takes effect without a restart; an invalid one is rejected,
//! counted, and the last good snapshot keeps serving.

use std::time::Duration;

use http::StatusCode;
use mesh_core::{LoadOptions, MeshConfig};
use mesh_proxy::reload::ConfigSource;

use super::harness::{Certs, Running, mtls};
use super::{AUTHZ, PEER_AUTHN};

/// Retries `probe` until it returns `want` (the watcher reacts asynchronously).
async fn until_status<F, Fut>(want: StatusCode, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    tokio::time::timeout(Duration::from_secs(20), async {
        while probe().await != want {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never answered {want}"));
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
    std::fs::write(dir.join("authz.yaml"), AUTHZ).unwrap();
    until_status(StatusCode::FORBIDDEN, || async {
        mtls(addr, &other, "GET", "/api/x").await.unwrap().0
    })
    .await;
    assert!(proxy.metric("mesh_config_reloads_total{result=\"applied\"}") >= 1);

    // A broken edit is rejected as a whole; the policy in force stays.
    std::fs::write(
        dir.join("authz.yaml"),
        AUTHZ.replace("action: ALLOW", "action: MAYBE"),
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while proxy.metric("mesh_config_reloads_total{result=\"rejected\"}") == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the invalid change was never rejected");
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
