//! The opaque mesh handle and the decision calls.

use std::ffi::c_char;

use mesh_bindings::RequestSpec;
use mesh_core::security::authz::AuthzPolicies;
use mesh_core::{Diagnostic, InvalidConfig, Mesh};

use crate::string::{borrow_str, give_string};
use crate::{boundary, mesh_core_result};

/// An immutable, validated mesh snapshot (opaque). Safe to share between threads; free it
/// once with `mesh_core_mesh_free`.
pub struct mesh_core_mesh {
    mesh: Mesh,
    /// Compiled once, beside the mesh, for `mesh_core_authorize`.
    authz: AuthzPolicies,
    warnings: Vec<Diagnostic>,
}

/// Builds a mesh from `yaml_len` bytes of YAML at `yaml`. `file` (`file_len` bytes, or NULL
/// for `<string>`) names the text in diagnostics.
///
/// On `MESH_CORE_RESULT_OK`, `*mesh_out` holds a new handle. When `diagnostics_out` is not
/// NULL it receives a JSON array of findings (the errors on `MESH_CORE_RESULT_INVALID_CONFIG`,
/// the warnings on success): objects with `severity`, `file`, `line`, `column`, `resource`,
/// `path`, `message`; `*diagnostics_len_out` (may be NULL) its length.
///
/// # Safety
/// Every non-NULL pointer must be valid for its length (inputs) or for a write (outputs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_mesh_new_from_yaml(
    yaml: *const c_char,
    yaml_len: usize,
    file: *const c_char,
    file_len: usize,
    mesh_out: *mut *mut mesh_core_mesh,
    diagnostics_out: *mut *mut c_char,
    diagnostics_len_out: *mut usize,
) -> mesh_core_result {
    boundary(|| {
        if mesh_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        // SAFETY: the caller's contract.
        let text = unsafe { borrow_str(yaml, yaml_len) }?;
        let file = if file.is_null() {
            "<string>"
        } else {
            // SAFETY: the caller's contract.
            unsafe { borrow_str(file, file_len) }?
        };
        let built = mesh_bindings::mesh_from_yaml(text, file);
        // SAFETY: the caller's contract.
        unsafe { hand_out(built, mesh_out, diagnostics_out, diagnostics_len_out) }
    })
}

/// Builds a mesh from a file or directory (read recursively) named by `path_len` bytes at
/// `path`. Outputs as `mesh_core_mesh_new_from_yaml`.
///
/// # Safety
/// Every non-NULL pointer must be valid for its length (inputs) or for a write (outputs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_mesh_new_from_path(
    path: *const c_char,
    path_len: usize,
    mesh_out: *mut *mut mesh_core_mesh,
    diagnostics_out: *mut *mut c_char,
    diagnostics_len_out: *mut usize,
) -> mesh_core_result {
    boundary(|| {
        if mesh_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        // SAFETY: the caller's contract.
        let path = unsafe { borrow_str(path, path_len) }?;
        let built = mesh_bindings::mesh_from_path(path.as_ref());
        // SAFETY: the caller's contract.
        unsafe { hand_out(built, mesh_out, diagnostics_out, diagnostics_len_out) }
    })
}

/// Frees a mesh. NULL is a no-op.
///
/// # Safety
/// `mesh` must be NULL or a handle from a `mesh_core_mesh_new_*` call, not freed before and
/// not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_mesh_free(mesh: *mut mesh_core_mesh) {
    if !mesh.is_null() {
        // SAFETY: the handle came from `Box::into_raw` in `hand_out`.
        let _ = std::panic::catch_unwind(|| drop(unsafe { Box::from_raw(mesh) }));
    }
}

/// The warnings found while building, as a JSON array (see `mesh_core_mesh_new_from_yaml`).
///
/// # Safety
/// `mesh` must be a live handle; `json_out` valid for a write; `json_len_out` NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_mesh_warnings(
    mesh: *const mesh_core_mesh,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let mesh = unsafe { mesh.as_ref() }.ok_or(mesh_core_result::NullParameter)?;
        if json_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        let json = mesh_bindings::diagnostics_json(&mesh.warnings);
        // SAFETY: the caller's contract.
        unsafe { give_string(json, json_out, json_len_out) };
        Ok(())
    })
}

