//! Table-driven tests: every rule with a bad input and its exact diagnostic (severity, line,
//! column, path and a distinctive part of the message); good inputs produce none.

mod authz;
mod authz_values;
mod lints;
mod peer_authn;

use proptest::prelude::{ProptestConfig, proptest};
use proptest::test_runner::RngSeed;

use crate::diag::Severity;

use crate::path::FieldPath;
use crate::resource::Condition;
use crate::validate::Report;

use super::identity::{self, check_principal};
use super::ip::{self, Block};
use super::{condition, values};

pub use crate::validate::test_support::{Case, check, example_is_clean};

/// The document for a case: header lines 1-6, then the spec body.
pub fn doc(api: &str, kind: &str, ns: &str, spec: &str) -> String {
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: t\n  namespace: {ns}\nspec:\n{}",
        spec.trim_start_matches('\n')
    )
}

#[test]
fn example_files_are_clean() {
    example_is_clean("peerauthentication.yaml");
    example_is_clean("authorizationpolicy-myapp.yaml");
}

#[test]
fn cidr_parser() {
    let ok = |s: &str, len: u8| assert_eq!(Block::parse(s).map(|b| b.len), Ok(len), "{s}");
    ok("10.1.2.3", 32);
    ok("10.0.0.0/8", 8);
    ok("0.0.0.0/0", 0);
    ok("2001:db8::/32", 32);
    ok("::ffff:1.2.3.4", 128);
    for bad in [
        "10.0.0.0/33",
        "1.2.3",
        "::ffff:1.2.3.4/200",
        "10.0.0.0/",
        "10.0.0.0/08",
        "10.0.0.0/+8",
        "010.0.0.1",
        "fe80::1%eth0",
        "10.0.0.0/8/8",
        " 10.0.0.1",
        "",
    ] {
        assert!(Block::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    let net = |s: &str| Block::parse(s).map(|b| b.network().to_string());
    assert_eq!(net("10.1.2.3/8"), Ok("10.0.0.0".to_owned()));
    assert_eq!(net("10.1.2.3/0"), Ok("0.0.0.0".to_owned()));
    assert_eq!(net("2001:db8::1/64"), Ok("2001:db8::".to_owned()));
    assert_eq!(net("2001:db8::1"), Ok("2001:db8::1".to_owned()));
}

#[test]
fn principal_grammar() {
    for good in [
        "*",
        "cluster.local/ns/prod/sa/web",
        "cluster.local/ns/prod/*",
        "*/ns/prod/sa/web",
        "*/sa/web",
        "cluster.local*",
        "td_1.example-2/ns/a/sa/b",
    ] {
        assert_eq!(check_principal(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        (
            "spiffe://cluster.local/ns/x",
            "must not include the spiffe:// scheme",
        ),
        (
            "SPIFFE://cluster.local/ns/x",
            "must not include the spiffe:// scheme",
        ),
        ("spiffe:///ns/x", "must not include the spiffe:// scheme"),
        ("/ns/x/sa/y", "empty trust domain"),
        ("Cluster.local/ns/x/sa/y", "must be lower case"),
        ("TD*", "must be lower case"),
        ("cluster.local/ns/x?a=b", "contains '?'"),
        ("cluster.local/ns/x#f", "contains '#'"),
        ("cluster.local/ns/x%20", "contains '%'"),
        (
            "cluster.local/*/sa/x",
            "'*' is only allowed at the start or end",
        ),
        ("*cluster.local*", "'*' is only allowed at the start or end"),
        ("cluster.local//ns/x", "empty path segment"),
        ("cluster.local/ns/../sa/x", "'.' or '..' path segment"),
        ("cluster.local/ns/x/", "'.' or '..' path segment"),
    ] {
        let err = check_principal(bad).err().unwrap_or_default();
        assert!(err.contains(why), "{bad:?}: {err:?} should contain {why:?}");
    }
}

#[test]
fn severity_is_what_the_tables_print() {
    assert_eq!(format!("{:?}", Severity::Error), "Error");
    assert_eq!(format!("{:?}", Severity::Warning), "Warning");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: RngSeed::Fixed(0x5eed_0001),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// No value, however odd, makes a check panic.
    #[test]
    fn value_checks_never_panic(s in "[a-zA-Z0-9*/.:{}%?#\\[\\]_ -]{0,40}|\\PC{0,20}") {
        let mut r = Report::new();
        let p = FieldPath::root();
        let _ = check_principal(&s);
        let _ = Block::parse(&s).map(Block::network);
        ip::check(&mut r, &p, &s);
        values::path(&mut r, &p, &s);
        values::method(&mut r, &p, &s);
        values::literal_star(&mut r, &p, &s);
        identity::namespace(&mut r, &p, &s);
        identity::service_account(&mut r, &p, &s);
        identity::trust_domain(&mut r, &p, &s);
        let c = Condition { key: s.clone(), values: vec![s.clone()], not_values: vec![] };
        condition::validate(&c, &p, &mut r);
    }
}
