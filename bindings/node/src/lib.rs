//! The `mesh-core` Node addon: a translator over mesh-core (STYLE rule 10). Requests come in as
//! objects with the fields of `mesh-proxy explain`'s flags, decisions go out as the objects of
//! its JSON schema, errors as `Error`s (configuration errors carry `diagnostics`).
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

mod outbound;
mod text;

use std::sync::Arc;

use mesh_bindings::{Clients, InvalidSettings, OutlierSpec, RequestSpec};
use mesh_core::security::authz::AuthzPolicies;
use mesh_core::{Diagnostic, InvalidConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// An immutable, validated mesh snapshot.
#[napi]
pub struct Mesh {
    mesh: Arc<mesh_core::Mesh>,
    /// Compiled once, beside the mesh, for `authorize`.
    authz: Arc<AuthzPolicies>,
    warnings: Vec<Diagnostic>,
    /// The outbound clients, one per (workload, labels), shared by every `client()` handle.
    clients: Clients,
    /// Sidecar virtual hosts per (workload, labels), for `route`.
    sidecars: Arc<mesh_bindings::Sidecars>,
}

/// A Linkerd retry budget on its own: `deposit()` per request, `withdraw()` per retry.
#[napi]
pub struct RetryBudget {
    budget: mesh_bindings::Budget,
}

/// Envoy's consecutive-error outlier detector over named hosts.
#[napi]
pub struct OutlierDetector {
    detector: mesh_bindings::Detector,
}

/// Outlier detector settings: Istio's names in snake case, durations as Istio strings
/// (`"30s"`); absent fields take Envoy's defaults. (Declared for `index.d.ts`; values are
/// read through serde.)
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct OutlierSettings {
    /// `consecutive5xxErrors` (5; 0 disables).
    #[napi(js_name = "consecutive_5xx")]
    pub consecutive_5xx: Option<u32>,
    /// `consecutiveGatewayErrors` (off).
    #[napi(js_name = "consecutive_gateway_errors")]
    pub consecutive_gateway_errors: Option<u32>,
    /// `interval` (`"10s"`).
    pub interval: Option<String>,
    /// `baseEjectionTime` (`"30s"`).
    #[napi(js_name = "base_ejection_time")]
    pub base_ejection_time: Option<String>,
    /// `maxEjectionTime` (`"300s"`).
    #[napi(js_name = "max_ejection_time")]
    pub max_ejection_time: Option<String>,
    /// `maxEjectionPercent` (10).
    #[napi(js_name = "max_ejection_percent")]
    pub max_ejection_percent: Option<u32>,
    /// `minHealthPercent` (0).
    #[napi(js_name = "min_health_percent")]
    pub min_health_percent: Option<u32>,
}

// === impl Mesh ===

#[napi]
impl Mesh {
    /// Builds a mesh from YAML text (one or more documents); `file` names it in diagnostics.
    /// Throws an `Error` whose `diagnostics` lists every finding.
    #[napi(factory)]
    pub fn from_yaml(env: &Env, text: String, file: Option<String>) -> Result<Mesh> {
        let file = file.as_deref().unwrap_or("<string>");
        built(env, mesh_bindings::mesh_from_yaml(&text, file))
    }

    /// Builds a mesh from a file or a directory (read recursively).
    #[napi(factory)]
    pub fn from_path(env: &Env, path: String) -> Result<Mesh> {
        built(env, mesh_bindings::mesh_from_path(path.as_ref()))
    }

    /// The warnings found while building (errors never build a mesh).
    #[napi(getter, ts_return_type = "Diagnostic[]")]
    pub fn warnings<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        env.to_js_value(&self.warnings)
    }

    /// Every decision for one request: the `mesh-proxy explain` document.
    #[napi(
        ts_args_type = "request: Request",
        ts_return_type = "Record<string, any>"
    )]
    pub fn explain<'e>(&self, env: &'e Env, request: Unknown<'_>) -> Result<Unknown<'e>> {
        let spec = spec(env, request)?;
        let out = mesh_bindings::explain(&self.mesh, &spec).map_err(invalid_request)?;
        to_js(env, &out)
    }

    /// The routing decision (`explain(request).route`), with the destination picked with
    /// the request's `seed`.
    #[napi(
        ts_args_type = "request: Request",
        ts_return_type = "Record<string, any>"
    )]
    pub fn route<'e>(&self, env: &'e Env, request: Unknown<'_>) -> Result<Unknown<'e>> {
        let spec = spec(env, request)?;
        let out = mesh_bindings::route_cached(&self.mesh, &self.sidecars, &spec)
            .map_err(invalid_request)?;
        to_js(env, &out)
    }

    /// The AuthorizationPolicy verdict for the request's receiving workload
    /// (`explain(request).authz`): decision, status, reason, policy, rule, action, path,
    /// audit, dry_run. Policies are compiled once, when the mesh is built.
    #[napi(
        ts_args_type = "request: Request",
        ts_return_type = "Record<string, any>"
    )]
    pub fn authorize<'e>(&self, env: &'e Env, request: Unknown<'_>) -> Result<Unknown<'e>> {
        let spec = spec(env, request)?;
        let out =
            mesh_bindings::authorize(&self.mesh, &self.authz, &spec).map_err(invalid_request)?;
        to_js(env, &out)
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

#[napi]
impl RetryBudget {
    /// `retryRatio` retries per request plus `minRetriesPerSecond`, over `ttlSeconds`
    /// (Linkerd's defaults 0.2, 10, 10). Throws on settings Linkerd rejects.
    #[napi(constructor)]
    pub fn new(
        retry_ratio: Option<f64>,
        min_retries_per_second: Option<u32>,
        ttl_seconds: Option<f64>,
    ) -> Result<Self> {
        let budget = mesh_bindings::Budget::try_new(
            retry_ratio.unwrap_or(0.2),
            min_retries_per_second.unwrap_or(10),
            ttl_seconds.unwrap_or(10.0),
        )
        .map_err(invalid_settings)?;
        Ok(RetryBudget { budget })
    }

    /// One request: adds its share of retries.
    #[napi]
    pub fn deposit(&self) {
        self.budget.deposit();
    }

    /// One retry: true (and spent) when the budget allows it.
    #[napi]
    pub fn withdraw(&self) -> bool {
        self.budget.withdraw()
    }

    /// Moves the budget's clock `seconds` forward.
    #[napi]
    pub fn advance(&mut self, seconds: f64) -> Result<()> {
        self.budget.advance(seconds).map_err(invalid_settings)
    }
}

// === impl OutlierDetector ===

#[napi]
impl OutlierDetector {
    /// A detector for `hosts` (names), all healthy.
    #[napi(
        constructor,
        ts_args_type = "hosts: string[], settings?: OutlierSettings"
    )]
    pub fn new(env: &Env, hosts: Vec<String>, settings: Option<Unknown<'_>>) -> Result<Self> {
        let mut doc = match settings {
            Some(s) if s.get_type()? == ValueType::Object => {
                let text = json_function(env, "stringify")?.call(s)?;
                let text = String::from_unknown(text)?;
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)?
            }
            Some(s) if s.get_type()? != ValueType::Undefined => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "settings: expected an object",
                ));
            }
            _ => serde_json::Map::new(),
        };
        doc.insert("hosts".to_owned(), hosts.into());
        let spec = OutlierSpec::from_json(&serde_json::Value::Object(doc).to_string())
            .map_err(invalid_settings)?;
        let detector = mesh_bindings::Detector::try_new(spec).map_err(invalid_settings)?;
        Ok(OutlierDetector { detector })
    }

    /// Records a response status from `host`; true when it ejected the host.
    #[napi]
    pub fn record(&mut self, host: String, status: u32) -> Result<bool> {
        self.detector
            .record(&host, status)
            .map_err(invalid_settings)
    }

    /// The hosts ejected now, in list order.
    #[napi]
    pub fn ejected(&mut self) -> Vec<String> {
        self.detector.ejected()
    }

    /// Moves the detector's clock `seconds` forward, running the un-ejections now due.
    #[napi]
    pub fn advance(&mut self, seconds: f64) -> Result<()> {
        self.detector.advance(seconds).map_err(invalid_settings)
    }
}

