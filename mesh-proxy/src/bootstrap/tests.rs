use super::*;

const GOOD: &str = "\
workload:
  name: myapp-v1
  namespace: production
  serviceAccount: myapp
  labels: {app: myapp, version: v1}
inbound:
  listen: 127.0.0.1:15006
  app: 127.0.0.1:8080
outbound:
  listen: 127.0.0.1:15001
identity:
  cert: certs/production.myapp.pem
  key: certs/production.myapp.key
  trustBundle: certs/ca.pem
  trustDomain: cluster.local
admin:
  listen: 127.0.0.1:15000
";

#[test]
fn a_full_bootstrap_parses() {
    let b = Bootstrap::from_str("b.yaml", GOOD).unwrap();
    assert_eq!(b.workload().labels["app"], "myapp");
    assert_eq!(b.inbound.app.port(), 8080);
    assert_eq!(b.outbound.as_ref().unwrap().listen.port(), 15001);
    assert_eq!(
        b.spiffe_id().unwrap().to_string(),
        "spiffe://cluster.local/ns/production/sa/myapp"
    );
    assert!(b.gateways.is_empty());
}

#[test]
fn an_unknown_field_is_an_error_with_its_line_and_column() {
    let text = GOOD.replace(
        "  app: 127.0.0.1:8080\n",
        "  app: 127.0.0.1:8080\n  aap: x\n",
    );
    let e = Bootstrap::from_str("b.yaml", &text).unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((d.file.as_str(), d.line, d.column), ("b.yaml", 9, 3));
    assert_eq!(d.path, "inbound.aap");
    assert!(e.to_string().contains("unknown field \"aap\""), "{e}");
}

#[test]
fn a_bad_address_names_the_field() {
    let text = GOOD.replace("127.0.0.1:15000", "localhost");
    let e = Bootstrap::from_str("b.yaml", &text).unwrap_err();
    assert_eq!(e.diagnostics[0].path, "admin.listen");
    assert_eq!(e.diagnostics[0].line, 17);
}

#[test]
fn a_missing_section_and_a_bad_identity_are_rejected() {
    let text = GOOD.replace("inbound:", "inbnd:");
    assert!(Bootstrap::from_str("b.yaml", &text).is_err());
    let text = GOOD.replace("serviceAccount: myapp", "serviceAccount: \"my app\"");
    let e = Bootstrap::from_str("b.yaml", &text).unwrap_err();
    assert_eq!(e.diagnostics[0].path, "workload");
    assert!(Bootstrap::from_str("b.yaml", "a: [").is_err());
}

#[test]
fn relative_identity_paths_follow_the_file() {
    let dir = std::env::temp_dir().join(format!("mesh-bootstrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, GOOD).unwrap();
    let b = Bootstrap::from_path(&path).unwrap();
    assert_eq!(b.identity.trust_bundle, dir.join("certs/ca.pem"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn limits_are_optional_and_checked() {
    use crate::inbound::accept::Limits;

    let b = Bootstrap::from_str("b.yaml", GOOD).unwrap();
    assert_eq!(Limits::from_bootstrap(&b).max_request_body, None);

    let text = format!("{GOOD}limits: {{maxRequestBodyBytes: 1048576}}\n");
    let b = Bootstrap::from_str("b.yaml", &text).unwrap();
    assert_eq!(Limits::from_bootstrap(&b).max_request_body, Some(1_048_576));

    let text = format!("{GOOD}limits: {{maxRequestBodyBytes: 0}}\n");
    let err = Bootstrap::from_str("b.yaml", &text).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert_eq!(err.diagnostics[0].path, "limits.maxRequestBodyBytes");
    assert_eq!(err.diagnostics[0].line, 18);

    let text = format!("{GOOD}limits: {{idleTimeout: 90s}}\n");
    let b = Bootstrap::from_str("b.yaml", &text).unwrap();
    let limits = Limits::from_bootstrap(&b);
    assert_eq!(
        limits.idle_timeout,
        Some(std::time::Duration::from_secs(90))
    );
    assert_eq!(limits.max_request_body, None);
    let text = format!("{GOOD}limits: {{idleTimeout: 0s}}\n");
    let b = Bootstrap::from_str("b.yaml", &text).unwrap();
    assert_eq!(Limits::from_bootstrap(&b).idle_timeout, None);
    let text = format!("{GOOD}limits: {{idleTimeout: soon}}\n");
    assert!(Bootstrap::from_str("b.yaml", &text).is_err());

    let text = format!("{GOOD}limits: {{maxRequestBody: 10}}\n");
    assert!(Bootstrap::from_str("b.yaml", &text).is_err());
    let text = format!("{GOOD}limits: {{maxRequestBodyBytes: -1}}\n");
    assert!(Bootstrap::from_str("b.yaml", &text).is_err());
}
