//! The mesh-core C API, in rustls-ffi's style: one result enum, out-parameters, an opaque
//! handle with `_new`/`_free`, every pointer NULL-checked, panics caught at the boundary,
//! strings as pointer + length. Decisions are the JSON documents of `mesh-proxy explain`.
//!
//! Ownership: a `mesh_core_mesh` is immutable and may be shared between threads; strings
//! returned through `char **` out-parameters are owned by the caller, NUL-terminated, and freed
//! with `mesh_core_string_free`.
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]
#![allow(non_camel_case_types)]

mod mesh;
mod resilience;
mod string;
#[cfg(test)]
mod tests;

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use self::mesh::{
    mesh_core_authorize, mesh_core_explain, mesh_core_mesh, mesh_core_mesh_free,
    mesh_core_mesh_new_from_path, mesh_core_mesh_new_from_yaml, mesh_core_mesh_warnings,
    mesh_core_route,
};
pub use self::resilience::{
    mesh_core_outlier_detector, mesh_core_outlier_detector_advance,
    mesh_core_outlier_detector_ejected, mesh_core_outlier_detector_free,
    mesh_core_outlier_detector_new, mesh_core_outlier_detector_record, mesh_core_retry_budget,
    mesh_core_retry_budget_advance, mesh_core_retry_budget_deposit, mesh_core_retry_budget_free,
    mesh_core_retry_budget_new, mesh_core_retry_budget_withdraw,
};
pub use self::string::mesh_core_string_free;

/// The outcome of every fallible call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mesh_core_result {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullParameter = 1,
    /// A string was not UTF-8.
    InvalidUtf8 = 2,
    /// The resources failed validation; the diagnostics JSON says why.
    InvalidConfig = 3,
    /// The request could not be evaluated; the out string holds `{"error": "..."}`.
    InvalidRequest = 4,
    /// A bug: the library panicked; the call had no effect.
    Panic = 5,
    /// Retry budget or outlier detector settings out of range or malformed, an unknown host,
    /// or a status that is not an HTTP status.
    InvalidSettings = 6,
}

/// A static, NUL-terminated description of a result (never NULL, never to be freed).
#[unsafe(no_mangle)]
pub extern "C" fn mesh_core_result_message(result: mesh_core_result) -> *const c_char {
    let s: &'static [u8] = match result {
        mesh_core_result::Ok => b"ok\0",
        mesh_core_result::NullParameter => b"a required pointer was NULL\0",
        mesh_core_result::InvalidUtf8 => b"a string was not valid UTF-8\0",
        mesh_core_result::InvalidConfig => b"the mesh configuration is invalid\0",
        mesh_core_result::InvalidRequest => b"the request could not be evaluated\0",
        mesh_core_result::Panic => b"internal error (panic caught at the C boundary)\0",
        mesh_core_result::InvalidSettings => {
            b"invalid settings, unknown host or status for a retry budget or outlier detector\0"
        }
    };
    s.as_ptr().cast()
}

/// The library version, static and NUL-terminated.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_core_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Runs `f`, turning a panic into [`mesh_core_result::Panic`].
fn boundary(f: impl FnOnce() -> Result<(), mesh_core_result>) -> mesh_core_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => mesh_core_result::Ok,
        Ok(Err(r)) => r,
        Err(_) => mesh_core_result::Panic,
    }
}
