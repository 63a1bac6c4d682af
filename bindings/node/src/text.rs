//! `route`, `explain` and `authorize` over JSON text, which index.js wraps: it stringifies the
//! request and parses the decision with V8's JIT-ed `JSON`, several times cheaper than building
//! either through napi (docs/benchmarks.md, "Bindings"). None of this is in the typed API.
//!
//! `route` and `authorize` answer in the positional form (`mesh_bindings::positional`, rebuilt
//! by positional.js), through plain functions that hold the mesh rather than class methods:
//! napi-rs checks and records the borrow of `this` on every method call, which costs more than
//! the rest of the call's crossing.

use std::sync::Arc;

use mesh_bindings::positional::Positional;
use mesh_bindings::{RequestSpec, Sidecars};
use mesh_core::security::authz::AuthzPolicies;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{Mesh, invalid_request};

/// What the positional functions return: the text as Latin-1 when it is ASCII (copied by V8
/// without decoding), else as UTF-8.
type Text = Either<Latin1String, String>;

#[napi]
impl Mesh {
    /// `route` over JSON text: the request's JSON in, the decision's keyed JSON out.
    #[napi(skip_typescript)]
    pub fn route_json<'e>(&self, env: &'e Env, request: String) -> Result<napi::JsString<'e>> {
        let spec = spec_of(&request)?;
        let out = mesh_bindings::route_cached(&self.mesh, &self.sidecars, &spec)
            .map_err(invalid_request)?;
        json_text(env, &out)
    }

    /// `explain` over JSON text.
    #[napi(skip_typescript)]
    pub fn explain_json<'e>(&self, env: &'e Env, request: String) -> Result<napi::JsString<'e>> {
        let spec = spec_of(&request)?;
        let out = mesh_bindings::explain(&self.mesh, &spec).map_err(invalid_request)?;
        json_text(env, &out)
    }

    /// `authorize` over JSON text, the verdict's keyed JSON out.
    #[napi(skip_typescript)]
    pub fn authorize_json<'e>(&self, env: &'e Env, request: String) -> Result<napi::JsString<'e>> {
        let spec = spec_of(&request)?;
        let out =
            mesh_bindings::authorize(&self.mesh, &self.authz, &spec).map_err(invalid_request)?;
        json_text(env, &out)
    }

    /// A function of this mesh taking the request's JSON text and returning the route
    /// decision's positional JSON text.
    #[napi(skip_typescript)]
    pub fn route_function<'e>(&self, env: &'e Env) -> Result<Function<'e, String, Text>> {
        let mesh: Arc<mesh_core::Mesh> = self.mesh.clone();
        let sidecars: Arc<Sidecars> = self.sidecars.clone();
        env.create_function_from_closure("routePositional", move |ctx| {
            let spec = spec_of(&ctx.get::<String>(0)?)?;
            let out =
                mesh_bindings::route_owned(&mesh, &sidecars, spec).map_err(invalid_request)?;
            positional_text(&Positional(&out))
        })
    }

    /// A function of this mesh taking the request's JSON text and returning the authorize
    /// verdict's positional JSON text.
    #[napi(skip_typescript)]
    pub fn authorize_function<'e>(&self, env: &'e Env) -> Result<Function<'e, String, Text>> {
        let mesh: Arc<mesh_core::Mesh> = self.mesh.clone();
        let authz: Arc<AuthzPolicies> = self.authz.clone();
        env.create_function_from_closure("authorizePositional", move |ctx| {
            let spec = spec_of(&ctx.get::<String>(0)?)?;
            let out =
                mesh_bindings::authorize_owned(&mesh, &authz, spec).map_err(invalid_request)?;
            positional_text(&Positional(&out))
        })
    }
}

/// The layout of the positional decisions (`mesh_bindings::positional::LAYOUT`) as JSON text:
/// `[{name, fields: [[key] | [key, "one" | "list", shape] | [key, "pick", shape, list]]}]`, for
/// the test that positional.js rebuilds the same keys.
#[napi(skip_typescript)]
pub fn positional_layout() -> Result<String> {
    Ok(serde_json::to_string(mesh_bindings::positional::LAYOUT)?)
}

/// The request from its JSON text (`JSON.stringify` of the caller's object). Plain serde first;
/// only a request it rejects is parsed again by `RequestSpec::from_json`, whose path tracking
/// (the field named in the error) costs on every call.
pub(crate) fn spec_of(text: &str) -> Result<RequestSpec> {
    serde_json::from_str(text).or_else(|_| {
        RequestSpec::from_json(text)
            .map_err(|e| Error::new(Status::InvalidArg, format!("request: {e}")))
    })
}

/// The positional text of a decision, handed to V8 by value (a few hundred bytes).
fn positional_text<T: serde::Serialize>(value: &T) -> Result<Text> {
    let mut text = Vec::with_capacity(512);
    serde_json::to_writer(&mut text, value)?;
    let text =
        String::from_utf8(text).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
    Ok(if text.is_ascii() {
        Either::A(Latin1String::from(text))
    } else {
        Either::B(text)
    })
}

thread_local! {
    /// The keyed decision's JSON text, reused from call to call: no growth by reallocation, no
    /// free of a kilobyte-sized block per call.
    static TEXT: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(4096));
}

/// The most the reused buffer keeps between calls (a larger document's buffer is released).
const TEXT_KEPT: usize = 64 * 1024;

/// `value` as a JS string of its JSON text, written into the reused buffer. The text is ASCII
/// when every string in it is, so V8 copies it as Latin-1 without decoding; other text goes
/// through UTF-8.
fn json_text<'e, T: serde::Serialize>(env: &'e Env, value: &T) -> Result<napi::JsString<'e>> {
    TEXT.with(|text| {
        let mut text = text.borrow_mut();
        text.clear();
        serde_json::to_writer(&mut *text, value)?;
        let js = if text.is_ascii() {
            env.create_string_latin1(&*text)
        } else {
            let utf8 = std::str::from_utf8(&text)
                .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
            env.create_string(utf8)
        };
        if text.capacity() > TEXT_KEPT {
            *text = Vec::with_capacity(4096);
        }
        js
    })
}
