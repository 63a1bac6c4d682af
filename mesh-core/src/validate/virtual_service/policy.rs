//! Per-rule policies: retries (Istio `validateHTTPRetry`, spec §5.1), fault injection
//! (`validateHTTPFaultInjection`, §1.7) and CORS (`validateCORSPolicy`).

use crate::path::FieldPath;
use crate::resource::{
    CorsPolicy, Duration, FaultAbort, FaultDelay, HttpFaultInjection, HttpRetry, Percent,
};
use crate::validate::Report;
use crate::validate::common::{MatchUse, duration, is_header_name, string_match};

/// Envoy `x-envoy-retry-on` and `x-envoy-retry-grpc-on` conditions Istio accepts.
const RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// The status codes Go's `http.StatusText` knows; Istio accepts exactly these as numeric
/// `retryOn` tokens.
const GO_STATUS_CODES: &[i64] = &[
    100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
    305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 510, 511,
];

/// CORS methods Istio accepts (Go's `net/http` method constants and `*`).
const CORS_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*",
];

// === retries ===

/// Istio `validateHTTPRetry`: attempts >= 0; a policy with attempts 0 (retries disabled) must
/// not configure anything else; durations valid; every `retryOn` token known.
pub(super) fn retries(r: &mut Report, path: &FieldPath, x: &HttpRetry, timeout: Option<Duration>) {
    let attempts = x.attempts.unwrap_or(0);
    if attempts < 0 {
        r.error(
            &path.key("attempts"),
            format!("attempts {attempts} cannot be negative (0 disables retries)"),
        );
    }
    let retry_on = x.retry_on.as_deref().filter(|s| !s.is_empty());
    if attempts == 0
        && (x.per_try_timeout.is_some()
            || retry_on.is_some()
            || x.retry_remote_localities.is_some())
    {
        r.error(
            path,
            "http retry policy configured when attempts are set to 0 (disabled): set attempts \
             to 1 or more, or remove perTryTimeout, retryOn and retryRemoteLocalities",
        );
    }
    if let Some(per_try) = &x.per_try_timeout {
        duration(r, &path.key("perTryTimeout"), per_try);
        if let Some(t) = timeout.filter(|t| per_try > t) {
            r.warn(
                &path.key("perTryTimeout"),
                format!(
                    "perTryTimeout {per_try} is longer than the route timeout {t}, which bounds \
                     all tries together: no try can use it fully"
                ),
            );
        }
    }
    if let Some(list) = retry_on {
        retry_on_tokens(r, &path.key("retryOn"), list);
    }
    if let Some(b) = &x.backoff {
        duration(r, &path.key("backoff"), b);
    }
}

/// Istio splits `retryOn` on `,` WITHOUT trimming and checks each piece, so `"5xx, reset"`
/// (" reset") and a stray comma (`"5xx,"`, an empty piece) are rejected. We follow Istio:
/// a configuration its webhook refuses must not load here either.
fn retry_on_tokens(r: &mut Report, path: &FieldPath, list: &str) {
    for token in list.split(',') {
        if RETRY_ON.contains(&token) || is_status_code(token) {
            continue;
        }
        let hint = if token.is_empty() {
            " (remove the empty entry between commas)"
        } else if token.trim() != token {
            " (remove the spaces around commas)"
        } else {
            ""
        };
        r.error(
            path,
            format!(
                "{token:?} is not a valid retryOn policy{hint}: use {} or an HTTP status code \
                 such as 503",
                RETRY_ON.join(", ")
            ),
        );
    }
}

/// Go `strconv.Atoi` then `http.StatusText != ""`, as Istio checks numeric tokens.
fn is_status_code(token: &str) -> bool {
    token
        .parse::<i64>()
        .is_ok_and(|n| GO_STATUS_CODES.contains(&n))
}

// === fault ===

/// Istio `validateHTTPFaultInjection`: a delay and/or an abort.
pub(super) fn fault(r: &mut Report, path: &FieldPath, f: &HttpFaultInjection) {
    if f.delay.is_none() && f.abort.is_none() {
        r.error(
            path,
            "HTTP fault injection must have an abort and/or a delay",
        );
    }
    if let Some(d) = &f.delay {
        delay(r, &path.key("delay"), d);
    }
    if let Some(a) = &f.abort {
        abort(r, &path.key("abort"), a);
    }
}

/// A fixed delay (exponential is not supported), a valid percentage.
fn delay(r: &mut Report, path: &FieldPath, d: &FaultDelay) {
    if let Some(fixed) = &d.fixed_delay {
        duration(r, &path.key("fixedDelay"), fixed);
    }
    if d.exponential_delay.is_some() {
        r.error(
            &path.key("exponentialDelay"),
            "exponentialDelay is not supported; use fixedDelay",
        );
    } else if d.fixed_delay.is_none() {
        r.error(path, "fault delay requires fixedDelay");
    }
    if let Some(p) = &d.percentage {
        fault_percentage(r, &path.key("percentage"), p);
    }
    if let Some(p) = d.percent {
        if !(0..=100).contains(&p) {
            r.error(
                &path.key("percent"),
                format!("percentage {p} is not in range 0..100"),
            );
        }
        r.warn(
            &path.key("percent"),
            "percent is deprecated; use percentage: {value: ...}",
        );
    }
    if d.percentage.is_none() && d.percent.is_none() {
        r.warn(
            path,
            "fault delay has no percentage: no request is delayed (the default is 0%); set \
             percentage.value",
        );
    }
}

