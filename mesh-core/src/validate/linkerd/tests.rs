//! Table-driven tests: every rule with a bad input and its exact diagnostic (severity, line,
//! column, path and a distinctive part of the message); good inputs produce none.

mod profile;
mod split;

use proptest::prelude::{ProptestConfig, proptest};
use proptest::test_runner::RngSeed;

use crate::load::{LoadOptions, Loaded};
use crate::path::FieldPath;
use crate::validate::Report;

/// One expected diagnostic: `"Error 9:11 spec.routes[0].name"` and a part of the message.
pub type Want = (&'static str, &'static str);

/// A resource whose `spec` body is `spec` (so the spec's first line is line 7).
pub struct Case {
    pub name: &'static str,
    pub spec: &'static str,
    pub want: &'static [Want],
}

/// The document for a case: header lines 1-6, then the spec body.
pub fn doc(api: &str, kind: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: prod\nspec:\n{}",
        spec.trim_start_matches('\n')
    )
}

/// Loads `text` and asserts its diagnostics are exactly `want` (in any order).
pub fn check(name: &str, text: &str, want: &[Want]) {
    let l = Loaded::from_str("t.yaml", text, LoadOptions::default());
    let got: Vec<(String, String)> = l
        .diagnostics
        .iter()
        .map(|d| {
            let head = format!("{:?} {}:{} {}", d.severity, d.line, d.column, d.path);
            (head, d.message.clone())
        })
        .collect();
    let ok = got.len() == want.len()
        && want
            .iter()
            .all(|(head, msg)| got.iter().any(|(h, m)| h == head && m.contains(msg)));
    assert!(ok, "case {name:?}\nwant: {want:#?}\ngot: {got:#?}");
}

/// Loads an example file shipped with the repository; it must produce no diagnostic.
pub fn example_is_clean(file: &str) {
    let path = format!(
        "{}/../examples/resources/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let l = Loaded::from_paths(&[&path], LoadOptions::default());
    assert!(!l.resources.is_empty(), "{file}: no resource loaded");
    let lines: Vec<String> = l
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{:?} {}:{} {} {}",
                d.severity, d.line, d.column, d.path, d.message
            )
        })
        .collect();
    assert!(lines.is_empty(), "{file}: {lines:#?}");
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
