use std::ffi::{CStr, c_char};
use std::ptr;

use super::*;

const VS: &str = include_str!("../../../examples/resources/virtualservice-myapp.yaml");
const DR: &str = include_str!("../../../examples/resources/destinationrule-myapp.yaml");

fn s(p: &str) -> (*const c_char, usize) {
    (p.as_ptr().cast(), p.len())
}

/// Takes ownership of a returned string.
fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: returned by this library, freed right after the copy.
    let out = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    unsafe { mesh_core_string_free(p) };
    out
}

fn myapp() -> *mut mesh_core_mesh {
    let text = format!("{VS}\n---\n{DR}");
    let (y, yl) = s(&text);
    let mut mesh = ptr::null_mut();
    let r = unsafe {
        mesh_core_mesh_new_from_yaml(
            y,
            yl,
            ptr::null(),
            0,
            &mut mesh,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(r, mesh_core_result::Ok);
    mesh
}

fn route(mesh: *const mesh_core_mesh, req: &str) -> (mesh_core_result, serde_json::Value) {
    let (q, ql) = s(req);
    let (mut out, mut len) = (ptr::null_mut(), 0usize);
    let r = unsafe { mesh_core_route(mesh, q, ql, &mut out, &mut len) };
    let text = take(out);
    assert_eq!(text.len(), len);
    (r, serde_json::from_str(&text).unwrap())
}

#[test]
fn routes_the_header_to_v2() {
    let m = myapp();
    let (r, v) = route(
        m,
        r#"{"url": "http://myapp/x", "headers": {"x-version": "v2"}, "workload": "production/a"}"#,
    );
    assert_eq!(r, mesh_core_result::Ok);
    assert_eq!(v["picked"]["subset"], "v2");
    unsafe { mesh_core_mesh_free(m) };
}

#[test]
fn explain_is_the_full_document() {
    let m = myapp();
    let (q, ql) =
        s(r#"{"method": "POST", "url": "http://myapp/orders", "workload": "production/a"}"#);
    let mut out = ptr::null_mut();
    let r = unsafe { mesh_core_explain(m, q, ql, &mut out, ptr::null_mut()) };
    assert_eq!(r, mesh_core_result::Ok);
    let v: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert_eq!(v["route"]["timeout_ms"], 30_000);
    assert_eq!(
        v["destination_policy"]["load_balancer"]["simple"],
        "ROUND_ROBIN"
    );
    unsafe { mesh_core_mesh_free(m) };
}

#[test]
fn bad_request_says_why() {
    let m = myapp();
    let (r, v) = route(m, r#"{"url": "http://myapp/", "sed": 1}"#);
    assert_eq!(r, mesh_core_result::InvalidRequest);
    assert!(
        v["error"].as_str().unwrap().contains("unknown field `sed`"),
        "{v}"
    );
    let (r, v) = route(m, r#"{"url": "/no-host"}"#);
    assert_eq!(r, mesh_core_result::InvalidRequest);
    assert!(v["error"].as_str().unwrap().contains("no host"), "{v}");
    unsafe { mesh_core_mesh_free(m) };
}

#[test]
fn invalid_yaml_gives_diagnostics_and_no_mesh() {
    let (y, yl) = s("kind: VirtualService\nspec:\n  hosts: [a\n");
    let (f, fl) = s("bad.yaml");
    // A non-NULL sentinel: the call must overwrite it with NULL.
    let mut mesh = ptr::NonNull::<mesh_core_mesh>::dangling().as_ptr();
    let (mut d, mut dl) = (ptr::null_mut(), 0usize);
    let r = unsafe { mesh_core_mesh_new_from_yaml(y, yl, f, fl, &mut mesh, &mut d, &mut dl) };
    assert_eq!(r, mesh_core_result::InvalidConfig);
    assert!(mesh.is_null());
    let diags: serde_json::Value = serde_json::from_str(&take(d)).unwrap();
    assert_eq!(diags[0]["file"], "bad.yaml");
    assert!(diags[0]["line"].as_u64().unwrap() >= 1);
}

#[test]
fn nulls_and_bad_utf8_are_results_not_crashes() {
    let mut mesh = ptr::null_mut();
    let r = unsafe {
        mesh_core_mesh_new_from_yaml(
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut mesh,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(r, mesh_core_result::NullParameter);
    let bad = [0xffu8, 0xfe];
    let r = unsafe {
        mesh_core_mesh_new_from_yaml(
            bad.as_ptr().cast(),
            2,
            ptr::null(),
            0,
            &mut mesh,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(r, mesh_core_result::InvalidUtf8);
    let (q, ql) = s(r#"{"url": "http://myapp/"}"#);
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { mesh_core_route(ptr::null(), q, ql, &mut out, ptr::null_mut()) },
        mesh_core_result::NullParameter
    );
    assert!(out.is_null());
    unsafe { mesh_core_mesh_free(ptr::null_mut()) };
    unsafe { mesh_core_string_free(ptr::null_mut()) };
}

#[test]
fn every_result_has_a_message() {
    for r in [
        mesh_core_result::Ok,
        mesh_core_result::NullParameter,
        mesh_core_result::InvalidUtf8,
        mesh_core_result::InvalidConfig,
        mesh_core_result::InvalidRequest,
        mesh_core_result::Panic,
        mesh_core_result::InvalidSettings,
    ] {
        let m = unsafe { CStr::from_ptr(mesh_core_result_message(r)) };
        assert!(!m.to_bytes().is_empty());
    }
    let v = unsafe { CStr::from_ptr(mesh_core_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn authorize_denies_a_plaintext_peer_with_403() {
    let m = myapp_authz();
    let req = r#"{"url": "http://myapp.production/api/x",
        "destination_workload": "production/myapp", "destination_labels": {"app": "myapp"}}"#;
    let (r, rl) = s(req);
    let mut out = ptr::null_mut();
    let res = unsafe { mesh_core_authorize(m, r, rl, &mut out, ptr::null_mut()) };
    assert_eq!(res, mesh_core_result::Ok);
    let v: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert_eq!(
        (v["decision"].as_str(), v["status"].as_u64()),
        (Some("DENY"), Some(403))
    );
    unsafe { mesh_core_mesh_free(m) };
}

fn myapp_authz() -> *mut mesh_core_mesh {
    let text = include_str!("../../../examples/resources/authorizationpolicy-myapp.yaml");
    let (y, yl) = s(text);
    let mut mesh = ptr::null_mut();
    let r = unsafe {
        mesh_core_mesh_new_from_yaml(
            y,
            yl,
            ptr::null(),
            0,
            &mut mesh,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(r, mesh_core_result::Ok);
    mesh
}

#[test]
fn budget_and_detector_handles_reject_bad_input_without_panicking() {
    let mut b = ptr::null_mut();
    let r = unsafe { mesh_core_retry_budget_new(f64::NAN, 0, 10.0, &mut b) };
    assert_eq!((r, b.is_null()), (mesh_core_result::InvalidSettings, true));
    let r = unsafe { mesh_core_retry_budget_new(0.2, 0, 10.0, ptr::null_mut()) };
    assert_eq!(r, mesh_core_result::NullParameter);

    let (j, jl) = s(r#"{"hosts": ["a"], "consecutive_5xx": 1, "max_ejection_percent": 100}"#);
    let mut d = ptr::null_mut();
    assert_eq!(
        unsafe { mesh_core_outlier_detector_new(j, jl, &mut d) },
        mesh_core_result::Ok
    );
    let (h, hl) = s("a");
    let mut ejected = false;
    let r = unsafe { mesh_core_outlier_detector_record(d, h, hl, 500, &mut ejected) };
    assert_eq!((r, ejected), (mesh_core_result::Ok, true));
    let r = unsafe { mesh_core_outlier_detector_advance(d, f64::INFINITY) };
    assert_eq!(r, mesh_core_result::InvalidSettings);
    let mut out = ptr::null_mut();
    let r = unsafe { mesh_core_outlier_detector_ejected(d, &mut out, ptr::null_mut()) };
    assert_eq!(
        (r, take(out)),
        (mesh_core_result::Ok, r#"["a"]"#.to_owned())
    );
    unsafe { mesh_core_outlier_detector_free(d) };
}
