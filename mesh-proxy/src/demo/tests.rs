use std::time::Duration;

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
            ok: 400,
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
