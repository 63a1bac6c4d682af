//! Destinations, weights, TLS and TCP rules, and the small parsers behind them.

use super::super::headers::substitutions;
use super::super::names::{
    base64_len, check_subnet, hosts_overlap, is_jwt_claim_key, is_label_key, is_label_value,
    is_subset,
};
use super::{check, check_http};

#[test]
fn destinations() {
    check_http(&[
        (
            "- route: [{weight: 1}]\n",
            &["Error 7:13 spec.http[0].route[0] | destination is required"],
        ),
        (
            "- route: [{destination: {subset: v1}}]\n",
            &["Error 7:14 spec.http[0].route[0].destination.host | destination host is required"],
        ),
        (
            "- route: [{destination: {host: \"*\", subset: V1, port: {}}}]\n",
            &[
                "Error 7:34 spec.http[0].route[0].destination.host | invalid destination host *: a destination must name one service",
                "Error 7:47 spec.http[0].route[0].destination.subset | subset name \"V1\" is not a valid DNS-1123 label (lower-case letters, digits and '-', at",
                "Error 7:51 spec.http[0].route[0].destination.port.number | port number 0 must be in the range 1..65535",
            ],
        ),
        (
            "- route: [{destination: {host: a, port: {number: 70000}}}]\n",
            &[
                "Error 7:52 spec.http[0].route[0].destination.port.number | port number 70000 must be in the range 1..65535",
            ],
        ),
    ]);
}

/// Istio >= 1.15: relative weights (security C-12..C-16).
#[test]
fn weights() {
    let two = |a: &str, b: &str| {
        format!(
            "- route: [{{destination: {{host: a}}, weight: {a}}}, {{destination: {{host: b}}, weight: {b}}}]\n"
        )
    };
    let (neg, zeros, ninety, one_twenty, big) = (
        two("-5", "10"),
        two("0", "0"),
        two("60", "30"),
        two("70", "50"),
        two("2147483648", "1"),
    );
    let three_max = "- route: [{destination: {host: a}, weight: 2147483647}, {destination: {host: b}, weight: 2147483647}, {destination: {host: c}, weight: 2147483647}]\n";
    check_http(&[
        (
            &neg,
            &["Error 7:46 spec.http[0].route[0].weight | weight -5 must not be negative"],
        ),
        (
            &zeros,
            &[
                "Error 7:5 spec.http[0].route | total destination weight = 0: with more than one destination at least one weight must be positive",
            ],
        ),
        (&ninety, &[]),
        (&one_twenty, &[]),
        (
            &big,
            &[
                "Error 7:46 spec.http[0].route[0].weight | weight 2147483648 is too large: weights are 32-bit, at most 2147483647",
            ],
        ),
        (
            three_max,
            &[
                "Error 7:5 spec.http[0].route | total destination weight 6442450941 exceeds 4294967295",
            ],
        ),
        (
            "- route: [{destination: {host: a}, weight: 0}]\n",
            &[
                "Warning 7:46 spec.http[0].route[0].weight | weight 0 on the only destination has no effect: Istio sends it 100% of the traffic;",
            ],
        ),
        ("- route: [{destination: {host: a}}]\n", &[]),
        ("- route: [{destination: {host: a}, weight: 100}]\n", &[]),
    ]);
}

