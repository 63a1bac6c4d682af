//! Request dicts to [`RequestSpec`]: a direct read of a well-formed dict (the common case, a
//! few hundred nanoseconds), else serde through `pythonize`, whose error names the field.

use std::collections::BTreeMap;

use mesh_bindings::{Headers, RequestSpec};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};
use pythonize::Depythonizer;

use crate::MeshRequestError;

/// The request of a dict (or any mapping serde accepts).
pub fn spec(request: &Bound<'_, PyAny>) -> PyResult<RequestSpec> {
    if let Ok(d) = request.cast::<PyDict>()
        && let Some(spec) = direct(d)
    {
        return Ok(spec);
    }
    let mut de = Depythonizer::from_object(request);
    RequestSpec::deserialize_named(&mut de)
        .map_err(|e| MeshRequestError::new_err(format!("request: {e}")))
}

/// The fields of a well-formed dict; `None` on anything unusual (an unknown key, a wrong
/// type), which the serde path then reports.
fn direct(d: &Bound<'_, PyDict>) -> Option<RequestSpec> {
    let mut spec = RequestSpec::get("");
    let mut url = false;
    for (k, v) in d.iter() {
        let k = k.cast::<PyString>().ok()?.to_cow().ok()?;
        match &*k {
            "url" => {
                spec.url = string(&v)?;
                url = true;
            }
            "method" => spec.method = string(&v)?,
            "headers" => spec.headers = headers(&v)?,
            "workload" => spec.workload = string(&v)?,
            "labels" => spec.labels = labels(&v)?,
            "gateway" => spec.gateway = optional(&v, string)?,
            "port" => spec.port = optional(&v, int)?,
            "source_principal" => spec.source_principal = optional(&v, string)?,
            "source_namespace" => spec.source_namespace = optional(&v, string)?,
            "source_ip" => spec.source_ip = optional(&v, string)?,
            "mtls" => spec.mtls = v.cast::<PyBool>().ok()?.is_true(),
            "destination_workload" => spec.destination_workload = optional(&v, string)?,
            "destination_labels" => spec.destination_labels = labels(&v)?,
            "seed" => spec.seed = int(&v)?,
            _ => return None,
        }
    }
    url.then_some(spec)
}

fn string(v: &Bound<'_, PyAny>) -> Option<String> {
    Some(v.cast::<PyString>().ok()?.to_cow().ok()?.into_owned())
}

/// An `int` that is not a `bool` (serde rejects `True` as a number).
fn int<T: for<'a, 'py> FromPyObject<'a, 'py>>(v: &Bound<'_, PyAny>) -> Option<T> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return None;
    }
    v.extract().ok()
}

fn optional<T>(
    v: &Bound<'_, PyAny>,
    read: impl FnOnce(&Bound<'_, PyAny>) -> Option<T>,
) -> Option<Option<T>> {
    if v.is_none() {
        Some(None)
    } else {
        read(v).map(Some)
    }
}

fn labels(v: &Bound<'_, PyAny>) -> Option<BTreeMap<String, String>> {
    let d = v.cast::<PyDict>().ok()?;
    let mut out = BTreeMap::new();
    for (k, v) in d.iter() {
        out.insert(string(&k)?, string(&v)?);
    }
    Some(out)
}

fn headers(v: &Bound<'_, PyAny>) -> Option<Headers> {
    if let Ok(d) = v.cast::<PyDict>() {
        return labels(d.as_any()).map(Headers::Map);
    }
    let list = v.cast::<PyList>().ok()?;
    let mut out = Vec::with_capacity(list.len());
    for item in list.iter() {
        let pair = match item.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 => (string(&t.get_item(0).ok()?)?, string(&t.get_item(1).ok()?)?),
            Ok(_) => return None,
            Err(_) => {
                let l = item.cast::<PyList>().ok()?;
                if l.len() != 2 {
                    return None;
                }
                (string(&l.get_item(0).ok()?)?, string(&l.get_item(1).ok()?)?)
            }
        };
        out.push(pair);
    }
    Some(Headers::List(out))
}
