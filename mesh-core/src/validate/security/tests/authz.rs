//! AuthorizationPolicy: policy level and rule shape.

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
fn actions_providers_and_rule_presence() {
    run(&[
        Case {
            name: "ALLOW without rules (deny everything) is valid",
            spec: "  action: ALLOW\n",
            want: &[],
        },
        Case {
            name: "ALLOW with rules: [] is valid",
            spec: "  rules: []\n",
            want: &[],
        },
        Case {
            name: "allow-all rules: [{}]",
            spec: "  rules: [{}]\n",
            want: &[],
        },
        Case {
            name: "AUDIT without rules or provider",
            spec: "  action: AUDIT\n",
            want: &[],
        },
        Case {
            name: "deny-all",
            spec: "  action: DENY\n  rules: [{}]\n",
            want: &[],
        },
        Case {
            name: "DENY without rules",
            spec: "  action: DENY\n",
            want: &[(
                "Error 7:11 spec.action",
                "DENY action without rules is meaningless as it never matches",
            )],
        },
        Case {
            name: "DENY with rules: []",
            spec: "  action: DENY\n  rules: []\n",
            want: &[("Error 8:3 spec.rules", "DENY action without rules")],
        },
        Case {
            name: "CUSTOM without provider",
            spec: "  action: CUSTOM\n  rules: [{}]\n",
            want: &[(
                "Error 6:1 spec.provider",
                "action CUSTOM requires provider.name",
            )],
        },
        Case {
            name: "CUSTOM with an empty provider name",
            spec: "  action: CUSTOM\n  provider: {name: \"\"}\n  rules: [{}]\n",
            want: &[(
                "Error 8:20 spec.provider.name",
                "provider.name must not be empty",
            )],
        },
        Case {
            name: "CUSTOM without rules",
            spec: "  action: CUSTOM\n  provider: {name: ext}\n",
            want: &[("Error 7:11 spec.action", "CUSTOM action without rules")],
        },
        Case {
            name: "provider without CUSTOM",
            spec: "  action: DENY\n  provider: {name: ext}\n  rules: [{}]\n",
            want: &[(
                "Error 8:3 spec.provider",
                "provider is only allowed with action CUSTOM, not DENY",
            )],
        },
        Case {
            name: "CUSTOM with a provider",
            spec: "
  action: CUSTOM
  provider: {name: ext-authz}
  rules:
  - to:
    - operation: {paths: [\"/admin/*\"]}
",
            want: &[],
        },
        Case {
            name: "CUSTOM cannot match on identity",
            spec: "
  action: CUSTOM
  provider: {name: ext}
  rules:
  - from:
    - source:
        namespaces: [prod]
    when:
    - key: source.principal
      values: [cluster.local/ns/a/sa/b]
",
            want: &[
                (
                    "Error 12:9 spec.rules[0].from[0].source.namespaces",
                    "namespaces is not supported with action CUSTOM",
                ),
                (
                    "Error 14:12 spec.rules[0].when[0].key",
                    "when key \"source.principal\" is not supported with action CUSTOM",
                ),
            ],
        },
    ]);
}

#[test]
fn selector_and_target_refs() {
    run(&[
        Case {
            name: "selector and targetRef are exclusive",
            spec: "
  selector:
    matchLabels: {app: a}
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: gw
",
            want: &[(
                "Error 9:3 spec.targetRef",
                "only one of selector, targetRef or targetRefs may be set",
            )],
        },
        Case {
            name: "targetRef and targetRefs are exclusive",
            spec: "
  targetRef: {kind: Service, name: a}
  targetRefs:
  - {kind: Service, name: b}
",
            want: &[("Error 8:3 spec.targetRefs", "only one of selector")],
        },
        Case {
            name: "every allowed target kind",
            spec: "
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: Gateway, name: gw}
  - {group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}
  - {group: \"\", kind: Service, name: web}
  - {kind: Service, name: web2, namespace: prod}
  - {group: networking.istio.io, kind: ServiceEntry, name: ext}
",
            want: &[],
        },
        Case {
            name: "unsupported kind, missing name",
            spec: "
  targetRef:
    kind: Deployment
",
            want: &[
                (
                    "Error 8:11 spec.targetRef.kind",
                    "targetRef kind \"Deployment\" is not supported: use \
                     gateway.networking.k8s.io Gateway",
                ),
                (
                    "Error 7:3 spec.targetRef.name",
                    "targetRef name is required",
                ),
            ],
        },
        Case {
            name: "missing kind",
            spec: "  targetRef: {name: gw}\n",
            want: &[(
                "Error 7:3 spec.targetRef.kind",
                "targetRef kind is required: use gateway.networking.k8s.io Gateway or \
                 GatewayClass, core (\"\") Service, or networking.istio.io ServiceEntry",
            )],
        },
        Case {
            name: "group must match the kind",
            spec: "
  targetRefs:
  - kind: Gateway
    name: gw
  - group: networking.istio.io
    kind: Service
    name: web
",
            want: &[
                (
                    "Error 8:5 spec.targetRefs[0].group",
                    "targetRef group for kind Gateway must be \"gateway.networking.k8s.io\", \
                     not \"\"",
                ),
                (
                    "Error 10:12 spec.targetRefs[1].group",
                    "targetRef group for kind Service must be \"\", not \"networking.istio.io\"",
                ),
            ],
        },
        Case {
            name: "cross-namespace target",
            spec: "
  targetRef:
    kind: Service
    name: web
    namespace: other
",
            want: &[(
                "Error 10:16 spec.targetRef.namespace",
                "targetRef namespace \"other\" must be the policy's own namespace \"prod\"",
            )],
        },
        Case {
            name: "wildcard in a selector",
            spec: "
  selector:
    matchLabels:
      app: \"*\"
",
            want: &[(
                "Error 9:12 spec.selector.matchLabels.app",
                "wildcard is not supported in selector: \"app=*\"",
            )],
        },
    ]);
}

#[test]
fn rule_shape() {
    run(&[
        Case {
            name: "from: [] and to: []",
            spec: "
  rules:
  - from: []
    to: []
",
            want: &[
                ("Error 8:5 spec.rules[0].from", "from must not be empty"),
                ("Error 9:5 spec.rules[0].to", "to must not be empty"),
            ],
        },
        Case {
            name: "entries without source or operation",
            spec: "
  rules:
  - from:
    - {}
    to:
    - {}
",
            want: &[
                (
                    "Error 9:7 spec.rules[0].from[0]",
                    "from entry must have a source",
                ),
                (
                    "Error 11:7 spec.rules[0].to[0]",
                    "to entry must have an operation",
                ),
            ],
        },
        Case {
            name: "empty match groups in a DENY (istio/istio#61126)",
            spec: "
  action: DENY
  rules:
  - from:
    - source: {}
    to:
    - operation: {}
",
            want: &[
                (
                    "Error 10:7 spec.rules[0].from[0].source",
                    "source must not be empty: set at least one field",
                ),
                (
                    "Error 12:7 spec.rules[0].to[0].operation",
                    "operation must not be empty: set at least one field",
                ),
            ],
        },
        Case {
            name: "a source whose lists are all empty is empty",
            spec: "
  rules:
  - from:
    - source: {principals: []}
",
            want: &[(
                "Error 9:7 spec.rules[0].from[0].source",
                "source must not be empty",
            )],
        },
        Case {
            name: "an operation with only an unknown field is reported once, by the loader",
            spec: "
  rules:
  - to:
    - operation: {notpaths: [\"/x\"]}
",
            want: &[(
                "Error 9:19 spec.rules[0].to[0].operation.notpaths",
                "unknown field \"notpaths\"",
            )],
        },
        Case {
            name: "when needs a key and values",
            spec: "
  rules:
  - when:
    - key: \"\"
      values: [a]
    - key: source.ip
    - values: [a]
",
            want: &[
                (
                    "Error 9:12 spec.rules[0].when[0].key",
                    "when key must not be empty",
                ),
                (
                    "Error 11:7 spec.rules[0].when[1]",
                    "at least one of values or notValues must be set for key source.ip",
                ),
                (
                    "Error 12:7 spec.rules[0].when[2].key",
                    "when key must not be empty",
                ),
            ],
        },
    ]);
}
