use super::*;
use crate::path::FieldPath;

#[test]
fn positions_of_keys_and_items() {
    let docs = parse_documents("a:\n  b:\n  - x: 1\n  - y: two\n---\nc: d\n").unwrap();
    assert_eq!(docs.len(), 2);
    let p = docs[0].locate(&FieldPath::parse("a.b[1].y"));
    assert_eq!((p.line, p.column), (4, 5));
    // A missing tail points at the nearest ancestor present.
    let p = docs[0].locate(&FieldPath::parse("a.b[1].zzz"));
    assert_eq!((p.line, p.column), (4, 5));
    assert_eq!(docs[1].get_str("c"), Some("d"));
}

#[test]
fn quoted_scalars_stay_strings_and_plain_ones_are_typed() {
    let docs = parse_documents("a: \"80\"\nb: 80\nc: 1.5\nd: true\ne: ~\nf: yes\n").unwrap();
    let d = &docs[0];
    assert_eq!(d.get("a").unwrap().value, Value::Str("80".into()));
    assert_eq!(d.get("b").unwrap().value, Value::Int(80));
    assert_eq!(d.get("c").unwrap().value, Value::Float(1.5));
    assert_eq!(d.get("d").unwrap().value, Value::Bool(true));
    assert_eq!(d.get("e").unwrap().value, Value::Null);
    // Plain `yes` is a boolean, as in Kubernetes (YAML 1.1); a quoted "yes" is a string.
    assert_eq!(d.get("f").unwrap().value, Value::Bool(true));
}

#[test]
fn numeric_keys_are_text() {
    let docs = parse_documents("portLevelMtls:\n  8080:\n    mode: DISABLE\n").unwrap();
    let m = docs[0].get("portLevelMtls").unwrap();
    assert!(m.get("8080").is_some());
}

#[test]
fn duplicate_keys_are_rejected_with_a_position() {
    let err = parse_documents("action: ALLOW\naction: DENY\n").unwrap_err();
    assert_eq!(err.pos.line, 2, "{err:?}");
    assert!(err.message.to_lowercase().contains("duplicate"), "{err:?}");
}

#[test]
fn malformed_yaml_has_a_position() {
    let err = parse_documents("a:\n  b: \"unclosed\n").unwrap_err();
    assert!(err.pos.line >= 2, "{err:?}");
}

#[test]
fn empty_documents_are_dropped() {
    assert!(parse_documents("---\n# nothing\n").unwrap().is_empty());
    assert!(parse_documents("").unwrap().is_empty());
}

#[test]
fn alias_bombs_and_deep_nesting_fail_cleanly() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(parse_documents(&bomb).is_err());
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(parse_documents(&deep).is_err());
    let deep_block: String = (0..500)
        .map(|i| format!("{}k:\n", "  ".repeat(i)))
        .collect();
    assert!(parse_documents(&deep_block).is_err());
}

#[test]
fn large_multi_document_files_load_and_separator_storms_stop_with_advice() {
    let doc = "kind: X\nmetadata: {name: n}\n---\n";
    let big = doc.repeat(5_000);
    assert_eq!(parse_documents(&big).map(|d| d.len()), Ok(5_000));
    let storm = "---\n".repeat(MAX_DOCUMENTS + 1);
    let err = parse_documents(&storm).unwrap_err();
    assert!(
        err.message.contains("split it into smaller files"),
        "{err:?}"
    );
    assert!(err.pos.line > 0, "{err:?}");
}
