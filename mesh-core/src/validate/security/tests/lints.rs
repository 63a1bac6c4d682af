//! AuthorizationPolicy: best-practice lints (security.md C-28, semantics.md §6.7) and the
//! dry-run annotation.

use super::{Case, check, doc};

fn run(cases: &[Case]) {
    for c in cases {
        let text = doc(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "prod",
            c.spec,
        );
        check(c.name, &text, c.want);
    }
}

#[test]
fn best_practice_lints() {
    run(&[
        Case {
            name: "ALLOW with notPaths (C-28)",
            spec: "
  rules:
  - to:
    - operation:
        notPaths: [\"/admin\"]
",
            want: &[(
                "Warning 10:9 spec.rules[0].to[0].operation.notPaths",
                "ALLOW with notPaths fails open",
            )],
        },
        Case {
            name: "DENY with paths and no ports (C-28, §6.7)",
            spec: "
  action: DENY
  rules:
  - to:
    - operation:
        paths: [\"/admin\"]
",
            want: &[
                (
                    "Warning 11:9 spec.rules[0].to[0].operation.paths",
                    "DENY with paths fails open",
                ),
                (
                    "Warning 9:5 spec.rules[0]",
                    "this DENY rule uses HTTP-only attributes (paths); on TCP ports they \
                     cannot be evaluated",
                ),
            ],
        },
        Case {
            name: "DENY with notPaths on a port",
            spec: "
  action: DENY
  rules:
  - to:
    - operation:
        ports: [\"8080\"]
        notPaths: [\"/public/*\"]
",
            want: &[],
        },
        Case {
            name: "DENY on a header only widens on TCP",
            spec: "
  action: DENY
  rules:
  - from:
    - source: {namespaces: [dev]}
    when:
    - key: request.headers[x-debug]
      values: [\"1\"]
",
            want: &[(
                "Warning 9:5 spec.rules[0]",
                "HTTP-only attributes (request.headers)",
            )],
        },
        Case {
            name: "DENY on a JWT principal and a method",
            spec: "
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: [\"*\"]}
    to:
    - operation: {methods: [DELETE]}
",
            want: &[(
                "Warning 9:5 spec.rules[0]",
                "HTTP-only attributes (requestPrincipals, methods)",
            )],
        },
        Case {
            name: "DENY on TCP attributes only",
            spec: "
  action: DENY
  rules:
  - from:
    - source: {notNamespaces: [prod], ipBlocks: [10.0.0.0/8]}
",
            want: &[],
        },
    ]);
}

#[test]
fn dry_run_annotation() {
    let text = |value: &str, action: &str| {
        format!(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: t\n  \
             namespace: prod\n  annotations:\n    istio.io/dry-run: \"{value}\"\nspec:\n  \
             action: {action}\n  rules: [{{}}]\n"
        )
    };
    check("dry-run true", &text("true", "DENY"), &[]);
    check(
        "dry-run not a boolean",
        &text("yes", "ALLOW"),
        &[(
            "Error 7:23 metadata.annotations[\"istio.io/dry-run\"]",
            "istio.io/dry-run must be \"true\" or \"false\", not \"yes\"",
        )],
    );
    check(
        "dry-run on AUDIT",
        &text("true", "AUDIT"),
        &[(
            "Error 7:23 metadata.annotations[\"istio.io/dry-run\"]",
            "istio.io/dry-run only supports action ALLOW or DENY, not AUDIT",
        )],
    );
}
