//! Each DestinationRule rule with a bad input and its exact diagnostic; good inputs are clean.

mod load_balancer;
mod traffic_policy;

use crate::diag::Diagnostic;
use crate::validate::test_support::head;
use crate::{LoadOptions, Loaded};

/// Loads a DestinationRule whose spec is the flow mapping `spec` on line 4.
fn load(spec: &str) -> Vec<Diagnostic> {
    let text = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: r, namespace: ns}}\nspec: {spec}\n"
    );
    Loaded::from_str("t.yaml", &text, LoadOptions::default()).diagnostics
}

/// Asserts the diagnostics of `spec`: one per expected `(head, message substring)`, in order.
fn expect(spec: &str, want: &[(&str, &str)]) {
    let got = load(spec);
    crate::validate::test_support::assert_in_order(spec, &got, want);
}

#[test]
fn host_and_subsets() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{trafficPolicy: {tls: {mode: SIMPLE}}}",
            &[("Error 4:1 spec.host", "host is required")],
        ),
        (
            "{host: a*.example.com}",
            &[(
                "Error 4:14 spec.host",
                "a wildcard is only allowed as the whole left-most label",
            )],
        ),
        (
            "{host: 'a..b'}",
            &[("Error 4:14 spec.host", "invalid label \"\"")],
        ),
        (
            "{host: a, subsets: [{labels: {v: x}}]}",
            &[("Error 4:27 spec.subsets[0].name", "subset name is required")],
        ),
        (
            "{host: a, subsets: [{name: V1}]}",
            &[(
                "Error 4:34 spec.subsets[0].name",
                "subset name \"V1\" is not a valid DNS-1123 label",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1}, {name: v1}]}",
            &[(
                "Error 4:46 spec.subsets[1].name",
                "duplicate subset name \"v1\" (also subsets[0])",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1, labels: {version: 'v 1'}}]}",
            &[(
                "Error 4:56 spec.subsets[0].labels.version",
                "label value \"v 1\" of \"version\" is invalid",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1, labels: {'-x': v1}}]}",
            &[(
                "Error 4:53 spec.subsets[0].labels.-x",
                "label key \"-x\" is invalid",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1, labels: {'Ex.com/v': v1}}]}",
            &[(
                "Error 4:59 spec.subsets[0].labels[\"Ex.com/v\"]",
                "invalid prefix \"Ex.com\"",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1, trafficPolicy: {}}]}",
            &[(
                "Error 4:38 spec.subsets[0].trafficPolicy",
                "trafficPolicy must have at least one field",
            )],
        ),
        (
            "{host: a, subsets: [{name: v1, trafficPolicy: {portLevelSettings: [{port: {number: 0}, tls: {mode: SIMPLE}}]}}]}",
            &[(
                "Error 4:90 spec.subsets[0].trafficPolicy.portLevelSettings[0].port.number",
                "port number 0 must be in the range 1..65535",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
}

#[test]
fn export_to_and_workload_selector() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{host: a, exportTo: [Prod]}",
            &[(
                "Error 4:28 spec.exportTo[0]",
                "invalid exportTo value \"Prod\"",
            )],
        ),
        (
            "{host: a, exportTo: ['~']}",
            &[(
                "Error 4:28 spec.exportTo[0]",
                "~ (nobody) is only allowed in a ServiceEntry",
            )],
        ),
        (
            "{host: a, exportTo: [., ns]}",
            &[(
                "Error 4:31 spec.exportTo[1]",
                "\".\" and \"ns\" both name this namespace",
            )],
        ),
        (
            "{host: a, exportTo: [b, b]}",
            &[("Error 4:31 spec.exportTo[1]", "\"b\" is listed twice")],
        ),
        (
            "{host: a, exportTo: ['*', b]}",
            &[(
                "Error 4:17 spec.exportTo",
                "exportTo \"*\" (everyone) cannot be combined",
            )],
        ),
        (
            "{host: a, workloadSelector: {matchLabels: {app: x}}, exportTo: [other]}",
            &[(
                "Error 4:60 spec.exportTo",
                "can only be exported to its own namespace \"ns\"",
            )],
        ),
        (
            "{host: a, workloadSelector: {matchLabels: {}}}",
            &[(
                "Warning 4:36 spec.workloadSelector.matchLabels",
                "selects every workload",
            )],
        ),
        (
            "{host: a, workloadSelector: {matchLabels: {app: '*'}}}",
            &[(
                "Error 4:55 spec.workloadSelector.matchLabels.app",
                "wildcards are not supported",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
}

#[test]
fn block_style_positions_point_at_the_value() {
    let text = "\
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: r
spec:
  host: reviews
  trafficPolicy:
    outlierDetection:
      maxEjectionPercent: 150
      interval: 0s
";
    let l = Loaded::from_str("t.yaml", text, LoadOptions::default());
    let got: Vec<String> = l
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", head(d), d.message))
        .collect();
    assert_eq!(
        got,
        [
            "Error 9:27 spec.trafficPolicy.outlierDetection.maxEjectionPercent maxEjectionPercent must be in range 0..100, got 150",
            "Error 10:17 spec.trafficPolicy.outlierDetection.interval duration 0s must be at least 1ms",
        ]
    );
}

/// A DestinationRule using most fields, all valid.
const FULL: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews.prod.svc.cluster.local
  exportTo: [., istio-system]
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: user, ttl: 0s}
        ringHash: {minimumRingSize: 1024}
      localityLbSetting:
        distribute:
        - from: us-west/zone1/*
          to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}
    connectionPool:
      tcp:
        maxConnections: 100
        connectTimeout: 30ms
        idleTimeout: 0s
        tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}
      http: {http2MaxRequests: 1000, maxRetries: 3, h2UpgradePolicy: UPGRADE, idleTimeout: 1h}
    outlierDetection:
      consecutive5xxErrors: 7
      interval: 5m
      baseEjectionTime: 15m
      maxEjectionPercent: 100
      minHealthPercent: 0
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 3
    tls:
      mode: MUTUAL
      clientCertificate: /etc/certs/client.pem
      privateKey: /etc/certs/key.pem
      caCertificates: /etc/certs/ca.pem
      sni: reviews.example.com
    portLevelSettings:
    - port: {number: 80}
      loadBalancer:
        simple: LEAST_REQUEST
        warmup: {duration: 60s, minimumPercent: 10, aggression: 1.5}
    - port: {number: 9080}
      tls: {mode: SIMPLE, credentialName: reviews-ca}
    retryBudget: {percent: 25, minRetryConcurrency: 5}
  subsets:
  - name: v1
    labels: {version: v1, app.kubernetes.io/name: reviews}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer:
        consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}
      tunnel: {protocol: CONNECT, targetHost: egress.example.com, targetPort: 8443}
  - name: v3
    trafficPolicy:
      proxyProtocol: {version: V2}
      loadBalancer:
        localityLbSetting:
          failover: [{from: us-east, to: eu-west}]
          failoverPriority: [network]
      outlierDetection: {consecutiveGatewayErrors: 5}
"#;

#[test]
fn good_rules_are_clean() {
    let l = Loaded::from_str("t.yaml", FULL, LoadOptions::default());
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let selector =
        "{host: '*.example.com', workloadSelector: {matchLabels: {app: c}}, exportTo: [.]}";
    for spec in [selector, "{host: '*'}", "{host: a, exportTo: [other, ns]}"] {
        expect(spec, &[]);
    }
}

#[test]
fn example_destination_rules_load_clean() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/resources");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("examples/resources") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with("destinationrule-") {
            continue;
        }
        seen += 1;
        let l = Loaded::from_paths(&[&path], LoadOptions::default());
        assert!(l.diagnostics.is_empty(), "{name}: {:#?}", l.diagnostics);
        assert_eq!(l.resources.len(), 1, "{name}");
    }
    assert!(seen >= 2, "expected the destinationrule examples in {dir}");
}

#[test]
fn recently_documented_fields_are_typed_and_checked() {
    let ok = crate::Loaded::from_str(
        "t.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: r\n  trafficPolicy:\n    connectionPool:\n      http: {http2KeepAlive: {interval: 10s, timeout: 3s}}\n    outlierDetection: {outlierDetectionHttpErrorCodes: [503, 504]}\n    retryBudget: {percent: 20, budgetInterval: 1s}\n",
        crate::LoadOptions::default(),
    );
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
    let bad = crate::Loaded::from_str(
        "t.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: r\n  trafficPolicy:\n    connectionPool:\n      http: {http2KeepAlive: {interval: 10s}}\n    outlierDetection: {outlierDetectionHttpErrorCodes: [99]}\n",
        crate::LoadOptions::default(),
    );
    let got: Vec<_> = bad
        .diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout",
                8
            ),
            (
                "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]",
                9
            ),
        ],
        "{:?}",
        bad.diagnostics
    );
}
