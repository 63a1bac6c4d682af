//! AuthorizationPolicy: the values of sources, operations and `when` conditions.

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

const SRC: &str = "spec.rules[0].from[0].source";
const OP: &str = "spec.rules[0].to[0].operation";

/// `"Error 12:11 "` + `SRC` + `".principals[1]"`, built at compile time.
macro_rules! at {
    ($head:literal, src, $tail:literal) => {
        concat!($head, " spec.rules[0].from[0].source", $tail)
    };
    ($head:literal, op, $tail:literal) => {
        concat!($head, " spec.rules[0].to[0].operation", $tail)
    };
    ($head:literal, when, $tail:literal) => {
        concat!($head, " spec.rules[0].when", $tail)
    };
}

#[test]
fn prefixes_match_the_macro() {
    assert_eq!(at!("Error", src, ""), format!("Error {SRC}"));
    assert_eq!(at!("Error", op, ""), format!("Error {OP}"));
}

#[test]
fn identity_values() {
    run(&[
        Case {
            name: "principals (C-23)",
            spec: "
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/prod/sa/web
        - spiffe://cluster.local/ns/prod/sa/web
        - Cluster.Local/ns/prod/sa/web
        - \"\"
        notPrincipals: [\"*/ns/dev/*\"]
",
            want: &[
                (
                    at!("Error 12:11", src, ".principals[1]"),
                    "principal \"spiffe://cluster.local/ns/prod/sa/web\" must not include the \
                     spiffe:// scheme: Istio adds it, so this value can never match; write \
                     \"cluster.local/ns/prod/sa/web\"",
                ),
                (
                    at!("Error 13:11", src, ".principals[2]"),
                    "trust domain \"Cluster.Local\" in principal",
                ),
                (
                    at!("Error 14:11", src, ".principals[3]"),
                    "empty value not allowed in principals",
                ),
                (
                    at!("Error 15:25", src, ".notPrincipals[0]"),
                    "'*' is only allowed at the start or end",
                ),
            ],
        },
        Case {
            name: "namespaces and request principals",
            spec: "
  rules:
  - from:
    - source:
        namespaces: [prod, \"team-*\", Dev]
        requestPrincipals: [\"https://issuer/a*b\"]
",
            want: &[
                (
                    at!("Error 10:38", src, ".namespaces[2]"),
                    "namespace \"Dev\" is not a namespace name or '*' pattern",
                ),
                (
                    at!("Warning 11:29", src, ".requestPrincipals[0]"),
                    "\"https://issuer/a*b\": '*' is a wildcard only at the start or end",
                ),
            ],
        },
        Case {
            name: "service account forms",
            spec: "
  rules:
  - from:
    - source:
        serviceAccounts: [web, prod/api, \"prod/*\", a/b/c]
        notServiceAccounts: [prod/web.v1]
",
            want: &[
                (
                    at!("Error 10:42", src, ".serviceAccounts[2]"),
                    "serviceAccounts do not support '*' wildcards",
                ),
                (
                    at!("Error 10:52", src, ".serviceAccounts[3]"),
                    "service account \"a/b/c\" must be <name> or <namespace>/<name>",
                ),
            ],
        },
        Case {
            name: "service accounts: combined with namespaces, more than 16",
            spec: "
  rules:
  - from:
    - source:
        namespaces: [prod]
        serviceAccounts: [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17]
",
            want: &[
                (
                    at!("Error 11:9", src, ".serviceAccounts"),
                    "serviceAccounts cannot be combined with principals or namespaces",
                ),
                (
                    at!("Error 11:9", src, ".serviceAccounts"),
                    "serviceAccounts has 17 entries; at most 16 are allowed",
                ),
            ],
        },
        Case {
            name: "IP blocks (C-22)",
            spec: "
  rules:
  - from:
    - source:
        ipBlocks:
        - 10.0.0.0/33
        - 1.2.3
        - 10.1.2.3/8
        - \"2001:db8::/32\"
        notIpBlocks: [\"::ffff:1.2.3.4/200\"]
        remoteIpBlocks: [\"192.168.0.0/16\"]
        notRemoteIpBlocks: [bogus]
",
            want: &[
                (
                    at!("Error 11:11", src, ".ipBlocks[0]"),
                    "CIDR range \"10.0.0.0/33\" has an invalid prefix length \"33\": expected \
                     0..=32",
                ),
                (
                    at!("Error 12:11", src, ".ipBlocks[1]"),
                    "\"1.2.3\" is not an IP address or CIDR range",
                ),
                (
                    at!("Warning 13:11", src, ".ipBlocks[2]"),
                    "CIDR range \"10.1.2.3/8\" has host bits set; it matches all of 10.0.0.0/8",
                ),
                (
                    at!("Error 15:23", src, ".notIpBlocks[0]"),
                    "invalid prefix length \"200\": expected 0..=128",
                ),
                (
                    at!("Error 17:29", src, ".notRemoteIpBlocks[0]"),
                    "\"bogus\" is not an IP address or CIDR range",
                ),
            ],
        },
    ]);
}

#[test]
fn operation_values() {
    run(&[
        Case {
            name: "ports",
            spec: "
  rules:
  - to:
    - operation:
        ports: [\"8080\", 9090, \"http\", 0]
        notPorts: [70000]
",
            want: &[
                (
                    at!("Error 10:31", op, ".ports[2]"),
                    "port \"http\" must be an integer in 1..=65535",
                ),
                (at!("Error 10:39", op, ".ports[3]"), "port \"0\" must be"),
                (
                    at!("Error 11:20", op, ".notPorts[0]"),
                    "port \"70000\" must be",
                ),
            ],
        },
        Case {
            name: "methods",
            spec: "
  rules:
  - to:
    - operation:
        methods: [GET, get, \"GE T\", \"*\"]
",
            want: &[
                (
                    at!("Warning 10:24", op, ".methods[1]"),
                    "method \"get\" is not upper case; requests with lower-case methods are \
                     rejected with 400, so it never matches: write \"GET\"",
                ),
                (
                    at!("Error 10:29", op, ".methods[2]"),
                    "method \"GE T\" is not an HTTP method token",
                ),
            ],
        },
        Case {
            name: "paths and path templates",
            spec: "
  rules:
  - to:
    - operation:
        paths:
        - /api/*
        - \"*.png\"
        - api/*
        - /a/*/b
        - /login?next=x
        - /users/{id}
        - /files/{**}/raw
        - /files/{*}/raw/{**}
        - \"/x/{**}.m3u8\"
",
            want: &[
                (
                    at!("Error 13:11", op, ".paths[2]"),
                    "path \"api/*\" must start with '/'",
                ),
                (
                    at!("Warning 14:11", op, ".paths[3]"),
                    "\"/a/*/b\": '*' is a wildcard only at the start or end of a value (or \
                     alone); this one is matched literally",
                ),
                (
                    at!("Error 15:11", op, ".paths[4]"),
                    "path \"/login?next=x\" contains '?': paths are matched without the query",
                ),
                (
                    at!("Warning 16:11", op, ".paths[5]"),
                    "path \"/users/{id}\" is not a supported template",
                ),
                (
                    at!("Error 17:11", op, ".paths[6]"),
                    "invalid path template \"/files/{**}/raw\": {**} must be in the last segment",
                ),
            ],
        },
        Case {
            name: "hosts",
            spec: "
  rules:
  - to:
    - operation:
        hosts: [\"a.*.com\", \"*.example.com\", \"example.com:*\"]
",
            want: &[(
                at!("Warning 10:17", op, ".hosts[0]"),
                "'*' is a wildcard only at the start or end",
            )],
        },
    ]);
}

#[test]
fn when_conditions() {
    run(&[
        Case {
            name: "known keys",
            spec: "
  rules:
  - when:
    - key: request.headers[x-user]
      values: [alice]
    - key: request.auth.claims[groups][admin]
      values: [\"*\"]
    - key: experimental.envoy.filters.network.mysql_proxy[db.table]
      values: [x]
    - key: destination.port
      notValues: [\"22\"]
    - key: source.trustDomain
      values: [cluster.local, \"*.corp\"]
    - key: connection.sni
      values: [\"*.example.com\"]
    - key: remote.ip
      values: [10.0.0.0/8]
",
            want: &[],
        },
        Case {
            name: "unknown, malformed and retired keys",
            spec: "
  rules:
  - when:
    - key: request.header[x]
      values: [a]
    - key: request.headers[]
      values: [a]
    - key: destination.labels[app]
      values: [a]
    - key: destination.namespace
      values: [a]
    - key: destination.user
      values: [a]
    - key: request.auth.claims
      values: [a]
",
            want: &[
                (
                    at!("Error 9:12", when, "[0].key"),
                    "unknown attribute \"request.header[x]\": use request.headers[..]",
                ),
                (
                    at!("Error 11:12", when, "[1].key"),
                    "bad key \"request.headers[]\": should be request.headers[<header-name>]",
                ),
                (
                    at!("Error 13:12", when, "[2].key"),
                    "attribute destination.labels[app] is replaced by the workload selector",
                ),
                (
                    at!("Error 15:12", when, "[3].key"),
                    "attribute destination.namespace is replaced by the policy's \
                     metadata.namespace",
                ),
                (
                    at!("Error 17:12", when, "[4].key"),
                    "deprecated attribute destination.user: only supported in v1alpha1",
                ),
                (
                    at!("Error 19:12", when, "[5].key"),
                    "bad key \"request.auth.claims\": should be request.auth.claims[<claim>]",
                ),
            ],
        },
        Case {
            name: "values checked by key",
            spec: "
  rules:
  - when:
    - key: source.ip
      values: [\"10.0.0.0/33\"]
    - key: destination.port
      notValues: [http]
    - key: source.principal
      values: [\"spiffe://td/ns/a/sa/b\"]
    - key: source.namespace
      values: [\"\"]
",
            want: &[
                (
                    at!("Error 10:16", when, "[0].values[0]"),
                    "has an invalid prefix length \"33\"",
                ),
                (
                    at!("Error 12:19", when, "[1].notValues[0]"),
                    "port \"http\" must be an integer in 1..=65535",
                ),
                (
                    at!("Error 14:16", when, "[2].values[0]"),
                    "must not include the spiffe:// scheme",
                ),
                (
                    at!("Error 16:16", when, "[3].values[0]"),
                    "empty value not allowed in values",
                ),
            ],
        },
    ]);
}
