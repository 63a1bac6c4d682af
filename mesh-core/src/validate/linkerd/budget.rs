//! ServiceProfile `retryBudget` (semantics.md §5.3–§5.4, security.md C-20).

use crate::path::FieldPath;
use crate::resource::{Duration, RetryBudgetSpec};
use crate::validate::Report;

/// tower `TpsBudget::new` asserts `0 <= retry_percent <= 1000`.
const MAX_RATIO: f64 = 1000.0;

/// tower `TpsBudget::new` asserts `1s <= ttl <= 60s`.
const TTL: std::ops::RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(60);

/// The controller requires all three fields; the proxy rejects a ratio outside `0..=1000`, a
/// ttl outside `1s..=60s` or a minimum above `i32::MAX` (and then silently never retries), and
/// tower asserts the first two: reject them here so that they never reach it.
pub fn retry_budget(b: &RetryBudgetSpec, path: &FieldPath, r: &mut Report) {
    match b.retry_ratio {
        None => r.error(
            &path.key("retryRatio"),
            "retryBudget.retryRatio is required",
        ),
        Some(x) if !x.is_finite() || !(0.0..=MAX_RATIO).contains(&x) => r.error(
            &path.key("retryRatio"),
            format!(
                "retryRatio {x} must be in 0..=1000 (linkerd2-proxy's retry budget asserts \
                 this range)"
            ),
        ),
        Some(_) => {}
    }
    match b.min_retries_per_second {
        None => r.error(
            &path.key("minRetriesPerSecond"),
            "retryBudget.minRetriesPerSecond is required",
        ),
        Some(m) if i32::try_from(m).is_err() => r.error(
            &path.key("minRetriesPerSecond"),
            format!(
                "minRetriesPerSecond {m} is above {}: linkerd2-proxy then drops the budget and \
                 retryable routes never retry",
                i32::MAX
            ),
        ),
        Some(_) => {}
    }
    match b.ttl {
        None => r.error(&path.key("ttl"), "retryBudget.ttl is required"),
        Some(t) if !TTL.contains(&t) => r.error(
            &path.key("ttl"),
            format!(
                "ttl {t} must be in 1s..=60s (linkerd2-proxy's retry budget asserts this range)"
            ),
        ),
        Some(_) => {}
    }
}
