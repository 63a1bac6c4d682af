use std::time::Duration;

use super::config::SceneConfig;
use super::*;

fn passing() -> Report {
    Report {
        seed: 7,
        proxies: 7,
        elapsed: Duration::from_millis(9_500),
        routing: Routing {
            header_sent: 20,
            header_v2: 20,
            canary_sent: 1000,
            canary_v1: 897,
            canary_v2: 103,
            default_sent: 20,
            default_v1: 20,
        },
        authz: Authz {
            frontend_get: (10, 10),
            frontend_delete: (10, 10),
            other_get: (10, 10),
            deny_body: "RBAC: access denied".into(),
            deny_reason: "no ALLOW policy matched".into(),
            other_health: (10, 10),
            plaintext_strict: None,
            strict_refusals: 1,
            plaintext_permissive: Some(200),
            permissive_accepted: 1,
            identities: [
                (
                    "spiffe://cluster.local/ns/production/sa/frontend".to_owned(),
                    30,
                ),
                (
                    "spiffe://cluster.local/ns/production/sa/other".to_owned(),
                    20,
                ),
                (
                    "spiffe://cluster.local/ns/production/sa/api-gateway".to_owned(),
                    40,
                ),
            ]
            .into(),
        },
        fault: Fault {
            sent: 300,
            answered: 300,
            aborted: 31,
            delayed: 149,
            min_delay_ms: Some(5_003),
            held_ms: None,
            plain_sent: 50,
            plain_faulted: 0,
        },
        mirror: Mirror {
            sent: 100,
            answered_by_v1: 100,
            answered_by_v2: 0,
            copies_at_v2: 100,
        },
        resilience: Resilience {
            sent: 80,
            ok: 80,
            retries: 3,
            failing_hits: 3,
            failing_hits_late: 0,
            eject_after: 3,
            pool_limit: 100,
            burst_sent: 250,
            burst_ok: 200,
            burst_overflow: 50,
        },
        linkerd: Linkerd {
            sent: 400,
            to_v1: 362,
            to_v2: 38,
            ok: 380,
            unretried: 20,
            retries: 150,
            budget_cap: 180,
            timeout_probe: Probe::Answered {
                status: 504,
                after_ms: 5_001,
            },
        },
        gateway: Gateway {
            redirect_status: Some(301),
            redirect_location: Some("https://myapp.example.com/api/x".into()),
            https_sent: 20,
            https_ok: 20,
            https_v2: 2,
            https_error: None,
            header_v2: (20, 20),
        },
        reloads: Reloads {
            switches: 4,
            applied: 24,
            rejected: 0,
            requests: 120,
            failed: 0,
        },
    }
}

#[test]
fn a_report_within_policy_passes_and_renders_every_scene() {
    let r = passing();
    assert!(r.passed(), "{:?}", r.failures());
    let text = r.render();
    for heading in [
        "1. Routing",
        "2. Authorization",
        "3. Fault injection",
        "4. Mirroring",
        "5. Resilience",
        "6. Linkerd",
        "7. Ingress gateway",
        "Hot reload",
        "All observations match the policy.",
    ] {
        assert!(text.contains(heading), "{heading} missing from\n{text}");
    }
    assert!(text.contains("v1 89.7% / v2 10.3%"), "{text}");
    assert!(!text.contains('✗'), "{text}");
}

#[test]
fn a_canary_outside_five_points_fails_and_the_report_says_which() {
    let mut r = passing();
    r.routing.canary_v1 = 830;
    r.routing.canary_v2 = 170;
    assert!(!r.passed());
    let failures = r.failures();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].1.what.starts_with("GET /api/items"));
    assert!(
        r.render()
            .contains("1 observation(s) contradict the policy")
    );
}

#[test]
fn a_failing_pod_still_hit_after_ejection_fails_the_resilience_scene() {
    let mut r = passing();
    r.resilience.failing_hits_late = 2;
    let scene = r.scenes().into_iter().find(|s| s.number == 5).unwrap();
    assert!(!scene.passed());
}

#[test]
fn a_delay_not_yet_seen_is_not_a_failure() {
    let mut r = passing();
    r.fault.min_delay_ms = None;
    r.fault.held_ms = Some(2_100);
    r.linkerd.timeout_probe = Probe::Pending { waited_ms: 1_500 };
    assert!(r.passed());
    let text = r.render();
    assert!(text.contains("still held after 2.1 s"), "{text}");
}

#[test]
fn a_failed_request_during_a_reload_fails_the_report() {
    let mut r = passing();
    r.reloads.failed = 1;
    assert!(!r.passed());
}

#[test]
fn the_shipped_resources_are_embedded_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/resources");
    for (name, text) in SHIPPED {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            text,
            "{name}"
        );
    }
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), SHIPPED.len());
}

#[test]
fn a_gateway_that_does_not_redirect_fails_its_scene() {
    let mut r = passing();
    r.gateway.redirect_status = Some(404);
    r.gateway.redirect_location = None;
    assert!(!r.passed());
    assert!(r.render().contains("404, no Location"));
}

fn generated() -> config::Generated {
    let tls = rcgen::generate_simple_self_signed(vec![EXTERNAL.to_owned()]).unwrap();
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    config::Generated {
        v1: addr(20001),
        v2: addr(20002),
        failing: addr(20003),
        legacy: addr(20004),
        tls_cert: tls.cert.pem(),
        tls_key: tls.signing_key.serialize_pem(),
    }
}

fn load(scene: SceneConfig, g: &config::Generated) -> mesh_core::Mesh {
    let dir = files::TempDir::new().unwrap();
    files::write_scene(dir.path(), scene, g).unwrap();
    crate::reload::ConfigSource {
        paths: vec![dir.path().to_owned()],
        options: mesh_core::LoadOptions::default(),
        mesh_config: mesh_core::MeshConfig::default(),
    }
    .load()
    .unwrap_or_else(|e| panic!("{}: {e}", scene.name()))
}

#[test]
fn every_scene_configuration_validates_with_its_generated_registry_and_secret() {
    let g = generated();
    for scene in SceneConfig::ALL {
        let mesh = load(scene, &g);
        let myapp = mesh.services().iter().find(|s| s.host == MYAPP).unwrap();
        let ports: Vec<u16> = myapp.endpoints.iter().map(|e| e.ports["http"]).collect();
        let expected: &[u16] = if scene.has_failing_pod() {
            &[20001, 20002, 20003]
        } else {
            &[20001, 20002]
        };
        let mut ports = ports;
        ports.sort_unstable();
        assert_eq!(ports, expected, "{}", scene.name());
        assert!(
            myapp.endpoints.iter().all(|e| e
                .labels
                .get("security.istio.io/tlsMode")
                .map(String::as_str)
                == Some("istio")
                && e.service_account.as_deref() == Some("myapp")),
            "{}",
            scene.name()
        );
    }
}

#[test]
fn switching_scenes_leaves_only_the_new_scenes_files() {
    let g = generated();
    let dir = files::TempDir::new().unwrap();
    files::write_scene(dir.path(), SceneConfig::Routing, &g).unwrap();
    files::write_scene(dir.path(), SceneConfig::Fault, &g).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "authorizationpolicy-myapp.yaml",
            "gateway-myapp.yaml",
            "peerauthentication.yaml",
            "virtualservice-fault.yaml",
            "zz-registry.yaml",
            "zz-secret-myapp-tls.yaml",
        ]
    );
    let path = dir.path().to_owned();
    drop(dir);
    assert!(
        !path.exists(),
        "the temporary directory is removed when dropped"
    );
}
