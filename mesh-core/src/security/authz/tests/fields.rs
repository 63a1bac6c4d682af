//! Every source field, operation field and `when` key of §6.5–§6.6, with the value language of
//! §6.4.

use super::*;

const FOO: &str = "cluster.local/ns/foo/sa/bar";

#[test]
fn principals() {
    let allow = |v: &str| format!("rules: [{{from: [{{source: {{principals: ['{v}']}}}}]}}]");
    table(
        &allow(FOO),
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("cluster.local/ns/foo/sa/baz"), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        &allow("cluster.local/ns/foo/*"),
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("cluster.local/ns/foox/sa/bar"), "deny"),
        ],
    );
    table(
        &allow("*/sa/bar"),
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("other.td/ns/x/sa/bar"), "allow"),
            (Req::path("/").from("td/ns/x/sa/xbar"), "deny"),
        ],
    );
    // `*`: any identity, never plaintext.
    table(
        &allow("*"),
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/"), "deny"),
        ],
    );
    // notPrincipals: plaintext has no principal, so it is "not X".
    table(
        "rules: [{from: [{source: {notPrincipals: [cluster.local/ns/foo/sa/bar]}}]}]",
        &[
            (Req::path("/").from(FOO), "deny"),
            (Req::path("/").from("cluster.local/ns/foo/sa/x"), "allow"),
            (Req::path("/"), "allow"),
        ],
    );
    // source.principal when key.
    table(
        "rules: [{when: [{key: source.principal, values: ['*/ns/foo/sa/bar']}]}]",
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/"), "deny"),
        ],
    );
}

