use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::{RequestSpec, Sidecars, mesh_from_yaml, route_cached};

/// The keyed JSON text of positional `value` of `shape`, rebuilt from [`LAYOUT`] alone: what a
/// host's rebuilder does.
fn keyed(shape: &str, value: &Value) -> String {
    let Value::Array(items) = value else {
        panic!("{shape}: not an array: {value}")
    };
    let shape = LAYOUT
        .iter()
        .find(|s| s.name == shape)
        .expect("shape in LAYOUT");
    assert_eq!(items.len(), shape.fields.len(), "{}: arity", shape.name);
    let fields: Vec<String> = shape
        .fields
        .iter()
        .zip(items)
        .map(|(f, v)| {
            let v = match (f.nested, v) {
                (_, Value::Null) | (Nested::Value, _) => v.to_string(),
                (Nested::One(inner), v) => keyed(inner, v),
                (Nested::List(inner), Value::Array(list)) => {
                    let list: Vec<String> = list.iter().map(|v| keyed(inner, v)).collect();
                    format!("[{}]", list.join(","))
                }
                (Nested::List(_), v) => panic!("{}: not a list: {v}", f.name),
                (Nested::Pick { shape: inner, list }, Value::Number(i)) => {
                    let at = shape.fields.iter().position(|f| f.name == list).unwrap();
                    keyed(inner, &items[at][i.as_u64().unwrap() as usize])
                }
                (Nested::Pick { shape: inner, .. }, v) => keyed(inner, v),
            };
            format!("{}:{v}", Value::from(f.name))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn round_trip<'a, T: Serialize>(shape: &str, view: &'a T)
where
    Positional<'a, T>: Serialize,
{
    let text = serde_json::to_string(&Positional(view)).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keyed(shape, &value), serde_json::to_string(view).unwrap());
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn destination(host: &str, subset: Option<&str>) -> DestinationView {
    DestinationView {
        host: host.to_owned(),
        subset: subset.map(str::to_owned),
        port: Some(8080),
        weight: 75,
        percent: 62.5,
    }
}

/// Every field set, every string distinct, non-ASCII and escapes included.
fn full_route() -> RouteView {
    let ops = |k: &str| OpsView {
        set: map(&[(k, "é \"quoted\""), ("x-b", "2")]),
        add: map(&[("x-add", "ünïcode ✓")]),
        remove: vec!["x-remove".to_owned(), format!("{k}-gone")],
    };
    RouteView {
        virtual_service: Some("ns/vs-ü".to_owned()),
        rule: Some(3),
        rule_name: Some("rule\\name\n".to_owned()),
        match_index: Some(1),
        action: "route",
        status: Some(418),
        destinations: vec![
            destination("a.ns.svc", Some("v1")),
            destination("b.ns", None),
        ],
        picked: Some(destination("b.ns", None)),
        timeout_ms: Some(1500),
        retries: Some(RetriesView {
            attempts: 4,
            per_try_timeout_ms: Some(250),
            retry_on: vec!["5xx".to_owned(), "reset".to_owned()],
            retriable_status_codes: vec![503, 504],
            backoff_base_ms: 25,
            retry_ignore_previous_hosts: true,
            default: false,
        }),
        fault: Some(FaultView {
            delay: Some(FaultDelayView {
                fixed_delay_ms: 5000,
                percentage: 0.1,
            }),
            abort: Some(FaultAbortView {
                http_status: None,
                grpc_status: Some("UNAVAILABLE".to_owned()),
                percentage: 100.0,
            }),
        }),
        mirror: vec![
            MirrorView {
                host: "m.ns".to_owned(),
                subset: Some("shadow".to_owned()),
                port: None,
                percentage: 12.5,
            },
            MirrorView {
                host: "n.ns".to_owned(),
                subset: None,
                port: Some(9090),
                percentage: 100.0,
            },
        ],
        redirect: Some(RedirectView {
            status: 301,
            location: "https://ex.ample/ä?q=1".to_owned(),
        }),
        direct_response: Some(DirectResponseView {
            status: 503,
            body: Some("down — ☂\u{1}".to_owned()),
        }),
        rewrite: Some(RewriteView {
            path: "/v2/".to_owned(),
            authority: None,
        }),
        headers: Some(HeadersView {
            request: ops("x-req"),
            response: ops("x-resp"),
        }),
    }
}

#[test]
fn every_route_field_round_trips_through_the_layout() {
    round_trip("route", &full_route());
}

#[test]
fn picked_is_an_index_when_a_destination_equals_it() {
    let mut r = full_route();
    let text = |r: &RouteView| serde_json::to_string(&Positional(r)).unwrap();
    let value: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(value[7], Value::from(1));
    r.picked.as_mut().unwrap().weight = 1;
    let value: Value = serde_json::from_str(&text(&r)).unwrap();
    assert!(value[7].is_array(), "{}", value[7]);
    round_trip("route", &r);
    r.picked = None;
    let value: Value = serde_json::from_str(&text(&r)).unwrap();
    assert!(value[7].is_null());
    round_trip("route", &r);
}

#[test]
fn empty_and_null_route_fields_round_trip() {
    round_trip("route", &RouteView::default());
    let mut r = full_route();
    r.fault = Some(FaultView {
        delay: None,
        abort: Some(FaultAbortView {
            http_status: Some(500),
            grpc_status: None,
            percentage: 50.0,
        }),
    });
    r.direct_response = Some(DirectResponseView {
        status: 200,
        body: None,
    });
    r.headers.as_mut().unwrap().request = OpsView::default();
    round_trip("route", &r);
}

#[test]
fn authz_round_trips_through_the_layout() {
    round_trip(
        "authz",
        &AuthzView {
            workload: "ns/wl".to_owned(),
            decision: "DENY",
            status: Some(403),
            reason: "denied by « policy »".to_owned(),
            policy: Some("ns/p".to_owned()),
            rule: Some(0),
            action: Some("DENY"),
            path: "/api/ü".to_owned(),
            normalization: "BASE",
            policies: vec!["ns/p".to_owned(), "ns/q".to_owned()],
            audit: vec!["ns/a".to_owned()],
            dry_run: vec![],
        },
    );
}

#[test]
fn decisions_of_the_examples_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/resources");
    let (mesh, _) = crate::mesh_from_path(&dir).unwrap();
    let sidecars = Sidecars::default();
    let requests = [
        r#"{"url": "http://myapp.production.svc.cluster.local/api/users",
            "headers": {"x-version": "v2"}, "workload": "production/frontend"}"#,
        r#"{"url": "http://myapp.production/x", "headers": {"x-test-fault": "inject"},
            "workload": "production/frontend"}"#,
        r#"{"url": "http://myapp.example.com/api/x?y=1", "gateway": "production/myapp-gateway",
            "port": 80}"#,
        r#"{"url": "http://nowhere.example/"}"#,
    ];
    for text in requests {
        let spec = RequestSpec::from_json(text).unwrap();
        round_trip("route", &route_cached(&mesh, &sidecars, &spec).unwrap());
    }
}

