//! Strings across the boundary: borrowed input as pointer + length, owned output as a
//! NUL-terminated `char *` plus its length.

use std::ffi::{CString, c_char};

use crate::mesh_core_result;

/// Borrows `len` bytes at `ptr` as UTF-8.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that outlive the returned borrow.
pub(crate) unsafe fn borrow_str<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<&'a str, mesh_core_result> {
    if ptr.is_null() {
        return Err(mesh_core_result::NullParameter);
    }
    // SAFETY: non-NULL and, per the contract, `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|_| mesh_core_result::InvalidUtf8)
}

/// Hands `s` to the caller through optional out-parameters (both NULL: dropped).
///
/// # Safety
/// Each pointer must be NULL or valid for a write.
pub(crate) unsafe fn give_string(s: String, out: *mut *mut c_char, len_out: *mut usize) {
    if out.is_null() {
        return;
    }
    let len = s.len();
    // JSON escapes NUL, so the fallback never fires for the documents this crate returns.
    let c = CString::new(s).unwrap_or_default();
    // SAFETY: `out` is non-NULL and valid for a write per the contract.
    unsafe { *out = c.into_raw() };
    if !len_out.is_null() {
        // SAFETY: non-NULL and valid for a write per the contract.
        unsafe { *len_out = len };
    }
}

/// Frees a string this library returned. NULL is a no-op.
///
/// # Safety
/// `s` must be NULL or a pointer returned through a `char **` out-parameter of this library,
/// not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` in `give_string`.
        drop(unsafe { CString::from_raw(s) });
    }
}
