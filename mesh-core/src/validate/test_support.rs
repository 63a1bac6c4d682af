//! Assertions shared by the validation tests of every kind.

use crate::diag::Diagnostic;
use crate::load::{LoadOptions, Loaded};

/// One expected diagnostic: `"Error 9:11 spec.rules[0].from"` and a part of the message.
pub type Want = (&'static str, &'static str);

/// A named case: a spec body and the diagnostics it must produce.
pub struct Case {
    /// Label in failure messages.
    pub name: &'static str,
    /// The spec body.
    pub spec: &'static str,
    /// Expected diagnostics.
    pub want: &'static [Want],
}

/// `Severity line:column path`, the exact head of a diagnostic.
pub fn head(d: &Diagnostic) -> String {
    format!("{:?} {}:{} {}", d.severity, d.line, d.column, d.path)
}

/// Loads `text` and asserts its diagnostics are exactly `want` (in any order).
pub fn check(name: &str, text: &str, want: &[Want]) {
    let l = Loaded::from_str("t.yaml", text, LoadOptions::default());
    let got: Vec<(String, String)> = l
        .diagnostics
        .iter()
        .map(|d| (head(d), d.message.clone()))
        .collect();
    let ok = got.len() == want.len()
        && want
            .iter()
            .all(|(head, msg)| got.iter().any(|(h, m)| h == head && m.contains(msg)));
    assert!(ok, "case {name:?}\nwant: {want:#?}\ngot: {got:#?}");
}

/// Asserts `got` is one diagnostic per expected `(head, message substring)`, in order.
pub fn assert_in_order(label: &str, got: &[Diagnostic], want: &[(&str, &str)]) {
    let lines: Vec<String> = got
        .iter()
        .map(|d| format!("{} {}", head(d), d.message))
        .collect();
    assert_eq!(got.len(), want.len(), "{label}\n{lines:#?}");
    for (d, (h, msg)) in got.iter().zip(want) {
        assert_eq!(head(d), *h, "{label}\n{lines:#?}");
        assert!(
            d.message.contains(msg),
            "{label}: {:?} lacks {msg:?}",
            d.message
        );
    }
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
        .map(|d| format!("{} {}", head(d), d.message))
        .collect();
    assert!(lines.is_empty(), "{file}: {lines:#?}");
}