#[test]
fn tls_rules() {
    check(&[
        (
            "hosts: [\"*.example.com\"]\ntls:\n- route: [{destination: {host: a}}]\n- match: [{port: 443}]\n",
            &[
                "Warning 8:5 spec.tls[1] | rule 1 is never used: rule 0 has no match",
                "Error 7:5 spec.tls[0] | TLS route must have at least one match condition",
                "Error 8:5 spec.tls[1] | TLS route is required",
                "Error 8:13 spec.tls[1].match[0] | TLS match must have at least one SNI host",
            ],
        ),
        (
            "hosts: [\"*.example.com\"]\ntls:\n- match: [{sniHosts: [a.example.com, b.other.com, \"*.example.com\", \"*.com\", 10.0.0.1]}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Warning 7:79 spec.tls[0].match[0].sniHosts[4] | using an IP address (\"10.0.0.1\") goes against the SNI spec and most clients do not",
                "Error 7:40 spec.tls[0].match[0].sniHosts[1] | SNI host \"b.other.com\" is not a compatible subset of any of the virtual service hosts:",
                "Error 7:70 spec.tls[0].match[0].sniHosts[3] | SNI host \"*.com\" is not a compatible subset of any of the virtual service hosts:",
            ],
        ),
        (
            "hosts: [a]\ntls:\n- match: [{sniHosts: [a], destinationSubnets: [\"10.0.0.0/33\", \"1.2.3\", \"::ffff:1.2.3.4/200\", \"10.0.0.0/8\"]}]\n  route: [{destination: {host: a}, weight: -1}]\n",
            &[
                "Error 7:50 spec.tls[0].match[0].destinationSubnets[0] | \"10.0.0.0/33\" is not a valid CIDR block: the prefix length must be a number from 0 to 32",
                "Error 7:65 spec.tls[0].match[0].destinationSubnets[1] | \"1.2.3\" is not a valid IP address or CIDR block",
                "Error 7:74 spec.tls[0].match[0].destinationSubnets[2] | \"::ffff:1.2.3.4/200\" is not a valid CIDR block: the prefix length must be a number from",
                "Error 8:46 spec.tls[0].route[0].weight | weight -1 must not be negative",
            ],
        ),
    ]);
}

#[test]
fn tcp_rules() {
    check(&[
        (
            "hosts: [a]\ntcp:\n- match: [{port: 70000, sourceSubnet: \"10.0.0.0/x\", gateways: [\"a/b/c\"]}]\n",
            &[
                "Error 7:5 spec.tcp[0] | TCP route is required: add at least one route destination",
                "Error 7:20 spec.tcp[0].match[0].port | port number 70000 must be in the range 1..65535",
                "Error 7:41 spec.tcp[0].match[0].sourceSubnet | \"10.0.0.0/x\" is not a valid CIDR block: the prefix length must be a number from 0 to 32",
                "Error 7:66 spec.tcp[0].match[0].gateways[0] | gateway \"a/b/c\": invalid value for gateway name: \"b/c\" (a DNS-1123 label)",
            ],
        ),
        (
            "hosts: [a]\ntcp:\n- route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: 0}]\n",
            &["Error 7:5 spec.tcp[0].route | total destination weight = 0"],
        ),
    ]);
}

// === the small parsers ===

