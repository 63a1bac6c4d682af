//! §6.7 HTTP-only attributes on TCP, fail-closed compilation, and the host, header, identity
//! and client-IP advisories of security.md §1.2–§1.6.

use super::*;
use crate::security::conn::remote_ip_from_xff;

#[test]
fn http_only_attributes_on_tcp() {
    // ALLOW: a rule with any HTTP-only attribute is dropped (narrower).
    table(
        "rules: [{to: [{operation: {ports: [8080], paths: [/a]}}]}, {to: [{operation: {ports: [9090]}}]}]",
        &[
            (Req::tcp(), "deny"),
            (Req::tcp().port(9090), "allow"),
            (Req::path("/a"), "allow"),
        ],
    );
    table(
        "rules: [{when: [{key: 'request.headers[x]', values: [v1]}]}]",
        &[(Req::tcp(), "deny")],
    );
    table(
        "rules: [{from: [{source: {requestPrincipals: ['*']}}]}]",
        &[(Req::tcp(), "deny")],
    );
    // DENY: only the HTTP conditions are dropped (wider); HTTP-only alone denies all TCP.
    table(
        "action: DENY\nrules: [{to: [{operation: {methods: [POST]}}]}]",
        &[(Req::tcp(), "deny"), (Req::path("/"), "allow")],
    );
    table(
        "action: DENY\nrules: [{to: [{operation: {ports: [9090], notPaths: [/ok]}}]}]",
        &[
            (Req::tcp(), "allow"),
            (Req::tcp().port(9090), "deny"),
            (Req::path("/ok").port(9090), "allow"),
        ],
    );
    table(
        "action: DENY\nrules: [{when: [{key: 'request.auth.claims[g]', notValues: [x]}]}]",
        &[(Req::tcp(), "deny")],
    );
}

#[test]
fn fail_closed_compilation() {
    let allow = ap(
        "ns/a",
        "rules: [{from: [{source: {ipBlocks: [not-an-ip]}}]}, {to: [{operation: {paths: [/ok]}}]}]",
    );
    let (p, issues) = raw_policies(std::slice::from_ref(&allow));
    assert_eq!(p.len(), 1, "{allow}");
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].effect, FailClosed::RuleDropped);
    assert_eq!(issues[0].field, "from[0].source.ipBlocks");
    assert_eq!(issues[0].problem, Problem::Ip("not-an-ip".to_owned()));
    assert!(issues[0].to_string().contains("ns/a rules[0]"));
    // The broken rule never allows; the good one still does.
    assert_eq!(decide(&p, &Req::path("/x")), "deny");
    assert_eq!(decide(&p, &Req::path("/ok")), "allow");

    let deny = ap(
        "ns/d",
        "action: DENY\nrules: [{to: [{operation: {paths: [/x]}}], when: [{key: 'experimental.envoy.filters.a[b]', values: [c]}]}]",
    );
    let (p, issues) = raw_policies(&[deny]);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].effect, FailClosed::ConditionDropped);
    assert!(matches!(issues[0].problem, Problem::Unsupported(_)));
    // The condition is dropped: the DENY still covers /x, and only /x.
    assert_eq!(decide(&p, &Req::path("/x")), "deny");
    assert_eq!(decide(&p, &Req::path("/y")), "allow");
    assert!(AuthzPolicies::try_new(&[], "istio-system").is_ok());
    let loaded = crate::Loaded::from_str(
        "t.yaml",
        &ap(
            "ns/d",
            "action: DENY\nrules: [{when: [{key: destination.namespace, values: [x]}]}]",
        ),
        crate::LoadOptions::default(),
    );
    let err = AuthzPolicies::try_new(&loaded.resources, "istio-system").unwrap_err();
    assert_eq!(
        err[0].problem,
        Problem::Key("destination.namespace".to_owned())
    );
}

