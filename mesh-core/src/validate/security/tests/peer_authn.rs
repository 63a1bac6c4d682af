//! PeerAuthentication: selector, port-level mTLS, root namespace.

use super::{Case, check, doc};

/// Runs a table of PeerAuthentications in namespace `ns`.
fn run_pa(ns: &str, cases: &[Case]) {
    for c in cases {
        let text = doc("security.istio.io/v1", "PeerAuthentication", ns, c.spec);
        check(c.name, &text, c.want);
    }
}

const PEER_AUTHN: &[Case] = &[
    Case {
        name: "namespace-wide strict",
        spec: "  mtls: {mode: STRICT}\n",
        want: &[],
    },
    Case {
        name: "workload policy with port level mtls",
        spec: "
  selector: {matchLabels: {app: a}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    8080: {mode: STRICT}
    \"9090\": {mode: DISABLE}
",
        want: &[],
    },
    Case {
        name: "portLevelMtls without a selector",
        spec: "
  portLevelMtls:
    8080:
      mode: STRICT
",
        want: &[(
            "Error 7:3 spec.portLevelMtls",
            "portLevelMtls requires a selector with matchLabels: a mesh- or namespace-wide \
             PeerAuthentication cannot have port level mTLS",
        )],
    },
    Case {
        name: "portLevelMtls with a selector without labels",
        spec: "
  selector: {}
  portLevelMtls:
    8080: {mode: STRICT}
",
        want: &[
            ("Warning 7:3 spec.selector", "selector has no matchLabels"),
            (
                "Error 8:3 spec.portLevelMtls",
                "portLevelMtls requires a selector",
            ),
        ],
    },
    Case {
        name: "empty portLevelMtls",
        spec: "
  selector: {matchLabels: {app: a}}
  portLevelMtls: {}
",
        want: &[(
            "Error 8:3 spec.portLevelMtls",
            "portLevelMtls, if set, must have at least one port",
        )],
    },
    Case {
        name: "port keys out of range or not numbers",
        spec: "
  selector: {matchLabels: {app: a}}
  portLevelMtls:
    0: {mode: STRICT}
    70000: {mode: STRICT}
    http: {mode: STRICT}
",
        want: &[
            (
                "Error 9:5 spec.portLevelMtls.0",
                "portLevelMtls port \"0\" must be an integer in 1..=65535",
            ),
            (
                "Error 10:5 spec.portLevelMtls.70000",
                "portLevelMtls port \"70000\" must be an integer in 1..=65535",
            ),
            (
                "Error 11:5 spec.portLevelMtls.http",
                "portLevelMtls port \"http\" must be an integer in 1..=65535",
            ),
        ],
    },
    Case {
        name: "UNSET or absent port modes have no effect (C-27)",
        spec: "
  selector: {matchLabels: {app: a}}
  portLevelMtls:
    8080:
      mode: UNSET
    8081: {}
",
        want: &[
            (
                "Warning 10:13 spec.portLevelMtls.8080.mode",
                "port 8080: mode UNSET has no effect (the port keeps the workload's mode)",
            ),
            (
                "Warning 11:5 spec.portLevelMtls.8081.mode",
                "port 8081: mode UNSET has no effect",
            ),
        ],
    },
    Case {
        name: "selector label syntax",
        spec: "
  selector:
    matchLabels:
      \"bad key\": a
      app: \"my app\"
      version: \"v*\"
",
        want: &[
            (
                "Error 9:18 spec.selector.matchLabels[\"bad key\"]",
                "label key \"bad key\" is not valid",
            ),
            (
                "Error 10:12 spec.selector.matchLabels.app",
                "label value \"my app\" of \"app\" is not valid",
            ),
            (
                "Error 11:16 spec.selector.matchLabels.version",
                "wildcard is not supported in selector: \"version=v*\"",
            ),
        ],
    },
    Case {
        name: "prefixed label keys and empty values are valid",
        spec: "
  selector:
    matchLabels:
      app.kubernetes.io/name: web
      canary: \"\"
",
        want: &[],
    },
];

#[test]
fn peer_authentication_rules() {
    run_pa("prod", PEER_AUTHN);
}

#[test]
fn peer_authentication_in_the_root_namespace() {
    run_pa(
        "istio-system",
        &[
            Case {
                name: "mesh-wide policy",
                spec: "  mtls: {mode: STRICT}\n",
                want: &[],
            },
            Case {
                name: "selector in the root namespace is ignored by Istio",
                spec: "
  selector:
    matchLabels: {app: a}
  mtls: {mode: STRICT}
",
                want: &[(
                    "Warning 7:3 spec.selector",
                    "a PeerAuthentication with a selector in the root namespace istio-system is \
                     ignored by Istio",
                )],
            },
        ],
    );
}
