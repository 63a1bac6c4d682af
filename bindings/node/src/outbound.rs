//! The outbound side for JavaScript's HTTP clients (`meshFetch`): `Mesh.client`, the
//! `OutboundClient` of one workload and the `Call` state machine, over
//! [`mesh_bindings::begin`] and [`mesh_core::client`].

use std::collections::HashMap;
use std::sync::Arc;

use mesh_bindings::{After, OutboundCall};
use mesh_core::client::LocalResponse;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::Mesh;

/// The outbound side of one client workload (`Mesh.client`): routing, weighted splits,
/// faults, timeouts, retries within budget and outlier ejection over the registry's
/// endpoints, decided in Rust; the host's HTTP client sends.
#[napi]
pub struct OutboundClient {
    client: Arc<mesh_core::client::Client>,
}

/// One outbound request: answered locally (`response`), or attempts to send to `url` and
/// report with `finish`.
#[napi]
pub struct Call {
    delay: Option<std::time::Duration>,
    local: Option<LocalResponse>,
    call: Option<OutboundCall>,
}

/// An answer the mesh gives itself.
#[napi(object)]
pub struct MeshResponse {
    /// HTTP status.
    pub status: u32,
    /// `[name, value]` pairs.
    pub headers: Vec<Vec<String>>,
    /// The body.
    pub body: Buffer,
    /// Envoy's response flag (`NR`, `NC`, `UH`, `UO`, `UT`, `UF`, `UR`, `FI`).
    pub flag: Option<String>,
}

/// The endpoint of an attempt.
#[napi(object)]
pub struct Endpoint {
    /// Service FQDN.
    pub host: String,
    /// DestinationRule subset.
    pub subset: Option<String>,
    /// IP or hostname.
    pub address: String,
    /// Port.
    pub port: u32,
}

/// How long the attempt starting now may take.
#[napi(object)]
pub struct AttemptTimeout {
    /// Milliseconds left.
    pub ms: f64,
    /// Its expiry is the route timeout (call `timedOut()`), not the per-try one (report
    /// `timeout`).
    pub route: bool,
}

/// What to do after an attempt.
#[napi(object)]
pub struct Finished {
    /// `done` (return the response), `retry` (wait `delayMs`, send to the new `url`) or
    /// `respond` (answer `response`).
    #[napi(ts_type = "'done' | 'retry' | 'respond'")]
    pub action: String,
    /// The backoff of a retry.
    pub delay_ms: Option<f64>,
    /// The answer of `respond`.
    pub response: Option<MeshResponse>,
}

#[napi]
impl Mesh {
    /// The outbound client of `workload` (`NS/NAME`) with `labels`, built once per mesh and
    /// shared: balancers, outlier detectors and budgets see every call.
    #[napi]
    pub fn client(
        &self,
        workload: String,
        labels: Option<HashMap<String, String>>,
    ) -> Result<OutboundClient> {
        let labels = labels.unwrap_or_default().into_iter().collect();
        let client = self
            .clients
            .get(&workload, &labels)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        Ok(OutboundClient { client })
    }
}

// === impl OutboundClient ===

#[napi]
impl OutboundClient {
    /// Routes one request (`url` absolute, `headers` as `[name, value]` pairs, `bodyLen` the
    /// body's length when held in memory; `null` for a stream, which is never retried).
    #[napi]
    pub fn begin(
        &self,
        method: String,
        url: String,
        headers: Vec<Vec<String>>,
        body_len: Option<f64>,
    ) -> Result<Call> {
        let mut pairs = Vec::with_capacity(headers.len());
        for h in headers {
            match <[String; 2]>::try_from(h) {
                Ok([k, v]) => pairs.push((k, v)),
                Err(_) => {
                    return Err(Error::new(
                        Status::InvalidArg,
                        "headers: expected [name, value] pairs",
                    ));
                }
            }
        }
        // Body lengths are whole numbers of bytes; anything else is a stream.
        let body_len = body_len
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64);
        let step = mesh_bindings::begin(&self.client, &method, &url, &pairs, body_len)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        let (delay, local, call) = step.into_parts();
        Ok(Call { delay, local, call })
    }
}

// === impl Call ===

