use super::*;
use crate::testutil::{doc, mesh, workload};

/// A PeerAuthentication with a creation timestamp (`""`: none, counts as older, load order).
fn pa(ns_name: &str, created: &str, spec: &str) -> String {
    let d = doc("PeerAuthentication", ns_name, spec);
    if created.is_empty() {
        d
    } else {
        d.replacen(
            "metadata:\n",
            &format!("metadata:\n  creationTimestamp: \"{created}\"\n"),
            1,
        )
    }
}

fn table(docs: &[String]) -> PeerAuthentications {
    PeerAuthentications::from_mesh(&mesh(docs)).unwrap()
}

/// `(mode, decided by)` for a workload `ns/name` with labels on a port.
fn mode(t: &PeerAuthentications, w: &str, labels: &str, port: u16) -> (MtlsMode, DecidedBy) {
    let pm = t.for_workload(&workload(w, labels)).port(port).clone();
    (pm.mode, pm.decided_by)
}

fn by(policy: &str, scope: Scope) -> DecidedBy {
    DecidedBy::Policy {
        policy: policy.into(),
        scope,
    }
}

#[test]
fn no_policy_means_permissive() {
    let t = table(&[]);
    assert_eq!(
        mode(&t, "prod/app", "app=a", 8080),
        (MtlsMode::Permissive, DecidedBy::Default)
    );
}

#[test]
fn narrowest_non_unset_scope_wins() {
    let mesh_strict = pa("istio-system/default", "", "mtls: {mode: STRICT}");
    let ns_permissive = pa("prod/ns", "", "mtls: {mode: PERMISSIVE}");
    let wl_disable = pa(
        "prod/wl",
        "",
        "selector: {matchLabels: {app: legacy}}\nmtls: {mode: DISABLE}",
    );
    let t = table(&[mesh_strict.clone(), ns_permissive.clone(), wl_disable]);
    // Table: (workload, labels, expected mode, decided by)
    let cases = [
        (
            "prod/legacy",
            "app=legacy,v=1",
            MtlsMode::Disable,
            by("prod/wl", Scope::Workload),
        ),
        (
            "prod/app",
            "app=a",
            MtlsMode::Permissive,
            by("prod/ns", Scope::Namespace),
        ),
        (
            "other/app",
            "app=legacy",
            MtlsMode::Strict,
            by("istio-system/default", Scope::Mesh),
        ),
        // The root namespace's own workloads get the mesh policy.
        (
            "istio-system/x",
            "",
            MtlsMode::Strict,
            by("istio-system/default", Scope::Mesh),
        ),
    ];
    for (w, labels, want, src) in cases {
        assert_eq!(mode(&t, w, labels, 80), (want, src), "{w} {labels}");
    }
}

#[test]
fn unset_inherits_from_the_parent_scope() {
    let t = table(&[
        pa("istio-system/default", "", "mtls: {mode: STRICT}"),
        pa("prod/ns", "", "mtls: {mode: UNSET}"),
        pa("prod/wl", "", "selector: {matchLabels: {app: a}}"),
    ]);
    assert_eq!(
        mode(&t, "prod/a", "app=a", 80),
        (MtlsMode::Strict, by("istio-system/default", Scope::Mesh))
    );
    let t = table(&[
        pa("prod/ns", "", "mtls: {mode: DISABLE}"),
        pa("prod/wl", "", "selector: {matchLabels: {app: a}}\nmtls: {}"),
    ]);
    assert_eq!(
        mode(&t, "prod/a", "app=a", 80),
        (MtlsMode::Disable, by("prod/ns", Scope::Namespace))
    );
}

#[test]
fn port_level_mtls_overrides_listed_ports_only() {
    let t = table(&[
        pa("prod/ns", "", "mtls: {mode: STRICT}"),
        pa(
            "prod/wl",
            "",
            "selector: {matchLabels: {app: a}}\nmtls: {mode: PERMISSIVE}\nportLevelMtls:\n  \
             \"8080\": {mode: DISABLE}\n  \"9090\": {mode: STRICT}\n  \"7070\": {mode: UNSET}",
        ),
    ]);
    let port = |policy: &str, port| DecidedBy::Port {
        policy: policy.into(),
        port,
    };
    assert_eq!(
        mode(&t, "prod/a", "app=a", 8080),
        (MtlsMode::Disable, port("prod/wl", 8080))
    );
    assert_eq!(
        mode(&t, "prod/a", "app=a", 9090),
        (MtlsMode::Strict, port("prod/wl", 9090))
    );
    // UNSET on a port: the workload-level result.
    assert_eq!(
        mode(&t, "prod/a", "app=a", 7070),
        (MtlsMode::Permissive, by("prod/wl", Scope::Workload))
    );
    // Unlisted port.
    assert_eq!(
        mode(&t, "prod/a", "app=a", 80),
        (MtlsMode::Permissive, by("prod/wl", Scope::Workload))
    );
    // Another workload in the namespace is untouched by the port entries.
    assert_eq!(
        mode(&t, "prod/b", "app=b", 8080),
        (MtlsMode::Strict, by("prod/ns", Scope::Namespace))
    );
}

