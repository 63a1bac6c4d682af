//! The shipped SMI `trafficsplit-canary.yaml` through the outbound path: requests for the
//! apex service `myapp` go to the `myapp-v1` and `myapp-v2` backend services at 900m:100m.

use http::StatusCode;

use super::myapp::{MYAPP, Reply, SPLIT, Upstream, docs, send, service_entry};
use super::{App, Sidecar};
use crate::proxy::harness::Certs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_split_converges_to_90_10() {
    let certs = Certs::new("out-smi-split");
    let apex = Upstream::start("apex", Reply::Status(StatusCode::OK)).await;
    let v1 = Upstream::start("myapp-v1", Reply::Status(StatusCode::OK)).await;
    let v2 = Upstream::start("myapp-v2", Reply::Status(StatusCode::OK)).await;
    let resources = docs(&[
        &service_entry("myapp", &[("v1", apex.port)]),
        &service_entry("myapp-v1", &[("v1", v1.port)]),
        &service_entry("myapp-v2", &[("v2", v2.port)]),
        SPLIT,
    ]);
    let sidecar = Sidecar::start(&certs, &resources).await;
    let app = App::new(&sidecar);

    const N: usize = 2000;
    let mut to_v2 = 0;
    for _ in 0..N {
        let a = send(&app, "GET", MYAPP, "/", &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        match a.body.as_str() {
            "myapp-v1" => {}
            "myapp-v2" => to_v2 += 1,
            other => panic!("served by {other}"),
        }
    }
    // 10% of 2,000 is 200; ±2 percentage points is ±40.
    assert!(
        (160..=240).contains(&to_v2),
        "myapp-v2 served {to_v2} of {N}"
    );
    assert_eq!((v1.hits(), v2.hits(), apex.hits()), (N - to_v2, to_v2, 0));
    // The backends receive the apex's Host, as a Linkerd proxy sends it.
    assert!(v2.seen().iter().all(|s| s.host == MYAPP));
}
