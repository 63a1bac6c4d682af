//! Table-driven tests: every rule with a bad input and its exact diagnostic (severity, line,
//! column, path and a distinctive part of the message); good inputs produce none.

mod profile;
mod split;

use proptest::prelude::{ProptestConfig, proptest};
use proptest::test_runner::RngSeed;

use crate::path::FieldPath;
use crate::validate::Report;

pub use crate::validate::test_support::{Case, check, example_is_clean};

/// The document for a case: header lines 1-6, then the spec body.
pub fn doc(api: &str, kind: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: prod\nspec:\n{}",
        spec.trim_start_matches('\n')
    )
}

#[test]
fn example_files_are_clean() {
    example_is_clean("serviceprofile-myapp.yaml");
    example_is_clean("trafficsplit-canary.yaml");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: RngSeed::Fixed(0x5eed_0002),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// No authority or path regex, however odd, makes a check panic.
    #[test]
    fn checks_never_panic(s in "[a-z0-9.:\\[\\]()|^$*+?\\\\ -]{0,30}|\\PC{0,20}") {
        let _ = super::split::check_authority(&s);
        super::profile::path_regex(&mut Report::new(), &FieldPath::root(), &s);
    }
}