#[napi]
impl Call {
    /// The local answer when nothing is to be sent, else `null`.
    #[napi(getter)]
    pub fn response(&self) -> Option<MeshResponse> {
        self.local.as_ref().map(js_response)
    }

    /// Milliseconds to wait first (a fault delay), or `null`.
    #[napi(getter)]
    pub fn delay_ms(&self) -> Option<f64> {
        self.delay.map(ms)
    }

    /// The attempt's URL: the endpoint's address and the rewritten path.
    #[napi(getter)]
    pub fn url(&self) -> Result<String> {
        Ok(self.sending()?.url().to_owned())
    }

    /// The method.
    #[napi(getter)]
    pub fn method(&self) -> Result<String> {
        Ok(self.sending()?.method().to_owned())
    }

    /// Headers to send as `[name, value]` pairs; `host` (the rewritten authority) first.
    #[napi(getter)]
    pub fn headers(&self) -> Result<Vec<Vec<String>>> {
        Ok(pairs(self.sending()?.headers()))
    }

    /// The endpoint of the attempt.
    #[napi(getter)]
    pub fn endpoint(&self) -> Result<Endpoint> {
        let ep = self.sending()?.endpoint();
        Ok(Endpoint {
            host: ep.host.clone(),
            subset: ep.subset.clone(),
            address: ep.address.clone(),
            port: ep.port.into(),
        })
    }

    /// The route timeout in milliseconds, or `null`.
    #[napi(getter)]
    pub fn timeout_ms(&self) -> Result<Option<f64>> {
        Ok(self.sending()?.timeout().map(ms))
    }

    /// Retries made so far.
    #[napi(getter)]
    pub fn retries(&self) -> Result<u32> {
        Ok(self.sending()?.retries())
    }

    /// The deadline of the attempt starting now, or `null`.
    #[napi]
    pub fn attempt_timeout(&self) -> Result<Option<AttemptTimeout>> {
        Ok(self.sending()?.attempt_timeout().map(|t| AttemptTimeout {
            ms: ms(t.after),
            route: t.route,
        }))
    }

    /// Reports the attempt: a `status` (with `grpcStatus`), or an `error` kind
    /// (`connect-failure`, `reset`, `refused-stream`, `timeout`).
    #[napi]
    pub fn finish(
        &mut self,
        status: Option<u32>,
        error: Option<String>,
        grpc_status: Option<u32>,
    ) -> Result<Finished> {
        let after = self
            .sending_mut()?
            .finish(status, grpc_status, error.as_deref())
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        let (action, delay_ms, response) = match after {
            After::Done => ("done", None, None),
            After::Retry(d) => ("retry", Some(ms(d)), None),
            After::Respond(r) => ("respond", None, Some(js_response(&r))),
        };
        Ok(Finished {
            action: action.to_owned(),
            delay_ms,
            response,
        })
    }

    /// The route timeout fired: the 504 `upstream request timeout` answer (flag `UT`).
    #[napi]
    pub fn timed_out(&mut self) -> Result<MeshResponse> {
        Ok(js_response(&self.sending_mut()?.timed_out()))
    }

    /// The response headers after the route's and destination's header operations.
    #[napi]
    pub fn edit_response(&self, headers: Vec<Vec<String>>) -> Result<Vec<Vec<String>>> {
        let given: Vec<(String, String)> = headers
            .into_iter()
            .filter_map(|h| <[String; 2]>::try_from(h).ok().map(|[k, v]| (k, v)))
            .collect();
        Ok(pairs(&self.sending()?.edit_response(&given)))
    }
}

impl Call {
    fn sending(&self) -> Result<&OutboundCall> {
        self.call.as_ref().ok_or_else(answered_locally)
    }

    fn sending_mut(&mut self) -> Result<&mut OutboundCall> {
        self.call.as_mut().ok_or_else(answered_locally)
    }
}

fn answered_locally() -> Error {
    Error::new(
        Status::InvalidArg,
        "this call was answered locally (see .response)",
    )
}

fn js_response(r: &LocalResponse) -> MeshResponse {
    MeshResponse {
        status: r.status.into(),
        headers: pairs(&r.headers),
        body: r.body.to_vec().into(),
        flag: r.flag.map(str::to_owned),
    }
}

fn pairs(p: &[(String, String)]) -> Vec<Vec<String>> {
    p.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