/// Exactly one error type: httpStatus (200..=600, Istio's quirk) or a gRPC status name;
/// http2Error is not supported; no error type drops the fault.
fn abort(r: &mut Report, path: &FieldPath, a: &FaultAbort) {
    let kinds = [
        a.http_status.is_some(),
        a.grpc_status.is_some(),
        a.http2_error.is_some(),
    ];
    let set = kinds.iter().filter(|k| **k).count();
    if set > 1 {
        r.error(
            path,
            "fault abort may set only one of httpStatus, grpcStatus and http2Error",
        );
    }
    if let Some(s) = a.http_status.filter(|s| !(200..=600).contains(s)) {
        r.error(
            &path.key("httpStatus"),
            format!("HTTP status {s} must be in the range 200-599"),
        );
    }
    if let Some(g) = a
        .grpc_status
        .as_deref()
        .filter(|g| !crate::resource::GRPC_CODES.contains(g))
    {
        r.error(
            &path.key("grpcStatus"),
            format!(
                "gRPC status {g:?} is not supported: use a code name from \
                 https://github.com/grpc/grpc/blob/master/doc/statuscodes.md, for example \
                 UNAVAILABLE or NOT_FOUND"
            ),
        );
    }
    if a.http2_error.is_some() {
        r.error(
            &path.key("http2Error"),
            "HTTP/2 abort fault injection is not supported; use httpStatus or grpcStatus",
        );
    }
    if set == 0 {
        r.warn(
            path,
            "fault abort has no error type; the fault is dropped (set httpStatus or grpcStatus)",
        );
    }
    match &a.percentage {
        Some(p) => fault_percentage(r, &path.key("percentage"), p),
        None => r.warn(
            path,
            "fault abort has no percentage: no request is aborted (the default is 0%); set \
             percentage.value",
        ),
    }
}

/// Istio `validatePercentage`: 0, or within `[0.0001, 100]` (Envoy's precision is 1e-4 %).
fn fault_percentage(r: &mut Report, path: &FieldPath, p: &Percent) {
    let v = p.value;
    let ok = v == 0.0 || (0.0001..=100.0).contains(&v);
    if !ok {
        r.error(
            &path.key("value"),
            format!("percentage {v} is neither 0.0, nor in range [0.0001, 100.0]"),
        );
    }
}

// === CORS ===

/// Istio `validateCORSPolicy`.
pub(super) fn cors(r: &mut Report, path: &FieldPath, c: &CorsPolicy) {
    for (i, origin) in c.allow_origins.iter().enumerate() {
        let p = path.key("allowOrigins").index(i);
        let value = origin
            .exact
            .as_deref()
            .or(origin.prefix.as_deref())
            .or(origin.regex.as_deref());
        match value {
            Some(v) if !v.is_empty() => string_match(r, &p, origin, MatchUse::Other),
            _ => r.error(
                &p,
                "allowOrigins entry must set a non-empty exact, prefix or regex",
            ),
        }
    }
    for (i, origin) in c.allow_origin.iter().enumerate() {
        if origin.is_empty() {
            r.error(
                &path.key("allowOrigin").index(i),
                "allowOrigin entry cannot be empty",
            );
        }
    }
    if !c.allow_origin.is_empty() {
        r.warn(
            &path.key("allowOrigin"),
            "allowOrigin is deprecated; use allowOrigins with exact matches",
        );
    }
    for (i, m) in c.allow_methods.iter().enumerate() {
        if !CORS_METHODS.contains(&m.as_str()) {
            r.error(
                &path.key("allowMethods").index(i),
                format!(
                    "{m:?} is not a supported HTTP method: use one of {}",
                    CORS_METHODS.join(", ")
                ),
            );
        }
    }
    cors_header_names(r, &path.key("allowHeaders"), &c.allow_headers);
    cors_header_names(r, &path.key("exposeHeaders"), &c.expose_headers);
    if let Some(age) = &c.max_age {
        max_age(r, &path.key("maxAge"), age);
    }
}

/// Istio `ValidateCORSHTTPHeaderName`: a token, or `*`.
fn cors_header_names(r: &mut Report, path: &FieldPath, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            r.error(&path.index(i), "header name cannot be empty");
        } else if name != "*" && !is_header_name(name) {
            r.error(
                &path.index(i),
                format!("header name {name:?} is not a valid header name"),
            );
        }
    }
}

/// A valid duration of whole seconds (`Access-Control-Max-Age` is in seconds).
fn max_age(r: &mut Report, path: &FieldPath, age: &Duration) {
    let before = r.issues().len();
    duration(r, path, age);
    if r.issues().len() == before && !age.as_nanos().is_multiple_of(1_000_000_000) {
        r.error(
            path,
            format!("maxAge {age} must be a whole number of seconds"),
        );
    }
}