/// H-19, CVE-2021-39155: case, port and trailing dot never slip past a DENY on a host.
#[test]
fn host_confusion() {
    table(
        "action: DENY\nrules: [{to: [{operation: {hosts: [admin.example.com]}}]}]",
        &[
            (Req::get("Admin.Example.COM", "/"), "deny"),
            (Req::get("admin.example.com:8080", "/"), "deny"),
            (Req::get("admin.example.com.", "/"), "deny"),
            (Req::get("ADMIN.example.com.:80", "/"), "deny"),
            (Req::get("public.example.com", "/"), "allow"),
        ],
    );
    // An ALLOW on notHosts reads the same variants as the excluded host.
    table(
        "rules: [{to: [{operation: {notHosts: [admin.example.com]}}]}]",
        &[
            (Req::get("admin.example.com:8080", "/"), "deny"),
            (Req::get("public.example.com", "/"), "allow"),
        ],
    );
}

/// H-24, H-25, H-27 (CVE-2026-26308, CVE-2019-18802, CVE-2023-27488).
#[test]
fn header_confusion() {
    let deny = "action: DENY\nrules: [{when: [{key: 'request.headers[x-role]', values: [admin]}]}]";
    table(
        deny,
        &[
            (
                Req::path("/")
                    .header("x-role", b"user")
                    .header("x-role", b"admin"),
                "deny",
            ),
            (Req::path("/").header("x-role", b"admin "), "deny"),
            (Req::path("/").header("x-role", b"user"), "allow"),
        ],
    );
    let deny_joined =
        "action: DENY\nrules: [{when: [{key: 'request.headers[x-role]', values: ['user,admin']}]}]";
    table(
        deny_joined,
        &[(
            Req::path("/")
                .header("x-role", b"user")
                .header("x-role", b"admin"),
            "deny",
        )],
    );
    let allow = "rules: [{when: [{key: 'request.headers[x-role]', values: [user]}]}]";
    table(
        allow,
        &[
            (Req::path("/").header("x-role", b"user"), "allow"),
            (Req::path("/").header("x-role", b" user"), "allow"),
            (
                Req::path("/")
                    .header("x-role", b"user")
                    .header("x-role", b"admin"),
                "deny",
            ),
            (Req::path("/").header("x-role", b"user,admin"), "deny"),
        ],
    );
    // Non-UTF-8 values are bytes, never "empty".
    let deny_any =
        "action: DENY\nrules: [{when: [{key: 'request.headers[x-role]', values: ['*']}]}]";
    table(
        deny_any,
        &[(Req::path("/").header("x-role", b"\xffadmin"), "deny")],
    );
    table(
        allow,
        &[(Req::path("/").header("x-role", b"user\xff"), "deny")],
    );
    let deny_not =
        "action: DENY\nrules: [{when: [{key: 'request.headers[x-role]', notValues: [user]}]}]";
    table(
        deny_not,
        &[
            (Req::path("/").header("x-role", b"user"), "allow"),
            (
                Req::path("/")
                    .header("x-role", b"user")
                    .header("x-role", b"admin"),
                "deny",
            ),
            (Req::path("/"), "deny"),
        ],
    );
}

/// security.md §1.5, ISTIO-SECURITY-2021-004: identity fields never match plaintext.
#[test]
fn identity_and_plaintext() {
    let deny_ns = "action: DENY\nrules: [{from: [{source: {namespaces: [foo]}}]}]";
    table(
        deny_ns,
        &[
            (Req::path("/").from("cluster.local/ns/foo/sa/x"), "deny"),
            // The documented pitfall: a plaintext caller from foo is not stopped.
            (Req::path("/"), "allow"),
        ],
    );
    // The fix: DENY notNamespaces ["*"] (or principals) denies every plaintext caller.
    let deny_plain = "action: DENY\nrules: [{from: [{source: {notPrincipals: ['*']}}]}]";
    table(
        deny_plain,
        &[
            (Req::path("/"), "deny"),
            (Req::tcp(), "deny"),
            (Req::path("/").from("cluster.local/ns/foo/sa/x"), "allow"),
        ],
    );
    let allow_not = "rules: [{from: [{source: {notNamespaces: [bad]}}]}]";
    table(allow_not, &[(Req::path("/"), "allow")]);
    let allow_any = "rules: [{from: [{source: {namespaces: ['*']}}]}]";
    table(
        allow_any,
        &[
            (Req::path("/"), "deny"),
            (Req::path("/").from("td/ns/x/sa/y"), "allow"),
        ],
    );
}