#[test]
fn layout_names_every_shape_once_and_only_shapes_it_has() {
    let names: Vec<&str> = LAYOUT.iter().map(|s| s.name).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(!names[..i].contains(n), "{n} twice");
    }
    for field in LAYOUT.iter().flat_map(|s| s.fields) {
        if let Nested::One(s) | Nested::List(s) = field.nested {
            assert!(names.contains(&s), "{}: no shape {s}", field.name);
        }
    }
    let text = serde_json::to_string(&LAYOUT[6]).unwrap();
    assert_eq!(
        text,
        r#"{"name":"mirror","fields":[["host"],["subset"],["port"],["percentage"]]}"#
    );
    let route = serde_json::to_string(&LAYOUT[0].fields[6]).unwrap();
    assert_eq!(route, r#"["destinations","list","destination"]"#);
    let route = serde_json::to_string(&LAYOUT[0].fields[7]).unwrap();
    assert_eq!(route, r#"["picked","pick","destination","destinations"]"#);
}

#[test]
fn a_mirror_and_a_redirect_from_yaml_round_trip() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: ex.ample}
  - match: [{uri: {prefix: /direct}}]
    directResponse: {status: 503, body: {string: "späť"}}
  - route: [{destination: {host: reviews}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 10}
    headers: {request: {set: {x-a: "1"}}, response: {remove: [x-b]}}
"#;
    let (mesh, _) = mesh_from_yaml(yaml, "vs.yaml").unwrap();
    let mirrored = route_cached(
        &mesh,
        &Sidecars::default(),
        &RequestSpec::get("http://reviews/"),
    );
    let mirrored = mirrored.unwrap();
    assert_eq!(mirrored.mirror.len(), 1);
    assert!(mirrored.headers.is_some());
    let sidecars = Sidecars::default();
    for (path, action) in [
        ("/old/x", "redirect"),
        ("/direct", "direct_response"),
        ("/other", "route"),
    ] {
        let spec = RequestSpec::get(&format!("http://reviews{path}"));
        let view = route_cached(&mesh, &sidecars, &spec).unwrap();
        assert_eq!(view.action, action, "{path}");
        round_trip("route", &view);
    }
}
