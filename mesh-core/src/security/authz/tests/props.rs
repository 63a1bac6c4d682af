//! Properties over generated policies and requests (seeded): adding a DENY never turns a denied
//! request into an allowed one; adding an ALLOW never allows a request it does not match.

use proptest::prelude::*;

use super::*;
use crate::resource::{
    Action, AuthorizationPolicySpec, Condition, IntOrString, Operation, Rule, RuleFrom, RuleTo,
    Source,
};
use crate::security::authz::compile::compile;
use crate::security::authz::verdict::WorkloadAuthz;

fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &[T]) -> impl Strategy<Value = Vec<T>> {
    prop::sample::subsequence(xs.to_vec(), 0..=xs.len().min(2))
}

fn s(v: Vec<&'static str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

const PATHS: &[&str] = &["/a", "/a*", "*/b", "*", "/admin"];
const PRINCIPALS: &[&str] = &["td/ns/x/sa/a", "td/ns/y/*", "*"];

fn source() -> impl Strategy<Value = Source> {
    (
        pick(PRINCIPALS),
        pick(PRINCIPALS),
        pick(&["x", "y"]),
        pick(&["10.0.0.0/8", "192.168.0.1"]),
        pick(&["10.0.0.0/8"]),
    )
        .prop_map(|(p, np, ns, ips, nips)| Source {
            principals: s(p),
            not_principals: s(np),
            namespaces: s(ns),
            ip_blocks: s(ips),
            not_ip_blocks: s(nips),
            ..Source::default()
        })
        .prop_filter("non-empty", |s| *s != Source::default())
}

fn operation() -> impl Strategy<Value = Operation> {
    (
        pick(PATHS),
        pick(PATHS),
        pick(&["GET", "POST"]),
        pick(&[80i64, 8080]),
        pick(&["a.io", "*.io"]),
    )
        .prop_map(|(p, np, m, ports, hosts)| Operation {
            paths: s(p),
            not_paths: s(np),
            methods: s(m),
            ports: ports.into_iter().map(IntOrString::Int).collect(),
            hosts: s(hosts),
            ..Operation::default()
        })
        .prop_filter("non-empty", |o| *o != Operation::default())
}

fn rule() -> impl Strategy<Value = Rule> {
    let cond = (prop::bool::ANY, pick(&["a", "b"])).prop_filter_map("values", |(neg, v)| {
        (!v.is_empty()).then(|| Condition {
            key: "request.headers[x-k]".to_owned(),
            values: if neg { vec![] } else { s(v.clone()) },
            not_values: if neg { s(v) } else { vec![] },
        })
    });
    (
        prop::collection::vec(source(), 0..2),
        prop::collection::vec(operation(), 0..2),
        prop::collection::vec(cond, 0..2),
    )
        .prop_map(|(f, t, when)| Rule {
            from: f
                .into_iter()
                .map(|s| RuleFrom { source: Some(s) })
                .collect(),
            to: t
                .into_iter()
                .map(|o| RuleTo { operation: Some(o) })
                .collect(),
            when,
        })
}

fn policy(action: Action) -> impl Strategy<Value = AuthorizationPolicySpec> {
    prop::collection::vec(rule(), 1..3).prop_map(move |rules| AuthorizationPolicySpec {
        rules: Some(rules),
        action: Some(action),
        ..AuthorizationPolicySpec::default()
    })
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec!["/a", "/ab", "/x/b", "/admin", "/"]),
        prop::sample::select(vec!["GET", "POST"]),
        prop::option::of(prop::sample::select(vec!["td/ns/x/sa/a", "td/ns/y/sa/b"])),
        prop::sample::select(vec!["10.1.1.1", "192.168.0.1"]),
        prop::sample::select(vec![80u16, 8080]),
        prop::sample::select(vec!["a.io", "b.io:80", "c.com"]),
        pick(&["a", "b", "a,b"]),
        prop::bool::ANY,
    )
        .prop_map(|(path, m, peer, src, port, host, hv, tcp)| {
            let mut r = Req::get(host, path).method(m).port(port);
            r.conn.source_ip = Some(ip(src));
            if let Some(p) = peer {
                r = r.from(p);
            }
            for v in hv {
                r = r.header("x-k", v.as_bytes());
            }
            r.tcp = tcp;
            r
        })
}

