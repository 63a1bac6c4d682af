//! The `mesh_core` Python module: a translator over mesh-core (STYLE rule 10). Requests come in
//! as dicts with the fields of `mesh-proxy explain`'s flags, decisions go out as the dicts of
//! its JSON schema; evaluation runs with the GIL released.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

mod outbound;
mod pyser;
mod request;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use mesh_bindings::{Clients, InvalidSettings, OutlierSpec, RequestError, RequestSpec};
use mesh_core::security::authz::AuthzPolicies;
use mesh_core::{Diagnostic, InvalidConfig};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pythonize::{Depythonizer, pythonize};

use self::outbound::{Call, OutboundClient, outbound_error};

create_exception!(
    mesh_core,
    MeshConfigError,
    PyValueError,
    "The resources failed validation; `.diagnostics` lists every finding."
);
create_exception!(
    mesh_core,
    MeshRequestError,
    PyValueError,
    "The request could not be evaluated (bad field, URL, header, unknown gateway)."
);

/// An immutable, validated mesh snapshot; share it freely between threads.
#[pyclass(frozen, module = "mesh_core", name = "Mesh")]
pub struct Mesh {
    mesh: Arc<mesh_core::Mesh>,
    authz: AuthzPolicies,
    warnings: Vec<Diagnostic>,
    /// The outbound clients, one per (workload, labels), shared by every `client()` handle.
    clients: Clients,
    /// Sidecar virtual hosts per (workload, labels), for `route`.
    sidecars: mesh_bindings::Sidecars,
}

/// A Linkerd retry budget on its own: `deposit()` per request, `withdraw()` per retry.
#[pyclass(module = "mesh_core", name = "RetryBudget")]
pub struct RetryBudget {
    budget: mesh_bindings::Budget,
}

/// Envoy's consecutive-error outlier detector over named hosts.
#[pyclass(module = "mesh_core", name = "OutlierDetector")]
pub struct OutlierDetector {
    detector: mesh_bindings::Detector,
}

// === impl Mesh ===

#[pymethods]
impl Mesh {
    /// Builds a mesh from YAML text (one or more documents); `file` names it in diagnostics.
    #[staticmethod]
    #[pyo3(signature = (text, file = "<string>"))]
    fn from_yaml(py: Python<'_>, text: &str, file: &str) -> PyResult<Self> {
        let built = py.detach(|| mesh_bindings::mesh_from_yaml(text, file));
        Self::built(py, built)
    }

    /// Builds a mesh from a file or a directory (read recursively).
    #[staticmethod]
    fn from_path(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let built = py.detach(|| mesh_bindings::mesh_from_path(&path));
        Self::built(py, built)
    }

    /// The warnings found while building (errors never build a mesh).
    #[getter]
    fn warnings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.warnings)?)
    }

    /// Every decision for one request: the `mesh-proxy explain` document as a dict.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        evaluate(py, request, |spec| mesh_bindings::explain(&self.mesh, spec))
    }

    /// The routing decision (`explain(request)["route"]`), with the destination picked with
    /// the request's `seed`.
    fn route<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        evaluate(py, request, |spec| {
            mesh_bindings::route_cached(&self.mesh, &self.sidecars, spec)
        })
    }

    /// The AuthorizationPolicy verdict for the request's receiving workload
    /// (`explain(request)["authz"]`): decision, status, reason, policy, rule, action, path,
    /// audit, dry_run, ...
    fn authorize<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        evaluate(py, request, |spec| {
            mesh_bindings::authorize(&self.mesh, &self.authz, spec)
        })
    }

    /// The outbound client of `workload` (`NS/NAME`) with `labels` (built once per mesh).
    #[pyo3(signature = (workload, labels = None))]
    fn client(
        &self,
        workload: &str,
        labels: Option<BTreeMap<String, String>>,
    ) -> PyResult<OutboundClient> {
        let client = self
            .clients
            .get(workload, &labels.unwrap_or_default())
            .map_err(outbound_error)?;
        Ok(OutboundClient::new(client))
    }

    fn __repr__(&self) -> String {
        format!(
            "<mesh_core.Mesh: {} resources, {} warnings>",
            self.mesh.resources().len(),
            self.warnings.len()
        )
    }
}

impl Mesh {
    fn built(
        py: Python<'_>,
        built: Result<(mesh_core::Mesh, Vec<Diagnostic>), InvalidConfig>,
    ) -> PyResult<Self> {
        match built {
            Ok((mesh, warnings)) => {
                let authz = mesh_bindings::compile_authz(&mesh);
                let mesh = Arc::new(mesh);
                Ok(Mesh {
                    clients: Clients::new(mesh.clone(), entropy()),
                    sidecars: mesh_bindings::Sidecars::default(),
                    mesh,
                    authz,
                    warnings,
                })
            }
            Err(invalid) => Err(config_error(py, &invalid)),
        }
    }
}