#[test]
fn namespaces_and_service_accounts() {
    table(
        "rules: [{from: [{source: {namespaces: [foo]}}]}]",
        &[
            (Req::path("/").from(FOO), "allow"),
            (
                Req::path("/").from("cluster.local/ns/foobar/sa/bar"),
                "deny",
            ),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        "rules: [{from: [{source: {namespaces: ['team-*']}}]}]",
        &[
            (Req::path("/").from("td/ns/team-a/sa/x"), "allow"),
            (Req::path("/").from("td/ns/other/sa/x"), "deny"),
        ],
    );
    table(
        "rules: [{from: [{source: {notNamespaces: [foo]}}]}]",
        &[
            (Req::path("/").from(FOO), "deny"),
            (Req::path("/"), "allow"),
        ],
    );
    table(
        "rules: [{when: [{key: source.namespace, values: [foo]}]}]",
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("td/ns/bar/sa/foo"), "deny"),
        ],
    );
    // `sa` alone is in the policy's namespace (ns).
    table(
        "rules: [{from: [{source: {serviceAccounts: [bar, foo/bar]}}]}]",
        &[
            (Req::path("/").from("td/ns/ns/sa/bar"), "allow"),
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("td/ns/other/sa/bar"), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        "rules: [{from: [{source: {notServiceAccounts: [foo/bar]}}]}]",
        &[
            (Req::path("/").from(FOO), "deny"),
            (Req::path("/"), "allow"),
        ],
    );
    table(
        "rules: [{when: [{key: source.serviceAccount, values: [foo/bar]}]}]",
        &[(Req::path("/").from(FOO), "allow")],
    );
    table(
        "rules: [{when: [{key: source.trustDomain, values: [cluster.local]}]}]",
        &[
            (Req::path("/").from(FOO), "allow"),
            (Req::path("/").from("other/ns/foo/sa/bar"), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
}

#[test]
fn request_principals_and_jwt_keys() {
    table(
        "rules: [{from: [{source: {requestPrincipals: ['https://issuer.example/*']}}]}]",
        &[
            (
                Req::path("/").jwt("https://issuer.example", "alice"),
                "allow",
            ),
            (Req::path("/").jwt("https://evil.example", "alice"), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        "rules: [{from: [{source: {requestPrincipals: ['*']}}]}]",
        &[
            (Req::path("/").jwt("iss", "sub"), "allow"),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        "rules: [{when: [{key: request.auth.principal, values: [iss/sub]}]}]",
        &[
            (Req::path("/").jwt("iss", "sub"), "allow"),
            (Req::path("/").jwt("iss", "other"), "deny"),
        ],
    );
    let mut claims = Req::path("/").jwt("iss", "sub");
    let auth = claims.auth.as_mut().unwrap();
    auth.audiences = vec!["api".to_owned()];
    auth.presenter = Some("web".to_owned());
    auth.claims
        .insert("groups".to_owned(), serde_json::json!(["dev", "admin"]));
    auth.claims
        .insert("org".to_owned(), serde_json::json!({"team": "core"}));
    let spec = |k: &str, v: &str| format!("rules: [{{when: [{{key: '{k}', values: [{v}]}}]}}]");
    for (k, v, want) in [
        ("request.auth.audiences", "api", "allow"),
        ("request.auth.audiences", "other", "deny"),
        ("request.auth.presenter", "web", "allow"),
        ("request.auth.claims[groups]", "admin", "allow"),
        ("request.auth.claims[groups]", "ops", "deny"),
        ("request.auth.claims[org][team]", "core", "allow"),
        ("request.auth.claims[org][team]", "edge", "deny"),
        ("request.auth.claims[missing]", "x", "deny"),
    ] {
        table(
            &spec(k, v),
            &[(claims.clone(), want), (Req::path("/"), "deny")],
        );
    }
}

#[test]
fn ip_blocks() {
    let mut forwarded = Req::path("/");
    forwarded.conn.remote_ip = Some(ip("203.0.113.9"));
    table(
        "rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]",
        &[(Req::path("/"), "allow"), (forwarded.clone(), "allow")],
    );
    table(
        "rules: [{from: [{source: {ipBlocks: [10.0.0.2]}}]}]",
        &[(Req::path("/"), "deny")],
    );
    table(
        "rules: [{from: [{source: {notIpBlocks: [10.0.0.1]}}]}]",
        &[(Req::path("/"), "deny")],
    );
    // remoteIpBlocks: the forwarded client, else the direct peer.
    table(
        "rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]",
        &[(forwarded.clone(), "allow"), (Req::path("/"), "deny")],
    );
    table(
        "rules: [{from: [{source: {notRemoteIpBlocks: [203.0.113.0/24]}}]}]",
        &[(forwarded.clone(), "deny"), (Req::path("/"), "allow")],
    );
    let mut v6 = Req::path("/");
    v6.conn.source_ip = Some(ip("::ffff:10.1.2.3"));
    table(
        "rules: [{when: [{key: source.ip, values: [10.0.0.0/8]}]}]",
        &[(v6, "allow")],
    );
    table(
        "rules: [{when: [{key: remote.ip, values: [203.0.113.9]}]}]",
        &[(forwarded, "allow")],
    );
    let mut dst = Req::path("/");
    dst.conn.destination_ip = Some(ip("192.168.1.5"));
    table(
        "rules: [{when: [{key: destination.ip, values: [192.168.1.0/24]}]}]",
        &[
            (dst, "allow"),
            // Unknown local address: an ALLOW on it does not match.
            (Req::path("/"), "deny"),
        ],
    );
}

#[test]
fn operation_fields() {
    table(
        "rules: [{to: [{operation: {hosts: [Svc.Example.COM, '*.api.io', 'www.*']}}]}]",
        &[
            (Req::get("svc.example.com", "/"), "allow"),
            (Req::get("SVC.EXAMPLE.com", "/"), "allow"),
            (Req::get("a.API.io", "/"), "allow"),
            (Req::get("www.x", "/"), "allow"),
            // §6.6: the port is part of the host for an ALLOW.
            (Req::get("svc.example.com:8080", "/"), "deny"),
        ],
    );
    table(
        "rules: [{to: [{operation: {hosts: ['svc.example.com:*']}}]}]",
        &[(Req::get("svc.example.com:8080", "/"), "allow")],
    );
    table(
        "rules: [{to: [{operation: {ports: [8080, '9090']}}]}]",
        &[
            (Req::path("/"), "allow"),
            (Req::path("/").port(9090), "allow"),
            (Req::path("/").port(80), "deny"),
        ],
    );
    table(
        "rules: [{to: [{operation: {notPorts: [8080]}}]}]",
        &[(Req::path("/"), "deny"), (Req::path("/").port(80), "allow")],
    );
    // Methods are case-sensitive patterns.
    table(
        "rules: [{to: [{operation: {methods: [GET, 'P*']}}]}]",
        &[
            (Req::path("/"), "allow"),
            (Req::path("/").method("PATCH"), "allow"),
            (Req::path("/").method("DELETE"), "deny"),
            (Req::path("/").method("get"), "deny"),
        ],
    );
    table(
        "rules: [{to: [{operation: {notMethods: [DELETE]}}]}]",
        &[
            (Req::path("/"), "allow"),
            (Req::path("/").method("DELETE"), "deny"),
        ],
    );
    table(
        "rules: [{to: [{operation: {paths: [/exact, '/pre*', '*.png', /a*b]}}]}]",
        &[
            (Req::path("/exact"), "allow"),
            (Req::path("/exact/"), "deny"),
            (Req::path("/pre"), "allow"),
            (Req::path("/prefix/x"), "allow"),
            (Req::path("/img/x.png"), "allow"),
            // `a*b`: a literal star.
            (Req::path("/a*b"), "allow"),
            (Req::path("/axb"), "deny"),
            // The query never takes part.
            (Req::path("/exact?x=1"), "allow"),
        ],
    );
    table(
        "rules: [{to: [{operation: {paths: ['/v1/{*}/info', '/files/{**}', '/d/{**}.txt']}}]}]",
        &[
            (Req::path("/v1/alice/info"), "allow"),
            (Req::path("/v1//info"), "deny"),
            (Req::path("/v1/a/b/info"), "deny"),
            (Req::path("/files/"), "allow"),
            (Req::path("/files/a/b/c"), "allow"),
            (Req::path("/files"), "deny"),
            (Req::path("/d/a/b.txt"), "allow"),
            (Req::path("/d/a/b.pdf"), "deny"),
        ],
    );
    table(
        "rules: [{to: [{operation: {notPaths: [/private*]}}]}]",
        &[
            (Req::path("/public"), "allow"),
            (Req::path("/private/x"), "deny"),
        ],
    );
}

#[test]
fn connection_when_keys() {
    let mut sni = Req::path("/");
    sni.conn.sni = Some("api.example.com".to_owned());
    table(
        "rules: [{when: [{key: connection.sni, values: ['*.example.com']}]}]",
        &[(sni, "allow"), (Req::path("/"), "deny")],
    );
    table(
        "rules: [{when: [{key: destination.port, values: ['8080']}]}]",
        &[(Req::path("/"), "allow"), (Req::path("/").port(81), "deny")],
    );
    table(
        "rules: [{when: [{key: 'request.headers[X-Env]', values: [prod], notValues: [test]}]}]",
        &[
            (Req::path("/").header("x-env", b"prod"), "allow"),
            (Req::path("/").header("x-env", b"dev"), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
    table(
        "rules: [{when: [{key: 'request.headers[x-env]', values: ['*']}]}]",
        &[
            (Req::path("/").header("x-env", b"any"), "allow"),
            (Req::path("/").header("x-env", b""), "deny"),
            (Req::path("/"), "deny"),
        ],
    );
}
