use super::*;

#[test]
fn linkerd_anchoring_is_textual() {
    assert_eq!(linkerd_anchor("/api/users"), "^/api/users$");
    assert_eq!(linkerd_anchor(" ^/a$ "), "^/a$");
    assert_eq!(linkerd_anchor("^/a"), "^/a$");
    assert_eq!(linkerd_anchor("/a$"), "^/a$");
    // Quirk: alternation is not grouped.
    assert_eq!(linkerd_anchor("a|b"), "^a|b$");
    let re = Regex::new(&linkerd_anchor("/a|/b")).unwrap();
    assert!(re.is_match("/a/anything"), "starts with /a");
    assert!(re.is_match("/x/b"), "ends with /b");
}

#[test]
fn classification_defaults_to_5xx_when_no_class_matches() {
    let classes = vec![ResponseClassRule {
        condition: ResponseCondition::Status(400, 404),
        is_failure: true,
    }];
    assert!(is_failure(&classes, 404));
    assert!(
        is_failure(&classes, 503),
        "no class matches: 5xx is a failure"
    );
    assert!(!is_failure(&classes, 200));
    let ok_5xx = vec![ResponseClassRule {
        condition: ResponseCondition::Status(500, 599),
        is_failure: false,
    }];
    assert!(!is_failure(&ok_5xx, 503));
}

#[test]
fn a_range_with_one_bound_is_dropped() {
    let m = ResponseMatch {
        status: Some(crate::resource::StatusRange {
            min: Some(500),
            max: None,
        }),
        ..ResponseMatch::default()
    };
    assert_eq!(response_condition(&m), None);
}

#[test]
fn several_fields_in_one_condition_are_anded() {
    let m = RequestMatch {
        path_regex: Some("/api/orders".into()),
        method: Some("post".into()),
        ..RequestMatch::default()
    };
    let c = request_condition(&m).unwrap();
    assert!(c.matches("POST", "/api/orders"));
    assert!(!c.matches("GET", "/api/orders"));
    assert!(!c.matches("POST", "/api/orders/1"));
    assert!(
        !c.matches("post", "/api/orders"),
        "the request method is compared exactly"
    );
}