/// A request to evaluate: the fields of `mesh-proxy explain`'s flags; unknown keys throw.
/// (Declared for `index.d.ts`; values are read through serde as `RequestSpec`.)
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Request {
    /// Absolute URL (`http://host[:port]/path?query`), or a path with a `host` header.
    pub url: String,
    /// Method; `GET` when absent.
    pub method: Option<String>,
    /// Headers: an object, or `[name, value]` pairs when a name repeats.
    #[napi(ts_type = "Record<string, string> | Array<[string, string]>")]
    pub headers: Option<()>,
    /// The client workload `NS/NAME` whose sidecar routes the request (`default/client`).
    pub workload: Option<String>,
    /// The client workload's labels.
    #[napi(ts_type = "Record<string, string>")]
    pub labels: Option<()>,
    /// Evaluate at this gateway (`NS/NAME`) instead of a sidecar; needs `port`.
    pub gateway: Option<String>,
    /// The gateway server port.
    pub port: Option<u32>,
    /// The peer principal (kept only with `mtls`).
    #[napi(js_name = "source_principal")]
    pub source_principal: Option<String>,
    /// The peer namespace (kept only with `mtls`).
    #[napi(js_name = "source_namespace")]
    pub source_namespace: Option<String>,
    /// The peer IP.
    #[napi(js_name = "source_ip")]
    pub source_ip: Option<String>,
    /// The connection is mutual TLS.
    pub mtls: Option<bool>,
    /// The workload receiving the request (`NS/NAME`), for `mtls` and `authz`; absent: the
    /// sidecar's own workload.
    #[napi(js_name = "destination_workload")]
    pub destination_workload: Option<String>,
    /// The receiving workload's labels.
    #[napi(js_name = "destination_labels", ts_type = "Record<string, string>")]
    pub destination_labels: Option<()>,
    /// Seed for the weighted picks (0 when absent).
    pub seed: Option<u32>,
}