fn authz(specs: &[(String, AuthorizationPolicySpec)]) -> WorkloadAuthz {
    WorkloadAuthz::new(specs.iter().map(|(name, spec)| {
        let (p, issues) = compile(name.clone(), "ns", spec, false);
        assert!(issues.is_empty(), "{issues:?}");
        std::sync::Arc::new(p)
    }))
}

fn named(prefix: &str, v: Vec<AuthorizationPolicySpec>) -> Vec<(String, AuthorizationPolicySpec)> {
    v.into_iter()
        .enumerate()
        .map(|(i, p)| (format!("ns/{prefix}{i}"), p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: prop::test_runner::RngSeed::Fixed(0x6a7),
        ..ProptestConfig::default()
    })]

    #[test]
    fn adding_a_deny_never_allows(
        allows in prop::collection::vec(policy(Action::Allow), 0..3),
        denies in prop::collection::vec(policy(Action::Deny), 0..3),
        extra in policy(Action::Deny),
        req in request(),
    ) {
        let mut set = named("allow", allows);
        set.extend(named("deny", denies));
        let before = authz(&set).evaluate(&req.as_authz(), &NoCustomProvider).decision;
        set.push(("ns/extra".to_owned(), extra));
        let after = authz(&set).evaluate(&req.as_authz(), &NoCustomProvider).decision;
        if before == Decision::Deny {
            prop_assert_eq!(after, Decision::Deny);
        }
    }

    #[test]
    fn adding_an_allow_only_allows_what_it_matches(
        allows in prop::collection::vec(policy(Action::Allow), 0..3),
        denies in prop::collection::vec(policy(Action::Deny), 0..2),
        extra in policy(Action::Allow),
        req in request(),
    ) {
        let mut set = named("allow", allows);
        set.extend(named("deny", denies));
        let before = authz(&set).evaluate(&req.as_authz(), &NoCustomProvider).is_allowed();
        let extra_matches = authz(&[("ns/extra".to_owned(), extra.clone())])
            .evaluate(&req.as_authz(), &NoCustomProvider)
            .is_allowed();
        set.push(("ns/extra".to_owned(), extra));
        let w = authz(&set);
        let after = w.evaluate(&req.as_authz(), &NoCustomProvider);
        if after.is_allowed() {
            match after.reason {
                Reason::AllowMatched(r) if r.policy == "ns/extra" => prop_assert!(extra_matches),
                Reason::AllowMatched(_) => prop_assert!(before),
                other => prop_assert!(false, "allowed with an ALLOW present: {other:?}"),
            }
        }
        // An ALLOW that does not match never turns a denial into an allow.
        if !extra_matches && !before {
            prop_assert!(!after.is_allowed());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: prop::test_runner::RngSeed::Fixed(0x1d3),
        ..ProptestConfig::default()
    })]

    /// The path index finds exactly the first rule a linear scan finds.
    #[test]
    fn path_index_agrees_with_a_linear_scan(
        specs in prop::collection::vec(policy(Action::Deny), 1..6),
        req in request(),
        path in prop::sample::select(vec!["/a", "/ab", "/admin", "/x/b", "/", "/a/b", ""]),
    ) {
        let rules: Vec<crate::security::authz::compile::CompiledRule> = specs
            .iter()
            .flat_map(|s| compile("ns/p".to_owned(), "ns", s, false).0.rules)
            .collect();
        let index = crate::security::authz::index::PathIndex::build(rules.iter());
        // The index serves HTTP requests only (TCP scans linearly: §6.7 may drop paths).
        let mut req = req;
        req.tcp = false;
        let ar = req.as_authz();
        let cx = crate::security::authz::eval::Ctx { req: &ar, path };
        for side in [crate::security::authz::eval::Side::Wide, crate::security::authz::eval::Side::Narrow] {
            let linear = (0..rules.len()).find(|i| rules[*i].matches(&cx, side));
            let indexed = index.find(path.as_bytes(), |i| rules[i as usize].matches(&cx, side));
            prop_assert_eq!(linear.map(|i| i as u32), indexed);
        }
    }
}
