use http::{HeaderMap, HeaderValue};

use super::*;

fn sm(exact: Option<&str>, prefix: Option<&str>, regex: Option<&str>) -> StringMatch {
    StringMatch {
        exact: exact.map(Into::into),
        prefix: prefix.map(Into::into),
        regex: regex.map(Into::into),
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn regex_is_a_full_match() {
    let m = StrMatcher::compile(&sm(None, None, Some("/api/v[0-9]")), false).unwrap();
    assert!(m.matches("/api/v1"));
    assert!(!m.matches("/api/v1/users"), "full match, not search");
    assert!(!m.matches("x/api/v1"));
}

#[test]
fn prefix_is_not_segment_aware_and_case_folds_only_when_asked() {
    let m = StrMatcher::compile(&sm(None, Some("/foo"), None), false).unwrap();
    assert!(m.matches("/foobar"));
    assert!(!m.matches_folded("/FOObar", false));
    let m = StrMatcher::compile(&sm(None, Some("/Foo"), None), true).unwrap();
    assert!(m.matches_folded("/FOObar", true));
    // ignoreUriCase has no effect on regex.
    let m = StrMatcher::compile(&sm(None, None, Some("/foo")), true).unwrap();
    assert!(!m.matches_folded("/FOO", true));
}

#[test]
fn exact_empty_header_means_present_and_empty() {
    let m = HeaderMatcher::compile("x", Some(&sm(Some(""), None, None)), false).unwrap();
    assert!(m.matches(&headers(&[("x", "")])));
    assert!(!m.matches(&headers(&[])), "absent is not empty");
    assert!(!m.matches(&headers(&[("x", "v")])));
}

#[test]
fn presence_forms() {
    for m in [
        None,
        Some(sm(None, None, None)),
        Some(sm(None, None, Some("*"))),
    ] {
        let h = HeaderMatcher::compile("x", m.as_ref(), false).unwrap();
        assert!(h.matches(&headers(&[("x", "anything")])));
        assert!(!h.matches(&headers(&[])));
        let w = HeaderMatcher::compile("x", m.as_ref(), true).unwrap();
        assert!(!w.matches(&headers(&[("x", "anything")])));
        assert!(
            w.matches(&headers(&[])),
            "withoutHeaders presence: true iff absent"
        );
    }
}

#[test]
fn without_headers_treats_missing_as_empty() {
    let w = HeaderMatcher::compile("x", Some(&sm(Some("v"), None, None)), true).unwrap();
    assert!(w.matches(&headers(&[])), "absent is != v");
    assert!(w.matches(&headers(&[("x", "other")])));
    assert!(!w.matches(&headers(&[("x", "v")])));
    // Quirk: withoutHeaders regex .* is never true.
    let w = HeaderMatcher::compile("x", Some(&sm(None, None, Some(".*"))), true).unwrap();
    assert!(!w.matches(&headers(&[])));
    assert!(!w.matches(&headers(&[("x", "v")])));
}

#[test]
fn repeated_headers_are_joined_with_commas() {
    let h = headers(&[("x-role", "user"), ("x-role", "admin")]);
    let m =
        HeaderMatcher::compile("x-role", Some(&sm(Some("user,admin"), None, None)), false).unwrap();
    assert!(m.matches(&h));
    let m = HeaderMatcher::compile("x-role", Some(&sm(Some("admin"), None, None)), false).unwrap();
    assert!(!m.matches(&h));
    // Header names compare case-insensitively.
    let m = HeaderMatcher::compile("X-Role", Some(&sm(None, Some("user"), None)), false).unwrap();
    assert!(m.matches(&h));
}

#[test]
fn query_parameters_first_occurrence_and_bare_keys() {
    let q = QueryMatcher::compile("k", Some(&sm(Some("1"), None, None))).unwrap();
    assert!(q.matches(Some("a=2&k=1&k=2")));
    assert!(!q.matches(Some("k=2&k=1")), "only the first value counts");
    assert!(!q.matches(None));
    let q = QueryMatcher::compile("k", Some(&sm(Some(""), None, None))).unwrap();
    assert!(q.matches(Some("k")), "?k has value \"\"");
    let q = QueryMatcher::compile("k", Some(&sm(None, None, None))).unwrap();
    assert!(q.matches(Some("x=1&k=")));
    assert!(!q.matches(Some("kk=1")));
}