/// CVE-2020-16844: a suffix principal in a DENY holds on TCP too; CVE-2026-39350 and the 2026
/// metacharacter fix: literals are never regex.
#[test]
fn identity_patterns_on_the_spiffe_grammar() {
    let deny = "action: DENY\nrules: [{from: [{source: {principals: ['*/ns/ns1/sa/foo']}}]}]";
    table(
        deny,
        &[
            (Req::tcp().from("cluster.local/ns/ns1/sa/foo"), "deny"),
            (Req::tcp().from("cluster.local/ns/ns1/sa/bar"), "allow"),
        ],
    );
    table(
        "rules: [{from: [{source: {serviceAccounts: [ns/a.b]}}]}]",
        &[
            (Req::path("/").from("td/ns/ns/sa/a.b"), "allow"),
            (Req::path("/").from("td/ns/ns/sa/aXb"), "deny"),
        ],
    );
    // Validation rejects '.' in a namespace; the engine still quotes it.
    let (p, _) = raw_policies(&[ap(
        "ns/p",
        "rules: [{from: [{source: {namespaces: ['a.*']}}]}]",
    )]);
    assert_eq!(decide(&p, &Req::path("/").from("td/ns/a.b/sa/x")), "allow");
    assert_eq!(decide(&p, &Req::path("/").from("td/ns/aXb/sa/x")), "deny");
    table(
        "rules: [{from: [{source: {principals: ['*.b/sa/x']}}]}]",
        &[
            (Req::path("/").from("td/ns/a.b/sa/x"), "allow"),
            (Req::path("/").from("td/ns/aXb/sa/x"), "deny"),
        ],
    );
}

/// security.md §1.6 and H-34/H-35: `ipBlocks` is the peer, `remoteIpBlocks` the trusted XFF hop.
#[test]
fn client_ip_spoofing() {
    let allow = "rules: [{from: [{source: {remoteIpBlocks: [10.0.0.0/8]}}]}]";
    let p = policies(&[ap("ns/p", allow)]);
    let xff = [b"10.0.0.1".as_slice()];
    let mut req = Req::path("/");
    req.conn.source_ip = Some(ip("203.0.113.9"));
    // numTrustedProxies 0: the header is ignored, the peer 203.0.113.9 decides.
    req.conn.remote_ip = remote_ip_from_xff(xff, 0);
    assert_eq!(decide(&p, &req), "deny");
    // numTrustedProxies 1 behind a load balancer: the N-th from the right counts.
    req.conn.remote_ip = remote_ip_from_xff([b"10.0.0.1, 198.51.100.7".as_slice()], 1);
    assert_eq!(req.conn.remote_ip, Some(ip("198.51.100.7")));
    assert_eq!(decide(&p, &req), "deny");
    req.conn.remote_ip = remote_ip_from_xff([b"198.51.100.7, 10.0.0.1".as_slice()], 1);
    assert_eq!(decide(&p, &req), "allow");
    // No address known at all: an ALLOW on addresses fails closed, a DENY fires.
    let mut unknown = Req::path("/");
    unknown.conn.source_ip = None;
    assert_eq!(decide(&p, &unknown), "deny");
    table(
        "action: DENY\nrules: [{from: [{source: {notIpBlocks: [10.0.0.0/8]}}]}]",
        &[(unknown, "deny"), (Req::path("/"), "allow")],
    );
}
