//! mesh-bindings: what the Python, Node and C bindings share, so the three translate one schema.
//!
//! A host value (a Python dict, a JS object, a C JSON string) is deserialized with serde into a
//! [`RequestSpec`] — the fields of `mesh-proxy explain`'s flags — then handed to
//! [`mesh_core::explain`]. Decisions go back out as the same serde-serialized
//! [`Explanation`](mesh_core::explain::Explanation) the CLI prints. No policy lives here.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

mod outbound;
pub mod positional;
mod request;
mod resilience;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use mesh_core::explain::{AuthzView, ExplainError, Explanation, RouteView};
use mesh_core::route::VirtualHosts;
use mesh_core::security::authz::AuthzPolicies;
use mesh_core::{Diagnostic, InvalidConfig, LoadOptions, Loaded, Mesh, MeshConfig};

pub use self::outbound::{
    After, AttemptTimeout, Clients, OutboundCall, OutboundError, Step, begin, outcome,
};
pub use self::request::{Headers, RequestSpec};
pub use self::resilience::{Budget, Detector, InvalidSettings, OutlierSpec};

/// Why a request could not be evaluated: a field of the request, never the mesh.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `workload` is not `NS/NAME`.
    #[error("workload {0:?}: expected NS/NAME")]
    Workload(String),
    /// `gateway` without `port`, or `port` without `gateway`.
    #[error("gateway and port go together: give both or neither")]
    GatewayPort,
    /// `authorize` at a gateway without `destination_workload`: no workload to judge for.
    #[error("authorize at a gateway needs destination_workload")]
    NoAuthzWorkload,
    /// The request itself (URL, method, header, host, unknown gateway).
    #[error(transparent)]
    Explain(#[from] ExplainError),
}

/// Builds a mesh from one YAML text named `file` (strict: unknown fields are errors).
/// On success the warnings come beside the mesh.
pub fn mesh_from_yaml(text: &str, file: &str) -> Result<(Mesh, Vec<Diagnostic>), InvalidConfig> {
    Mesh::from_yaml(file, text)
}

/// Builds a mesh from a file or a directory (read recursively, as `mesh-proxy --config`).
pub fn mesh_from_path(path: &Path) -> Result<(Mesh, Vec<Diagnostic>), InvalidConfig> {
    let loaded = Loaded::from_paths(&[path], LoadOptions::default());
    Mesh::from_loaded(loaded, MeshConfig::default())
}

/// The full decision document, exactly as `mesh-proxy explain` prints it.
pub fn explain(mesh: &Mesh, spec: &RequestSpec) -> Result<Explanation, RequestError> {
    let req = spec.to_explain_request()?;
    Ok(mesh_core::explain::explain(mesh, &req)?)
}

/// The routing part of the decision (`explain(..).route`), with the destination picked with
/// the request's seed.
pub fn route(mesh: &Mesh, spec: &RequestSpec) -> Result<RouteView, RequestError> {
    let req = spec.to_explain_request()?;
    mesh_core::explain::route(mesh, &req).map_err(RequestError::from)
}

/// The mesh's AuthorizationPolicies compiled for [`authorize`]: build once per mesh and keep
/// beside it. Policies that failed to compile are left out (`mesh-proxy explain` notes them).
pub fn compile_authz(mesh: &Mesh) -> AuthzPolicies {
    AuthzPolicies::from_mesh(mesh).0
}

/// The AuthorizationPolicy verdict for the request's receiving workload
/// (`explain(..).authz`), with policies from [`compile_authz`] of the same mesh.
pub fn authorize(
    mesh: &Mesh,
    policies: &AuthzPolicies,
    spec: &RequestSpec,
) -> Result<AuthzView, RequestError> {
    let req = spec.to_explain_request()?;
    mesh_core::explain::authz(mesh, policies, &req)?.ok_or(RequestError::NoAuthzWorkload)
}

/// Diagnostics as the JSON array every binding exposes (severity, file, line, column,
/// resource, path, message).
pub fn diagnostics_json(diags: &[Diagnostic]) -> String {
    serde_json::to_string(diags).unwrap_or_else(|_| "[]".to_owned())
}

/// The sidecar virtual hosts of the workloads a binding's `route` has seen, built once per
/// (workload, labels) and kept beside the mesh (building them is most of a native `route`).
/// At most [`Sidecars::CAPACITY`] workloads are kept; others are built per call.
#[derive(Debug, Default)]
pub struct Sidecars {
    map: RwLock<HashMap<String, Vec<SidecarEntry>>>,
}

type SidecarEntry = (BTreeMap<String, String>, Arc<VirtualHosts>);

impl Sidecars {
    /// How many (workload, labels) pairs are kept.
    pub const CAPACITY: usize = 1024;

    fn get(&self, mesh: &Mesh, spec: &RequestSpec) -> Option<Arc<VirtualHosts>> {
        if spec.gateway.is_some() {
            return None;
        }
        let read = self.map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = read.get(&spec.workload)
            && let Some((_, vhosts)) = v.iter().find(|(l, _)| *l == spec.labels)
        {
            return Some(vhosts.clone());
        }
        let size: usize = read.values().map(Vec::len).sum();
        drop(read);
        if size >= Self::CAPACITY {
            return None;
        }
        let w = request::workload(&spec.workload, &spec.labels).ok()?;
        let vhosts = Arc::new(mesh.sidecar_routes(&w));
        let mut write = self.map.write().unwrap_or_else(PoisonError::into_inner);
        write
            .entry(spec.workload.clone())
            .or_default()
            .push((spec.labels.clone(), vhosts.clone()));
        Some(vhosts)
    }
}

/// [`route_cached`] taking the request by value: its strings move into the engine's request
/// instead of being copied (the same decision).
pub fn route_owned(
    mesh: &Mesh,
    sidecars: &Sidecars,
    spec: RequestSpec,
) -> Result<RouteView, RequestError> {
    let vhosts = sidecars.get(mesh, &spec);
    let req = spec.into_explain_request()?;
    mesh_core::explain::route_with(mesh, vhosts.as_deref(), &req).map_err(RequestError::from)
}

/// [`authorize`] taking the request by value (the same verdict).
pub fn authorize_owned(
    mesh: &Mesh,
    policies: &AuthzPolicies,
    spec: RequestSpec,
) -> Result<AuthzView, RequestError> {
    let req = spec.into_explain_request()?;
    mesh_core::explain::authz(mesh, policies, &req)?.ok_or(RequestError::NoAuthzWorkload)
}

/// [`route`] with the sidecar's virtual hosts from `sidecars` (the same decision).
pub fn route_cached(
    mesh: &Mesh,
    sidecars: &Sidecars,
    spec: &RequestSpec,
) -> Result<RouteView, RequestError> {
    let req = spec.to_explain_request()?;
    let vhosts = sidecars.get(mesh, spec);
    mesh_core::explain::route_with(mesh, vhosts.as_deref(), &req).map_err(RequestError::from)
}
