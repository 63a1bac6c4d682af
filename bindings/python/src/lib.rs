//! The `mesh_core` Python module: a translator over mesh-core (STYLE rule 10). Requests come in
//! as dicts with the fields of `mesh-proxy explain`'s flags, decisions go out as the dicts of
//! its JSON schema; evaluation runs with the GIL released.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

use std::path::PathBuf;

use mesh_bindings::{RequestError, RequestSpec};
use mesh_core::{Diagnostic, InvalidConfig};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pythonize::{Depythonizer, pythonize};

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
    mesh: mesh_core::Mesh,
    warnings: Vec<Diagnostic>,
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
        let spec = spec(request)?;
        let out = py
            .detach(|| mesh_bindings::explain(&self.mesh, &spec))
            .map_err(request_error)?;
        Ok(pythonize(py, &out)?)
    }

    /// The routing decision (`explain(request)["route"]`), with the destination picked with
    /// the request's `seed`.
    fn route<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = spec(request)?;
        let out = py
            .detach(|| mesh_bindings::route(&self.mesh, &spec))
            .map_err(request_error)?;
        Ok(pythonize(py, &out)?)
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
            Ok((mesh, warnings)) => Ok(Mesh { mesh, warnings }),
            Err(invalid) => Err(config_error(py, &invalid)),
        }
    }
}

// === errors ===

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

fn spec(request: &Bound<'_, PyAny>) -> PyResult<RequestSpec> {
    let mut de = Depythonizer::from_object(request);
    RequestSpec::deserialize_named(&mut de)
        .map_err(|e| MeshRequestError::new_err(format!("request: {e}")))
}

fn request_error(e: RequestError) -> PyErr {
    MeshRequestError::new_err(e.to_string())
}

/// The `mesh_core` module.
#[pymodule(name = "mesh_core")]
mod mesh_core_module {
    #[pymodule_export]
    use super::{Mesh, MeshConfigError, MeshRequestError};
}
