//! The `mesh-core` Node addon: a translator over mesh-core (STYLE rule 10). Requests come in as
//! objects with the fields of `mesh-proxy explain`'s flags, decisions go out as the objects of
//! its JSON schema, errors as `Error`s (configuration errors carry `diagnostics`).
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

use mesh_bindings::RequestSpec;
use mesh_core::{Diagnostic, InvalidConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// An immutable, validated mesh snapshot.
#[napi]
pub struct Mesh {
    mesh: mesh_core::Mesh,
    warnings: Vec<Diagnostic>,
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
        let out = mesh_bindings::route(&self.mesh, &spec).map_err(invalid_request)?;
        to_js(env, &out)
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
        Ok((mesh, warnings)) => Ok(Mesh { mesh, warnings }),
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
    RequestSpec::from_json(&text)
        .map_err(|e| Error::new(Status::InvalidArg, format!("request: {e}")))
}

fn to_js<'e, T: serde::Serialize>(env: &'e Env, value: &T) -> Result<Unknown<'e>> {
    let text = serde_json::to_string(value)?;
    let text = env.create_string(&text)?.into_unknown(env)?;
    json_function(env, "parse")?.call(text)
}

fn invalid_request(e: mesh_bindings::RequestError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}
