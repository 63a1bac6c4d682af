//! The retry budget and the outlier detector as opaque handles. A handle is used by one thread
//! at a time unless noted; time is the monotonic clock, moved forward on purpose with
//! `_advance`.

use std::ffi::c_char;

use mesh_bindings::{Budget, Detector, OutlierSpec};

use crate::string::{borrow_str, give_string};
use crate::{boundary, mesh_core_result};

/// A Linkerd retry budget (opaque). `deposit` and `withdraw` may be called from several
/// threads at once; free it once with `mesh_core_retry_budget_free`.
pub struct mesh_core_retry_budget {
    budget: Budget,
}

/// Envoy's consecutive-error outlier detector over named hosts (opaque; one thread at a
/// time). Free it once with `mesh_core_outlier_detector_free`.
pub struct mesh_core_outlier_detector {
    detector: Detector,
}

/// A budget of `retry_ratio` retries per request plus `min_retries_per_second`, over a window
/// of `ttl_seconds` (Linkerd: ratio in [0, 1000], ttl in [1, 60] s). `*budget_out` receives
/// the handle, or NULL with `MESH_CORE_RESULT_INVALID_SETTINGS`.
///
/// # Safety
/// `budget_out` must be valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_retry_budget_new(
    retry_ratio: f64,
    min_retries_per_second: u32,
    ttl_seconds: f64,
    budget_out: *mut *mut mesh_core_retry_budget,
) -> mesh_core_result {
    boundary(|| {
        if budget_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        // SAFETY: the caller's contract.
        unsafe { *budget_out = std::ptr::null_mut() };
        let budget = Budget::try_new(retry_ratio, min_retries_per_second, ttl_seconds)
            .map_err(|_| mesh_core_result::InvalidSettings)?;
        let handle = Box::into_raw(Box::new(mesh_core_retry_budget { budget }));
        // SAFETY: the caller's contract.
        unsafe { *budget_out = handle };
        Ok(())
    })
}

/// Frees a budget. NULL is a no-op.
///
/// # Safety
/// `budget` must be NULL or a handle from `mesh_core_retry_budget_new`, not freed before and
/// not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_retry_budget_free(budget: *mut mesh_core_retry_budget) {
    if !budget.is_null() {
        // SAFETY: the handle came from `Box::into_raw` in `mesh_core_retry_budget_new`.
        let _ = std::panic::catch_unwind(|| drop(unsafe { Box::from_raw(budget) }));
    }
}

/// One request: adds its share of retries.
///
/// # Safety
/// `budget` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_retry_budget_deposit(
    budget: *const mesh_core_retry_budget,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let b = unsafe { budget.as_ref() }.ok_or(mesh_core_result::NullParameter)?;
        b.budget.deposit();
        Ok(())
    })
}

/// One retry: `*allowed_out` is true (and the retry spent) when the budget allows it.
///
/// # Safety
/// `budget` must be NULL or a live handle; `allowed_out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_retry_budget_withdraw(
    budget: *const mesh_core_retry_budget,
    allowed_out: *mut bool,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let b = unsafe { budget.as_ref() }.ok_or(mesh_core_result::NullParameter)?;
        if allowed_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        let allowed = b.budget.withdraw();
        // SAFETY: the caller's contract.
        unsafe { *allowed_out = allowed };
        Ok(())
    })
}

/// Moves the budget's clock `seconds` (finite, >= 0) forward.
///
/// # Safety
/// `budget` must be NULL or a live handle not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_retry_budget_advance(
    budget: *mut mesh_core_retry_budget,
    seconds: f64,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let b = unsafe { budget.as_mut() }.ok_or(mesh_core_result::NullParameter)?;
        b.budget
            .advance(seconds)
            .map_err(|_| mesh_core_result::InvalidSettings)
    })
}