/// A seed for the weighted picks from the process's hash-map keys (OS entropy read once).
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

// === impl RetryBudget ===

#[pymethods]
impl RetryBudget {
    /// `retry_ratio` retries per request plus `min_retries_per_second`, over `ttl_seconds`.
    #[new]
    #[pyo3(signature = (retry_ratio = 0.2, min_retries_per_second = 10, ttl_seconds = 10.0))]
    fn new(retry_ratio: f64, min_retries_per_second: u32, ttl_seconds: f64) -> PyResult<Self> {
        let budget =
            mesh_bindings::Budget::try_new(retry_ratio, min_retries_per_second, ttl_seconds)
                .map_err(settings_error)?;
        Ok(RetryBudget { budget })
    }

    /// One request: adds its share of retries.
    fn deposit(&self) {
        self.budget.deposit();
    }

    /// One retry: True (and spent) when the budget allows it.
    fn withdraw(&self) -> bool {
        self.budget.withdraw()
    }

    /// Moves the budget's clock `seconds` forward.
    fn advance(&mut self, seconds: f64) -> PyResult<()> {
        self.budget.advance(seconds).map_err(settings_error)
    }
}

// === impl OutlierDetector ===

#[pymethods]
impl OutlierDetector {
    /// `hosts` by name; settings as keyword arguments with Istio's names in snake case
    /// (`consecutive_5xx`, `interval="10s"`, `base_ejection_time="30s"`,
    /// `max_ejection_percent`, ...).
    #[new]
    #[pyo3(signature = (hosts, **settings))]
    fn new(
        py: Python<'_>,
        hosts: Vec<String>,
        settings: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Self> {
        let dict = match settings {
            Some(d) => d.copy()?,
            None => pyo3::types::PyDict::new(py),
        };
        dict.set_item("hosts", hosts)?;
        let mut de = Depythonizer::from_object(dict.as_any());
        let spec = OutlierSpec::deserialize_named(&mut de).map_err(settings_error)?;
        let detector = mesh_bindings::Detector::try_new(spec).map_err(settings_error)?;
        Ok(OutlierDetector { detector })
    }

    /// Records a response status from `host`; True when it ejected the host.
    fn record(&mut self, host: &str, status: u32) -> PyResult<bool> {
        self.detector.record(host, status).map_err(settings_error)
    }

    /// The hosts ejected now, in list order.
    fn ejected(&mut self) -> Vec<String> {
        self.detector.ejected()
    }

    /// Moves the detector's clock `seconds` forward (running due un-ejections).
    fn advance(&mut self, seconds: f64) -> PyResult<()> {
        self.detector.advance(seconds).map_err(settings_error)
    }
}

// === errors ===

fn settings_error(e: InvalidSettings) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `MeshConfigError` with the first errors in its message and all findings in `.diagnostics`.
fn config_error(py: Python<'_>, invalid: &InvalidConfig) -> PyErr {
    let mut msg = invalid.to_string();
    for d in invalid.diagnostics.iter().filter(|d| d.is_error()).take(5) {
        msg.push_str(&format!("\n  {}:{}:{}: ", d.file, d.line, d.column));
        if !d.path.is_empty() {
            msg.push_str(&format!("{}: ", d.path));
        }
        msg.push_str(&d.message);
    }
    let err = MeshConfigError::new_err(msg);
    let attached = pythonize(py, &invalid.diagnostics)
        .map_err(PyErr::from)
        .and_then(|list| err.value(py).setattr("diagnostics", list));
    match attached {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// Reads the request, evaluates it without the GIL and returns the result as Python values.
fn evaluate<'py, T: serde::Serialize + Send>(
    py: Python<'py>,
    request: &Bound<'py, PyAny>,
    decide: impl FnOnce(&RequestSpec) -> Result<T, RequestError> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = request::spec(request)?;
    let out = py.detach(|| decide(&spec)).map_err(request_error)?;
    pyser::to_py(py, &out)
}

fn request_error(e: RequestError) -> PyErr {
    MeshRequestError::new_err(e.to_string())
}

/// The native part of the `mesh_core` package (`mesh_core._native`), re-exported by its
/// `__init__.py`.
#[pymodule(name = "_native")]
mod mesh_core_module {
    #[pymodule_export]
    use super::{
        Call, Mesh, MeshConfigError, MeshRequestError, OutboundClient, OutlierDetector, RetryBudget,
    };
}
