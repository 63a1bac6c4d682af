use super::*;

fn load(text: &str) -> Loaded {
    Loaded::from_str("t.yaml", text, LoadOptions::default())
}

fn one_line(l: &Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{:?} {}:{} {} {}",
                d.severity, d.line, d.column, d.path, d.message
            )
        })
        .collect()
}

#[test]
fn loads_a_virtual_service() {
    let l = load(
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: a\n  namespace: ns\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination:\n        host: a\n",
    );
    assert!(!l.has_errors(), "{:?}", one_line(&l));
    assert_eq!(l.resources.len(), 1);
    assert_eq!(l.resources[0].display_name(), "VirtualService ns/a");
}

#[test]
fn unknown_fields_are_errors_with_their_path_and_position() {
    let text = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: a\nspec:\n  rules:\n  - to:\n    - operation:\n        notpaths: [\"/x\"]\n";
    let l = load(text);
    let d = &l.diagnostics;
    assert_eq!(d.len(), 1, "{:?}", one_line(&l));
    assert_eq!(d[0].severity, Severity::Error);
    assert_eq!(d[0].path, "spec.rules[0].to[0].operation.notpaths");
    assert_eq!((d[0].line, d[0].column), (9, 9));
    assert!(d[0].message.contains("unknown field \"notpaths\""));
    // --lenient never applies to security policies: a dropped field could open a bypass.
    let l = Loaded::from_str("t.yaml", text, LoadOptions { lenient: true });
    assert!(l.has_errors(), "{:?}", one_line(&l));
}

#[test]
fn lenient_downgrades_unknown_fields_of_traffic_resources() {
    let text = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec:\n  host: a\n  trafficPolicy:\n    loadBalancer: {simple: RANDOM, fancy: true}\n";
    let l = load(text);
    assert!(l.has_errors());
    let l = Loaded::from_str("t.yaml", text, LoadOptions { lenient: true });
    assert!(!l.has_errors(), "{:?}", one_line(&l));
    assert_eq!(l.diagnostics[0].severity, Severity::Warning);
    assert_eq!(
        l.diagnostics[0].path,
        "spec.trafficPolicy.loadBalancer.fancy"
    );
    assert_eq!(l.resources.len(), 1);
}

#[test]
fn wrong_scalar_types_name_the_field() {
    let l = load(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: ten\n",
    );
    let d = &l.diagnostics[0];
    assert_eq!(d.path, "spec.http[0].route[0].weight");
    assert_eq!((d.line, d.column), (9, 15));
    assert!(d.message.contains("invalid type"), "{}", d.message);
    assert!(l.resources.is_empty());
}

#[test]
fn unknown_kind_in_our_groups_is_an_error_elsewhere_a_warning() {
    let l =
        load("apiVersion: security.istio.io/v1\nkind: AuthorisationPolicy\nmetadata: {name: a}\n");
    assert_eq!(
        one_line(&l),
        vec![
            "Error 2:7 kind AuthorisationPolicy is not a known kind; did you mean AuthorizationPolicy?"
        ]
    );
    let l = load("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n");
    assert!(!l.has_errors());
    assert_eq!(l.diagnostics[0].severity, Severity::Warning);
    let l = load("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: a}\n");
    assert!(l.diagnostics[0].message.contains("not supported"));
}

#[test]
fn wrong_api_version_is_rejected() {
    let l = load("apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\n");
    assert!(l.has_errors());
    assert!(
        l.diagnostics[0]
            .message
            .contains("networking.istio.io/v1beta1")
    );
}

#[test]
fn every_document_of_a_file_is_checked() {
    let l = load(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {}\nspec: {bogus: 1}\n",
    );
    let lines = one_line(&l);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("metadata.name is required")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("spec.bogus")), "{lines:?}");
}

#[test]
fn kubernetes_lists_are_unpacked() {
    let l = load(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  metadata: {name: g}\n  spec: {}\n- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  metadata: {name: h}\n  spec: {}\n",
    );
    assert_eq!(l.resources.len(), 2, "{:?}", one_line(&l));
}

#[test]
fn syntax_errors_do_not_stop_other_files() {
    let dir = std::env::temp_dir().join(format!("mesh-load-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(dir.join("..data")).unwrap();
    std::fs::write(dir.join("a.yaml"), "a: [unclosed\n").unwrap();
    std::fs::write(
        dir.join("sub/b.yml"),
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n",
    )
    .unwrap();
    std::fs::write(dir.join("..data/c.yaml"), "not: loaded\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let l = Loaded::from_paths(&[&dir], LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(l.files, 2);
    assert_eq!(l.resources.len(), 1);
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.file.ends_with("a.yaml") && d.line >= 1 && d.is_error())
    );
}

#[test]
fn rendering_shows_the_source_line_and_a_caret() {
    let l = load(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  bogus: 1\n  http: [{route: [{destination: {host: a}}]}]\n",
    );
    let text = l.diagnostics[0].render(&l.sources);
    assert!(
        text.contains("--> t.yaml:6:3 (VirtualService default/a)"),
        "{text}"
    );
    assert!(text.contains("6 |   bogus: 1\n  |   ^"), "{text}");
}