/// A detector from `settings_len` bytes of JSON at `settings`: `hosts` (array of names,
/// required) and Istio's `outlierDetection` names in snake case, durations as Istio strings:
/// `consecutive_5xx`, `consecutive_gateway_errors`, `interval`, `base_ejection_time`,
/// `max_ejection_time`, `max_ejection_percent`, `min_health_percent`. `*detector_out`
/// receives the handle, or NULL with `MESH_CORE_RESULT_INVALID_SETTINGS`.
///
/// # Safety
/// `settings` valid for `settings_len` bytes; `detector_out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_outlier_detector_new(
    settings: *const c_char,
    settings_len: usize,
    detector_out: *mut *mut mesh_core_outlier_detector,
) -> mesh_core_result {
    boundary(|| {
        if detector_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        // SAFETY: the caller's contract.
        unsafe { *detector_out = std::ptr::null_mut() };
        // SAFETY: the caller's contract.
        let text = unsafe { borrow_str(settings, settings_len) }?;
        let detector = OutlierSpec::from_json(text)
            .and_then(Detector::try_new)
            .map_err(|_| mesh_core_result::InvalidSettings)?;
        let handle = Box::into_raw(Box::new(mesh_core_outlier_detector { detector }));
        // SAFETY: the caller's contract.
        unsafe { *detector_out = handle };
        Ok(())
    })
}

/// Frees a detector. NULL is a no-op.
///
/// # Safety
/// `detector` must be NULL or a handle from `mesh_core_outlier_detector_new`, not freed
/// before and not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_outlier_detector_free(
    detector: *mut mesh_core_outlier_detector,
) {
    if !detector.is_null() {
        // SAFETY: the handle came from `Box::into_raw` in `mesh_core_outlier_detector_new`.
        let _ = std::panic::catch_unwind(|| drop(unsafe { Box::from_raw(detector) }));
    }
}

/// Records a response `status` from the host named by `host_len` bytes at `host`;
/// `*ejected_out` (may be NULL) is true when this response ejected it. An unknown host or a
/// status outside 100..=599 is `MESH_CORE_RESULT_INVALID_SETTINGS`.
///
/// # Safety
/// `detector` must be NULL or a live handle not in use by another thread; `host` valid for
/// `host_len` bytes; `ejected_out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_outlier_detector_record(
    detector: *mut mesh_core_outlier_detector,
    host: *const c_char,
    host_len: usize,
    status: u32,
    ejected_out: *mut bool,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { detector.as_mut() }.ok_or(mesh_core_result::NullParameter)?;
        // SAFETY: the caller's contract.
        let host = unsafe { borrow_str(host, host_len) }?;
        let ejected = d
            .detector
            .record(host, status)
            .map_err(|_| mesh_core_result::InvalidSettings)?;
        if !ejected_out.is_null() {
            // SAFETY: the caller's contract.
            unsafe { *ejected_out = ejected };
        }
        Ok(())
    })
}

/// The hosts ejected now, as a JSON array of names in list order; `*json_len_out` (may be
/// NULL) its length. Free the string with `mesh_core_string_free`.
///
/// # Safety
/// `detector` must be NULL or a live handle not in use by another thread; `json_out` valid
/// for a write; `json_len_out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_outlier_detector_ejected(
    detector: *mut mesh_core_outlier_detector,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { detector.as_mut() }.ok_or(mesh_core_result::NullParameter)?;
        if json_out.is_null() {
            return Err(mesh_core_result::NullParameter);
        }
        let json =
            serde_json::to_string(&d.detector.ejected()).map_err(|_| mesh_core_result::Panic)?;
        // SAFETY: the caller's contract.
        unsafe { give_string(json, json_out, json_len_out) };
        Ok(())
    })
}

/// Moves the detector's clock `seconds` (finite, >= 0) forward, running the un-ejections now
/// due.
///
/// # Safety
/// `detector` must be NULL or a live handle not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_core_outlier_detector_advance(
    detector: *mut mesh_core_outlier_detector,
    seconds: f64,
) -> mesh_core_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { detector.as_mut() }.ok_or(mesh_core_result::NullParameter)?;
        d.detector
            .advance(seconds)
            .map_err(|_| mesh_core_result::InvalidSettings)
    })
}
