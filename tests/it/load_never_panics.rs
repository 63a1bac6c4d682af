//! Loading never panics: arbitrary text, and the shipped examples with random edits, either load
//! or come back as diagnostics with a position (issue 2; security.md bad-input catalogue).

use mesh_core::{LoadOptions, Loaded, Mesh, MeshConfig};
use proptest::prelude::*;

use crate::support::examples_dir;

fn examples() -> Vec<String> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(examples_dir())
        .expect("examples dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        out.push(std::fs::read_to_string(p).expect("readable"));
    }
    out
}

/// Loads and, when loading succeeds, builds; every error must be a positioned diagnostic.
fn load_and_build(text: &str) {
    let loaded = Loaded::from_str("fuzz.yaml", text, LoadOptions::default());
    for d in &loaded.diagnostics {
        assert!(!d.message.is_empty(), "diagnostic without a message: {d:?}");
        assert_eq!(d.file, "fuzz.yaml");
    }
    let _ = Mesh::from_loaded(loaded, MeshConfig::default());
}

/// One edit of a document: delete, duplicate or replace a span, or insert YAML-significant text.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = prop::sample::select(vec![
        ":",
        "- ",
        "\n",
        "  ",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a",
        "!!binary ",
        "'",
        "\"",
        "#",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        ">-\n",
        "<<: *a\n",
        "\t",
        "0x1F",
        "1e999",
        "-1",
        "~",
        "\u{feff}",
        "\u{0}",
        "%YAML 1.2\n",
        "yes",
        "9999999999999999999999",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0usize..80).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), tokens).prop_map(|(a, t)| Edit::Insert(a, t)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for e in edits {
        let at = |a: usize, len: usize| if len == 0 { 0 } else { a % len };
        match *e {
            Edit::Delete(a, n) => {
                let start = at(a, s.len());
                let end = (start + n).min(s.len());
                s.drain(start..end);
            }
            Edit::Duplicate(a, n) => {
                let start = at(a, s.len());
                let end = (start + n).min(s.len());
                let copy: Vec<char> = s[start..end].to_vec();
                s.splice(end..end, copy);
            }
            Edit::Insert(a, t) => {
                let pos = at(a, s.len() + 1);
                s.splice(pos..pos, t.chars());
            }
        }
    }
    s.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_and_build(&text);
    }

    #[test]
    fn edited_examples_never_panic(which in 0usize..10, edits in prop::collection::vec(edit(), 1..6)) {
        let docs = examples();
        let text = apply(&docs[which % docs.len()], &edits);
        load_and_build(&text);
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    for open in ["[", "{a: ", "- "] {
        let text = format!("kind: VirtualService\nspec: {}", open.repeat(10_000));
        let loaded = Loaded::from_str("deep.yaml", &text, LoadOptions::default());
        assert!(loaded.has_errors(), "{open}");
    }
}