/// Explains one request: `request` is `request_len` bytes of JSON with the fields of
/// `mesh-proxy explain`'s flags (`url` required; `method`, `headers`, `workload`, `labels`,
/// `gateway`, `port`, `source_principal`, `source_namespace`, `source_ip`, `mtls`, `seed`).
/// `*json_out` receives the decision document (on `MESH_CORE_RESULT_INVALID_REQUEST`,
/// `{"error": "..."}`), `*json_len_out` (may be NULL) its length.
///
/// # Safety
/// `mesh` must be a live handle; `request` valid for `request_len` bytes; `json_out` valid
/// for a write; `json_len_out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_explain(
    mesh: *const mesh_core_mesh,
    request: *const c_char,
    request_len: usize,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
) -> mesh_core_result {
    // SAFETY: forwarded contract.
    unsafe {
        decide(
            mesh,
            request,
            request_len,
            json_out,
            json_len_out,
            |m, r| mesh_bindings::explain(&m.mesh, r).map(|e| serde_json::to_string(&e)),
        )
    }
}

/// The routing part of `mesh_core_explain` (its `route` object), with the destination picked
/// with the request's `seed`. Same parameters and outputs.
///
/// # Safety
/// As `mesh_core_explain`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_route(
    mesh: *const mesh_core_mesh,
    request: *const c_char,
    request_len: usize,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
) -> mesh_core_result {
    // SAFETY: forwarded contract.
    unsafe {
        decide(
            mesh,
            request,
            request_len,
            json_out,
            json_len_out,
            |m, r| mesh_bindings::route(&m.mesh, r).map(|e| serde_json::to_string(&e)),
        )
    }
}

/// The AuthorizationPolicy verdict for the request's receiving workload (the `authz` object
/// of `mesh_core_explain`: `decision`, `status`, `reason`, `policy`, `rule`, `action`,
/// `path`, `audit`, `dry_run`, ...), with the policies compiled when the mesh was built.
/// Same parameters and outputs as `mesh_core_explain`; at a gateway the request needs
/// `destination_workload`.
///
/// # Safety
/// As `mesh_core_explain`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_authorize(
    mesh: *const mesh_core_mesh,
    request: *const c_char,
    request_len: usize,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
) -> mesh_core_result {
    // SAFETY: forwarded contract.
    unsafe {
        decide(
            mesh,
            request,
            request_len,
            json_out,
            json_len_out,
            |m, r| {
                mesh_bindings::authorize(&m.mesh, &m.authz, r).map(|e| serde_json::to_string(&e))
            },
        )
    }
}

type Decision = Result<serde_json::Result<String>, mesh_bindings::RequestError>;

/// # Safety
/// As `mesh_core_explain`.
unsafe fn decide(
    mesh: *const mesh_core_mesh,
    request: *const c_char,
    request_len: usize,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
    f: impl FnOnce(&mesh_core_mesh, &RequestSpec) -> Decision,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let mesh = unsafe { mesh.as_ref() }.ok_or(mesh_core_result::NullParameter)?;
        if json_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        // SAFETY: the caller's contract.
        let text = unsafe { borrow_str(request, request_len) }?;
        let out = RequestSpec::from_json(text)
            .map_err(|e| format!("request: {e}"))
            .and_then(|spec| f(mesh, &spec).map_err(|e| e.to_string()));
        let (json, result) = match out {
            Ok(Ok(json)) => (json, Ok(())),
            // Serializing a decision cannot fail (string keys, finite numbers).
            Ok(Err(e)) => (error_json(&e.to_string()), Err(mesh_core_result::Panic)),
            Err(msg) => (error_json(&msg), Err(mesh_core_result::InvalidRequest)),
        };
        // SAFETY: the caller's contract.
        unsafe { give_string(json, json_out, json_len_out) };
        result
    })
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

/// # Safety
/// `mesh_out` valid for a write; the diagnostics pointers NULL or valid for a write.
unsafe fn hand_out(
    built: Result<(Mesh, Vec<Diagnostic>), InvalidConfig>,
    mesh_out: *mut *mut mesh_core_mesh,
    diagnostics_out: *mut *mut c_char,
    diagnostics_len_out: *mut usize,
) -> Result<(), mesh_core_result> {
    let (diags, result) = match built {
        Ok((mesh, warnings)) => {
            let json = mesh_bindings::diagnostics_json(&warnings);
            let authz = mesh_bindings::compile_authz(&mesh);
            let handle = Box::into_raw(Box::new(mesh_core_mesh {
                mesh,
                authz,
                warnings,
            }));
            // SAFETY: the caller's contract.
            unsafe { *mesh_out = handle };
            (json, Ok(()))
        }
        Err(invalid) => {
            // SAFETY: the caller's contract.
            unsafe { *mesh_out = std::ptr::null_mut() };
            let json = mesh_bindings::diagnostics_json(&invalid.diagnostics);
            (json, Err(mesh_core_result::InvalidConfig))
        }
    };
    // SAFETY: the caller's contract.
    unsafe { give_string(diags, diagnostics_out, diagnostics_len_out) };
    result
}