#[test]
fn header_value_substitutions_follow_envoy() {
    for ok in [
        "",
        "plain",
        "%HOSTNAME%",
        "100%%",
        "prefix %HOSTNAME% suffix",
        "%START_TIME(%s)%",
        "%REQ(x-a)%",
        "%PER_REQUEST_STATE([\"a\", \"b\"])%",
        "%UPSTREAM_METADATA([\"ns\", \"key\"]) %",
    ] {
        assert_eq!(substitutions(ok), Ok(()), "{ok:?}");
    }
    for bad in [
        "abc%123",
        "%START_TIME%%",
        "%",
        "%REQ(",
        "%A([\"x\"] x)%",
        "%A([x])%",
        "%A([\"x\\",
        "%A(x) y%",
    ] {
        assert!(substitutions(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn small_parsers() {
    assert_eq!(base64_len("aGVsbG8="), Some(5));
    assert_eq!(base64_len("aGVsbG8"), Some(5));
    assert_eq!(base64_len("aGVs\nbG8="), Some(5));
    assert_eq!(base64_len("-_-_"), Some(3));
    assert_eq!(base64_len(""), Some(0));
    assert_eq!(base64_len("a"), None);
    assert_eq!(base64_len("aGVsbG8=="), None);
    assert_eq!(base64_len("a b="), None);

    for ok in [
        "10.0.0.1",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "::1",
        "2001:db8::/32",
    ] {
        assert_eq!(check_subnet(ok), Ok(()), "{ok}");
    }
    for bad in [
        "10.0.0.0/33",
        "1.2.3",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/08",
        "a/8",
    ] {
        assert!(check_subnet(bad).is_err(), "{bad}");
    }

    for ok in [
        "@request.auth.claims.a",
        "@request.auth.claims.a.b",
        "@Request.Auth.Claims[a][b]",
    ] {
        assert!(is_jwt_claim_key(ok), "{ok}");
    }
    for bad in [
        "@request.auth.claims",
        "@request.auth.claims.",
        "@request.auth.claims[]",
        "@request.auth.claims[a]b]",
        "x",
    ] {
        assert!(!is_jwt_claim_key(bad), "{bad}");
    }

    assert!(is_subset("a.foo.com", "*.foo.com"));
    assert!(is_subset("*.foo.com", "*.com"));
    assert!(is_subset("*.foo.com", "*"));
    assert!(!is_subset("foo.com", "*.foo.com"));
    assert!(!is_subset("*.com", "*.foo.com"));
    assert!(!is_subset("*", "a.com"));
    assert!(hosts_overlap("*.com", "a.foo.com"));
    assert!(hosts_overlap("A.com", "a.COM"));
    assert!(!hosts_overlap("a.com", "b.com"));

    assert!(is_label_key("app") && is_label_key("app.kubernetes.io/name") && is_label_key("A_b.c"));
    assert!(!is_label_key("/a") && !is_label_key("a/") && !is_label_key("-a") && !is_label_key(""));
    assert!(is_label_value("") && is_label_value("v1.2_x"));
    assert!(!is_label_value("-a") && !is_label_value(&"a".repeat(64)));
}

/// No input may panic the rules: awkward strings (multi-byte characters at boundaries, lone
/// `%`, brackets, NUL) in every free-text field.
#[test]
fn awkward_strings_never_panic() {
    let nasty = [
        "",
        "%",
        "%%%",
        "%(",
        "\u{0}",
        "é",
        "*",
        "*.",
        ".",
        "/",
        "a/",
        "[",
        "]",
        "@",
        "@request.auth.claimsé",
        "@request.auth.claims[é]",
        "::",
        "1.2.3.4/",
        "/33",
        "é/é",
        "\\",
        "\"",
        "ø=",
        "a\u{7f}b",
    ];
    for s in nasty {
        let _ = substitutions(s);
        let _ = base64_len(s);
        let _ = check_subnet(s);
        let _ = is_jwt_claim_key(s);
        let _ = is_subset(s, s);
        let _ = is_label_key(s) || is_label_value(s);
        // JSON strings are YAML double-quoted strings, once DEL is escaped too.
        let q = serde_json::to_string(s)
            .expect("a string encodes")
            .replace('\u{7f}', "\\u007f");
        let body = format!(
            "hosts: [{q}]\ngateways: [{q}]\nexportTo: [{q}]\nhttp:\n- match: [{{headers: {{{q}: {{regex: {q}}}}}, queryParams: {{{q}: {{prefix: {q}}}}}, sourceLabels: {{{q}: {q}}}}}]\n  route: [{{destination: {{host: {q}, subset: {q}}}}}]\n  retries: {{attempts: 1, retryOn: {q}}}\n  headers: {{request: {{set: {{{q}: {q}}}}}, response: {{remove: [{q}]}}}}\n  corsPolicy: {{allowMethods: [{q}], allowHeaders: [{q}]}}\n- redirect: {{uri: {q}, scheme: {q}, authority: {q}}}\n- directResponse: {{status: 200, body: {{bytes: {q}}}}}\ntls:\n- match: [{{sniHosts: [{q}], destinationSubnets: [{q}]}}]\n  route: [{{destination: {{host: {q}}}}}]\n"
        );
        let found = super::diags(&body);
        assert!(
            found
                .iter()
                .any(|d| d.contains("spec.http[0].route[0].destination.host")),
            "{s:?}: {found:#?}"
        );
    }
}
