//! Shared fixtures: the shipped example resources and an `explain` shortcut.

use std::path::PathBuf;

use mesh_core::explain::{ExplainRequest, Explanation, ProxyScope, explain};
use mesh_core::model::Workload;
use mesh_core::{LoadOptions, Loaded, Mesh, MeshConfig};

/// The directory of the shipped examples.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/resources")
}

/// Loads the named example files (without `.yaml`).
pub fn load(names: &[&str]) -> Loaded {
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|n| examples_dir().join(format!("{n}.yaml")))
        .collect();
    Loaded::from_paths(&paths, LoadOptions::default())
}

/// A mesh from the named example files; panics on any error.
pub fn mesh(names: &[&str]) -> Mesh {
    match Mesh::from_loaded(load(names), MeshConfig::default()) {
        Ok((m, _)) => m,
        Err(e) => panic!("{e}: {:#?}", e.diagnostics),
    }
}

/// Explains a request from a sidecar of `production/client`.
pub fn sidecar(m: &Mesh, line: &str, headers: &[(&str, &str)], seed: u64) -> Explanation {
    run(m, line, headers, seed, ProxyScope::Sidecar(client()))
}

/// Explains a request at a gateway port.
pub fn gateway(m: &Mesh, gw: &str, port: u16, line: &str) -> Explanation {
    run(
        m,
        line,
        &[],
        0,
        ProxyScope::Gateway {
            gateway: gw.into(),
            port,
        },
    )
}

fn client() -> Workload {
    Workload {
        namespace: "production".into(),
        name: "frontend".into(),
        labels: [("app".to_owned(), "frontend".to_owned())].into(),
    }
}

fn run(
    m: &Mesh,
    line: &str,
    headers: &[(&str, &str)],
    seed: u64,
    scope: ProxyScope,
) -> Explanation {
    let req = ExplainRequest::from_line(line, headers, scope)
        .expect("METHOD URL")
        .with_seed(seed);
    explain(m, &req).expect("explainable request")
}
