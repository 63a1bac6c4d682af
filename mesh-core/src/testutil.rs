//! Fixtures for tests of this crate and of the crates built on it (feature `test-util`).

use std::collections::BTreeMap;

use crate::model::{Mesh, Workload};
use crate::route::{Decision, RouteRequest};

/// A resource document: `kind` in `ns/name` with the given `spec` body (YAML, indented by the
/// caller as a mapping under `spec:`).
pub fn doc(kind: &str, ns_name: &str, spec: &str) -> String {
    let (ns, name) = ns_name.split_once('/').unwrap_or(("default", ns_name));
    let api = match kind {
        "PeerAuthentication" | "AuthorizationPolicy" => "security.istio.io/v1",
        "ServiceProfile" => "linkerd.io/v1alpha2",
        "TrafficSplit" => "split.smi-spec.io/v1alpha1",
        _ => "networking.istio.io/v1",
    };
    let body: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{body}---\n"
    )
}

/// Builds a mesh from documents, panicking with rendered diagnostics if invalid.
pub fn mesh(docs: &[String]) -> Mesh {
    let text = docs.concat();
    match Mesh::from_yaml("test.yaml", &text) {
        Ok((m, _)) => m,
        Err(e) => {
            let msgs: Vec<String> = e.diagnostics.iter().map(|d| d.render(&e.sources)).collect();
            panic!("invalid test config:\n{}\n{text}", msgs.join("\n"))
        }
    }
}

/// A workload `ns/name` with labels `k=v,...`.
pub fn workload(ns_name: &str, labels: &str) -> Workload {
    let (ns, name) = ns_name.split_once('/').unwrap_or(("default", ns_name));
    Workload {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        labels: labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A request: `"GET http://host/path?q"` plus headers.
pub fn request(line: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let (method, url) = line.split_once(' ').unwrap_or(("GET", line));
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap_or_default()
}

/// The routing outcome at a sidecar, as a short string: `ns/vs#rule.match` (match `-` for a
/// rule without `match`), `404`, `default`, or `301`.
pub fn outcome(mesh: &Mesh, w: &Workload, req: &http::Request<()>) -> String {
    let vhosts = mesh.sidecar_routes(w);
    let rr = RouteRequest::from_http(req);
    describe(mesh.route_sidecar(&vhosts, &w.namespace, &rr).0)
}

/// The routing outcome at a gateway listener.
pub fn gateway_outcome(mesh: &Mesh, gateway: &str, port: u16, req: &http::Request<()>) -> String {
    let Some(vhosts) = mesh.gateway_routes(gateway, port) else {
        return "no-listener".to_owned();
    };
    let rr = RouteRequest::from_http(req);
    describe(Mesh::route_gateway(&vhosts, &rr).0)
}

fn describe(d: Decision<'_>) -> String {
    match d {
        Decision::Route { entry, .. } => format!(
            "{}#{}.{}",
            entry.rule.virtual_service,
            entry.rule.index,
            entry
                .match_block()
                .map_or_else(|| "-".to_owned(), |b| b.index.to_string())
        ),
        Decision::NotFound { .. } => "404".to_owned(),
        Decision::HttpsRedirect { .. } => "301".to_owned(),
        Decision::Default => "default".to_owned(),
    }
}