#[test]
fn port_level_with_unset_workload_mode_inherits_namespace() {
    let t = table(&[
        pa("prod/ns", "", "mtls: {mode: STRICT}"),
        pa(
            "prod/wl",
            "",
            "selector: {matchLabels: {app: a}}\nportLevelMtls:\n  \"8080\": {mode: UNSET}\n  \
             \"9000\": {mode: PERMISSIVE}",
        ),
    ]);
    assert_eq!(
        mode(&t, "prod/a", "app=a", 8080),
        (MtlsMode::Strict, by("prod/ns", Scope::Namespace))
    );
    assert_eq!(mode(&t, "prod/a", "app=a", 9000).0, MtlsMode::Permissive);
}

#[test]
fn oldest_policy_wins_within_a_scope() {
    let newer = pa(
        "prod/newer",
        "2026-02-01T00:00:00Z",
        "mtls: {mode: DISABLE}",
    );
    let older = pa("prod/older", "2026-01-01T00:00:00Z", "mtls: {mode: STRICT}");
    // Load order does not matter: the timestamp does.
    let t = table(&[newer, older]);
    let w = t.for_workload(&workload("prod/a", ""));
    assert_eq!(w.workload.mode, MtlsMode::Strict);
    assert_eq!(w.winners.get(&Scope::Namespace).unwrap(), "prod/older");
    assert_eq!(w.ignored.len(), 1);
    assert_eq!(w.ignored[0].policy, "prod/newer");
    assert!(w.ignored[0].reason.contains("older"), "{:?}", w.ignored);
    // Same for workload policies (and their port levels come from the winner only).
    let t = table(&[
        pa(
            "prod/w2",
            "2026-03-01T00:00:00Z",
            "selector: {matchLabels: {app: a}}\nmtls: {mode: DISABLE}\nportLevelMtls:\n  \
             \"81\": {mode: STRICT}",
        ),
        pa(
            "prod/w1",
            "2026-01-01T00:00:00Z",
            "selector: {matchLabels: {tier: web}}\nmtls: {mode: PERMISSIVE}",
        ),
    ]);
    let w = t.for_workload(&workload("prod/a", "app=a,tier=web"));
    assert_eq!(w.workload.decided_by, by("prod/w1", Scope::Workload));
    assert_eq!(w.port(81).mode, MtlsMode::Permissive);
    // Without a timestamp, the first loaded counts as older.
    let t = table(&[
        pa("prod/first", "", "mtls: {mode: STRICT}"),
        pa("prod/second", "", "mtls: {mode: DISABLE}"),
    ]);
    assert_eq!(mode(&t, "prod/a", "", 1).0, MtlsMode::Strict);
}

#[test]
fn shadowed_singletons_are_listed_for_warnings() {
    let t = table(&[
        pa(
            "istio-system/a",
            "2026-01-01T00:00:00Z",
            "mtls: {mode: STRICT}",
        ),
        pa(
            "istio-system/b",
            "2026-02-01T00:00:00Z",
            "mtls: {mode: DISABLE}",
        ),
        pa(
            "istio-system/sel",
            "",
            "selector: {matchLabels: {app: x}}\nmtls: {mode: STRICT}",
        ),
        pa("prod/one", "", "mtls: {mode: STRICT}"),
        pa("dev/one", "", "mtls: {mode: STRICT}"),
        pa(
            "prod/wl",
            "",
            "selector: {matchLabels: {app: x}}\nmtls: {mode: STRICT}",
        ),
    ]);
    let shadowed = t.shadowed();
    let names: Vec<&str> = shadowed.iter().map(|i| i.policy.as_str()).collect();
    assert_eq!(names, ["istio-system/sel", "istio-system/b"]);
    assert!(shadowed[1].reason.contains("istio-system/a"));
}

#[test]
fn root_namespace_selector_policies_are_ignored() {
    let t = table(&[pa(
        "istio-system/sel",
        "",
        "selector: {matchLabels: {app: a}}\nmtls: {mode: STRICT}",
    )]);
    let w = t.for_workload(&workload("prod/a", "app=a"));
    assert_eq!(w.workload.mode, MtlsMode::Permissive);
    assert_eq!(w.ignored.len(), 1);
    assert!(w.ignored[0].reason.contains("root namespace"));
}

