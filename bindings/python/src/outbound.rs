//! The outbound side for Python's HTTP clients (`mesh_core.httpx`): the `OutboundClient` of
//! one workload and the `Call` state machine, over [`mesh_bindings::begin`] and
//! [`mesh_core::client`].

use std::sync::Arc;
use std::time::Duration;

use mesh_bindings::{After, OutboundCall, OutboundError};
use mesh_core::client::LocalResponse;
use pyo3::prelude::*;

use crate::MeshRequestError;

/// The outbound side of one client workload (`Mesh.client`): routing, weighted splits,
/// faults, timeouts, retries within budget and outlier ejection over the registry's endpoints,
/// decided in Rust; the host's HTTP client sends. Balancers and detectors are shared by every
/// handle of the same workload and labels.
#[pyclass(frozen, module = "mesh_core", name = "OutboundClient")]
pub struct OutboundClient {
    client: Arc<mesh_core::client::Client>,
}

/// One outbound request: a local answer (`response` is set) or attempts to send.
#[pyclass(module = "mesh_core", name = "Call")]
pub struct Call {
    delay: Option<Duration>,
    local: Option<LocalResponse>,
    call: Option<OutboundCall>,
}

// === impl OutboundClient ===

impl OutboundClient {
    pub(crate) fn new(client: Arc<mesh_core::client::Client>) -> Self {
        OutboundClient { client }
    }
}

#[pymethods]
impl OutboundClient {
    /// Routes one request (`url` absolute; `headers` as `(name, value)` pairs; `body_len` the
    /// body's length when it is held in memory, `None` for a stream, which is never retried).
    #[pyo3(signature = (method, url, headers = Vec::new(), body_len = Some(0)))]
    fn begin(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body_len: Option<u64>,
    ) -> PyResult<Call> {
        let step = py
            .detach(|| mesh_bindings::begin(&self.client, method, url, &headers, body_len))
            .map_err(outbound_error)?;
        let (delay, local, call) = step.into_parts();
        Ok(Call { delay, local, call })
    }
}

// === impl Call ===

#[pymethods]
impl Call {
    /// The local answer (`status`, `headers`, `body`, `flag`) when nothing is to be sent.
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.local.as_ref().map(|r| local_dict(py, r)).transpose()
    }

    /// Seconds to wait first (a fault delay), or None.
    #[getter]
    fn delay(&self) -> Option<f64> {
        self.delay.map(|d| d.as_secs_f64())
    }

    /// The URL of the attempt to send now (the endpoint's address, the rewritten path).
    #[getter]
    fn url(&self) -> PyResult<String> {
        Ok(self.sending()?.url().to_owned())
    }

    /// The method.
    #[getter]
    fn method(&self) -> PyResult<String> {
        Ok(self.sending()?.method().to_owned())
    }

    /// The headers to send, `host` (the rewritten authority) first.
    #[getter]
    fn headers(&self) -> PyResult<Vec<(String, String)>> {
        Ok(self.sending()?.headers().to_vec())
    }

    /// The endpoint of the attempt: `host`, `subset`, `address`, `port`.
    #[getter]
    fn endpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ep = self.sending()?.endpoint();
        let d = pyo3::types::PyDict::new(py);
        d.set_item("host", &ep.host)?;
        d.set_item("subset", ep.subset.as_deref())?;
        d.set_item("address", &ep.address)?;
        d.set_item("port", ep.port)?;
        Ok(d.into_any())
    }

    /// The route timeout in seconds, or None.
    #[getter]
    fn timeout(&self) -> PyResult<Option<f64>> {
        Ok(self.sending()?.timeout().map(|d| d.as_secs_f64()))
    }

    /// Retries made so far.
    #[getter]
    fn retries(&self) -> PyResult<u32> {
        Ok(self.sending()?.retries())
    }

    /// `(seconds, is_route_timeout)` for the attempt starting now, or None.
    fn attempt_timeout(&self) -> PyResult<Option<(f64, bool)>> {
        let t = self.sending()?.attempt_timeout();
        Ok(t.map(|t| (t.after.as_secs_f64(), t.route)))
    }

    /// Reports the attempt: a `status` (with `grpc_status`), or an `error` kind
    /// (`connect-failure`, `reset`, `refused-stream`, `timeout`). Returns `("done", None)`,
    /// `("retry", seconds)` (then send to the new `url`) or `("respond", response)`.
    #[pyo3(signature = (status = None, error = None, grpc_status = None))]
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        status: Option<u32>,
        error: Option<&str>,
        grpc_status: Option<u32>,
    ) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
        let call = self.sending_mut()?;
        let after = call
            .finish(status, grpc_status, error)
            .map_err(outbound_error)?;
        Ok(match after {
            After::Done => ("done", py.None().into_bound(py)),
            After::Retry(d) => ("retry", d.as_secs_f64().into_pyobject(py)?.into_any()),
            After::Respond(r) => ("respond", local_dict(py, &r)?),
        })
    }

    /// The route timeout fired: Envoy's 504 answer (`upstream request timeout`, flag `UT`).
    fn timed_out<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.sending_mut()?.timed_out();
        local_dict(py, &r)
    }

    /// The response headers after the route's and destination's header operations.
    fn edit_response(&self, headers: Vec<(String, String)>) -> PyResult<Vec<(String, String)>> {
        Ok(self.sending()?.edit_response(&headers))
    }
}

impl Call {
    fn sending(&self) -> PyResult<&OutboundCall> {
        self.call.as_ref().ok_or_else(|| {
            MeshRequestError::new_err("this call was answered locally (see .response)")
        })
    }

    fn sending_mut(&mut self) -> PyResult<&mut OutboundCall> {
        self.call.as_mut().ok_or_else(|| {
            MeshRequestError::new_err("this call was answered locally (see .response)")
        })
    }
}

fn local_dict<'py>(py: Python<'py>, r: &LocalResponse) -> PyResult<Bound<'py, PyAny>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("status", r.status)?;
    d.set_item("headers", r.headers.clone())?;
    d.set_item("body", pyo3::types::PyBytes::new(py, &r.body))?;
    d.set_item("flag", r.flag)?;
    Ok(d.into_any())
}

pub(crate) fn outbound_error(e: OutboundError) -> PyErr {
    MeshRequestError::new_err(e.to_string())
}
