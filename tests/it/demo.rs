//! `mesh-proxy demo` as a library: the whole mesh on 127.0.0.1, a short run with a fixed seed,
//! and the report's observations checked against the shipped policies, number by number as
//! the rendered report prints them.

use std::time::Duration;

use mesh_proxy::demo::{DemoOptions, ProgressMode, Verdict, run, tolerance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_observes_every_shipped_policy_taking_effect() {
    let report = run(DemoOptions {
        duration: Duration::from_secs(3),
        seed: Some(42),
        progress: ProgressMode::Off,
    })
    .await
    .expect("the demo runs");
    let text = report.render();

    // Every scene agrees with its policy; rows the short run cannot see are marked, not failed.
    for scene in report.scenes() {
        assert!(scene.passed(), "scene {} failed:\n{text}", scene.number);
    }
    assert!(report.passed(), "{text}");
    assert!(
        text.contains("All observations match the policy."),
        "{text}"
    );

    // 1. Header route to v2; the canary within tolerance of 90/10.
    let r = &report.routing;
    assert!(r.header_sent > 0 && r.header_v2 == r.header_sent, "{r:?}");
    assert!(r.canary_sent >= 400);
    assert_eq!(r.canary_v1 + r.canary_v2, r.canary_sent, "{r:?}");
    assert!(
        r.canary_v2_permille().abs_diff(100) <= tolerance(100, r.canary_sent),
        "{r:?}"
    );
    assert!(text.contains(&format!(
        "{}/{} answered by myapp-v2",
        r.header_v2, r.header_sent
    )));
    assert_eq!(r.default_v1, r.default_sent);

    // 2. other denied with 403 and why; frontend allowed; STRICT vs PERMISSIVE; identities.
    let a = &report.authz;
    assert!(a.other_get.1 > 0 && a.other_get.1 == a.other_get.0, "{a:?}");
    assert_eq!(a.deny_body, "RBAC: access denied");
    assert!(a.deny_reason.contains("none matched"), "{a:?}");
    assert_eq!(a.frontend_get.1, a.frontend_get.0);
    assert_eq!(a.plaintext_strict, None);
    assert_eq!(a.plaintext_permissive, Some(200));
    assert!(
        a.identities
            .contains_key("spiffe://cluster.local/ns/production/sa/frontend"),
        "{a:?}"
    );
    assert!(text.contains(&format!("{}/{} denied 403", a.other_get.1, a.other_get.0)));

    // 3. Aborts observed, near 10%; requests without the header untouched.
    let f = &report.fault;
    assert!(f.aborted > 0, "{f:?}");
    assert!(f.delayed > 0, "{f:?}");
    assert_eq!(f.plain_faulted, 0);
    assert!(text.contains(&format!("{} aborted of {} answered", f.aborted, f.answered)));

    // 4. Copies at v2 while clients only see v1.
    let m = &report.mirror;
    assert!(m.copies_at_v2 > 0, "{m:?}");
    assert_eq!((m.answered_by_v1, m.answered_by_v2), (m.sent, 0));
    assert!(text.contains(&format!("{} copies arrived at myapp-v2", m.copies_at_v2)));

    // 5. Retries hide the failing pod, which is ejected; the burst overflows.
    let s = &report.resilience;
    assert_eq!(s.ok, s.sent, "{s:?}");
    assert!(s.retries > 0);
    assert!(
        s.eject_after > 0 && s.failing_hits >= u64::from(s.eject_after),
        "{s:?}"
    );
    assert_eq!(s.failing_hits_late, 0, "{s:?}");
    assert!(s.burst_overflow > 0, "{s:?}");

    // 6. TrafficSplit near 90/10; retries within the ServiceProfile's budget.
    let l = &report.linkerd;
    assert!(
        l.v2_permille().abs_diff(100) <= tolerance(100, l.sent),
        "{l:?}"
    );
    assert!(l.retries > 0 && l.retries <= l.budget_cap, "{l:?}");

    // 7. The gateway redirects port 80 and terminates TLS with the Secret's certificate.
    let g = &report.gateway;
    assert_eq!(g.redirect_status, Some(301), "{g:?}");
    assert_eq!(
        g.redirect_location.as_deref(),
        Some("https://myapp.example.com/api/x")
    );
    assert!(g.https_sent > 0 && g.https_ok == g.https_sent, "{g:?}");
    assert_eq!(g.header_v2.1, g.header_v2.0);
    // The gateway reached myapp over mTLS as api-gateway, which the policy allows.
    assert!(
        report
            .authz
            .identities
            .contains_key("spiffe://cluster.local/ns/production/sa/api-gateway"),
        "{:?}",
        report.authz
    );

    // Hot reload: every sidecar applied every switch, nothing failed meanwhile.
    let h = &report.reloads;
    assert_eq!(h.switches, 4);
    assert!(
        h.applied >= u64::from(h.switches) * u64::from(report.proxies),
        "{h:?}"
    );
    assert_eq!((h.rejected, h.failed), (0, 0), "{h:?}");
    assert!(h.requests > 0);

    // No row of the report is a failure.
    assert!(
        report
            .scenes()
            .iter()
            .flat_map(|s| &s.checks)
            .all(|c| c.verdict != Verdict::Fail)
    );
}