/// One finding about the resources. (Declared for `index.d.ts`; values come from serde.)
#[napi(
    object,
    js_name = "Diagnostic",
    object_from_js = false,
    object_to_js = false
)]
pub struct DiagnosticShape {
    /// `error` or `warning`.
    #[napi(ts_type = "'error' | 'warning'")]
    pub severity: String,
    /// The file, as given.
    pub file: String,
    /// 1-based line (0 when about the whole file).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// `Kind namespace/name` when about one resource, else `null`.
    #[napi(ts_type = "string | null")]
    pub resource: Option<String>,
    /// The field path (`spec.http[1].route[0].weight`).
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn built(
    env: &Env,
    built: std::result::Result<(mesh_core::Mesh, Vec<Diagnostic>), InvalidConfig>,
) -> Result<Mesh> {
    match built {
        Ok((mesh, warnings)) => {
            let authz = mesh_bindings::compile_authz(&mesh);
            let mesh = Arc::new(mesh);
            Ok(Mesh {
                clients: Clients::new(mesh.clone(), entropy()),
                sidecars: Arc::default(),
                mesh,
                authz: Arc::new(authz),
                warnings,
            })
        }
        Err(invalid) => Err(config_error(env, &invalid)),
    }
}

/// An `Error` with the first errors in its message and every finding in `diagnostics`.
fn config_error(env: &Env, invalid: &InvalidConfig) -> Error {
    let mut msg = invalid.to_string();
    for d in invalid.diagnostics.iter().filter(|d| d.is_error()).take(5) {
        msg.push_str(&format!("\n  {}:{}:{}: ", d.file, d.line, d.column));
        if !d.path.is_empty() {
            msg.push_str(&format!("{}: ", d.path));
        }
        msg.push_str(&d.message);
    }
    let attach = || -> Result<Error> {
        let mut err = env.create_error(Error::new(Status::GenericFailure, msg.clone()))?;
        err.set_named_property("diagnostics", env.to_js_value(&invalid.diagnostics)?)?;
        err.set_named_property("code", "MESH_CONFIG_INVALID")?;
        Ok(Error::from(err.into_unknown(env)?))
    };
    attach().unwrap_or_else(|e| e)
}

// Values cross the boundary as JSON text through V8's own `JSON.parse`/`JSON.stringify`:
// one napi call each way instead of one per property, several times faster for the decision
// documents (see docs/benchmarks.md, "Bindings").

fn json_function<'e>(env: &'e Env, name: &str) -> Result<Function<'e, Unknown<'e>, Unknown<'e>>> {
    let json: Object<'e> = env.get_global()?.get_named_property("JSON")?;
    json.get_named_property(name)
}

fn spec(env: &Env, request: Unknown<'_>) -> Result<RequestSpec> {
    if request.get_type()? != ValueType::Object {
        return Err(Error::new(
            Status::InvalidArg,
            "request: expected an object",
        ));
    }
    let text = json_function(env, "stringify")?.call(request)?;
    let text = String::from_unknown(text)
        .map_err(|_| Error::new(Status::InvalidArg, "request: expected an object"))?;
    text::spec_of(&text)
}

fn to_js<'e, T: serde::Serialize>(env: &'e Env, value: &T) -> Result<Unknown<'e>> {
    let text = serde_json::to_string(value)?;
    let text = env.create_string(&text)?.into_unknown(env)?;
    json_function(env, "parse")?.call(text)
}

fn invalid_request(e: mesh_bindings::RequestError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

fn invalid_settings(e: InvalidSettings) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}