#[test]
fn the_root_namespace_is_configurable() {
    let docs = [pa("mesh-root/default", "", "mtls: {mode: STRICT}")];
    let m = mesh(&docs);
    let t = PeerAuthentications::from_resources(m.resources(), "mesh-root").unwrap();
    assert_eq!(
        mode(&t, "prod/a", "", 80),
        (MtlsMode::Strict, by("mesh-root/default", Scope::Mesh))
    );
    // With the default root namespace the same policy is only namespace-wide for mesh-root.
    let t = PeerAuthentications::from_mesh(&m).unwrap();
    assert_eq!(mode(&t, "prod/a", "", 80).0, MtlsMode::Permissive);
    assert_eq!(mode(&t, "mesh-root/x", "", 80).0, MtlsMode::Strict);
}

#[test]
fn selectors_need_every_label_and_the_same_namespace() {
    let t = table(&[pa(
        "prod/wl",
        "",
        "selector: {matchLabels: {app: a, version: v1}}\nmtls: {mode: STRICT}",
    )]);
    assert_eq!(
        mode(&t, "prod/x", "app=a,version=v1,extra=1", 80).0,
        MtlsMode::Strict
    );
    assert_eq!(mode(&t, "prod/x", "app=a", 80).0, MtlsMode::Permissive);
    assert_eq!(
        mode(&t, "prod/x", "app=a,version=v2", 80).0,
        MtlsMode::Permissive
    );
    assert_eq!(
        mode(&t, "dev/x", "app=a,version=v1", 80).0,
        MtlsMode::Permissive
    );
    // An empty selector is namespace-wide.
    let t = table(&[pa("prod/empty", "", "selector: {}\nmtls: {mode: STRICT}")]);
    assert_eq!(
        mode(&t, "prod/x", "a=b", 80),
        (MtlsMode::Strict, by("prod/empty", Scope::Namespace))
    );
}

#[test]
fn connection_decisions_per_mode() {
    use Transport::*;
    // Table: (mode, transport, accepted)
    let cases = [
        ("STRICT", Plaintext, false),
        ("STRICT", Mtls, true),
        ("PERMISSIVE", Plaintext, true),
        ("PERMISSIVE", Mtls, true),
        ("DISABLE", Plaintext, true),
        ("DISABLE", Mtls, false),
    ];
    for (m, transport, accept) in cases {
        let t = table(&[pa("prod/ns", "", &format!("mtls: {{mode: {m}}}"))]);
        let d = t
            .for_workload(&workload("prod/a", ""))
            .decide(8080, transport);
        assert_eq!(d.accept, accept, "{m} {transport}");
        assert_eq!(d.mode.as_str(), m);
        assert!(d.reason.contains("prod/ns"), "{}", d.reason);
        assert!(d.reason.starts_with("port 8080: "), "{}", d.reason);
    }
    let strict = table(&[pa("prod/ns", "", "mtls: {mode: STRICT}")]);
    let d = strict
        .for_workload(&workload("prod/a", ""))
        .decide(80, Plaintext);
    assert!(
        d.reason.contains("rejected at connection level"),
        "{}",
        d.reason
    );
}

#[test]
fn the_engine_fails_closed_on_specs_validation_would_reject() {
    use crate::resource::{MutualTls, PeerAuthenticationSpec, WorkloadSelector};
    let mut spec = PeerAuthenticationSpec::default();
    spec.port_level_mtls
        .insert("8080".into(), MutualTls::default());
    assert_eq!(
        PeerAuthnPolicy::compile("prod", "p", &spec),
        Err(InvalidPeerAuthn::PortLevelWithoutSelector {
            policy: "prod/p".into()
        })
    );
    spec.selector = Some(WorkloadSelector {
        match_labels: [("app".to_owned(), "a".to_owned())].into(),
    });
    for bad in ["0", "65536", "http", "-1"] {
        spec.port_level_mtls.clear();
        spec.port_level_mtls
            .insert(bad.into(), MutualTls::default());
        assert_eq!(
            PeerAuthnPolicy::compile("prod", "p", &spec),
            Err(InvalidPeerAuthn::Port {
                policy: "prod/p".into(),
                port: bad.into()
            }),
            "{bad}"
        );
    }
}

#[test]
fn validation_rejects_port_level_without_selector() {
    let text = pa("prod/p", "", "portLevelMtls:\n  \"8080\": {mode: STRICT}");
    assert!(crate::Mesh::from_yaml("t.yaml", &text).is_err());
}

mod properties;
