//! `loadBalancer` (Istio `validateLoadBalancer`; spec §3.3).

use crate::path::FieldPath;
use crate::resource::{
    ConsistentHashLb, HttpCookie, LoadBalancerSettings, OutlierDetection, SimpleLb,
    WarmupConfiguration,
};
use crate::validate::Report;
use crate::validate::common::{duration, is_header_name, is_tchar};

use super::locality::check_locality;

/// Envoy: maglev table sizes must be primes below this.
const MAGLEV_MAX: u64 = 5_000_011;

/// Envoy `RingHashLbConfig.minimum_ring_size` upper bound (8M entries).
const RING_MAX: u64 = 8_388_608;

/// Validates a `loadBalancer` block; `outlier` is the sibling outlier detection (locality
/// failover needs it).
pub(super) fn check_load_balancer(
    r: &mut Report,
    path: &FieldPath,
    lb: &LoadBalancerSettings,
    outlier: Option<&OutlierDetection>,
) {
    // Istio: `simple` and `consistentHash` are a oneof.
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        r.error(path, "set only one of simple or consistentHash");
    }
    if let Some(ch) = &lb.consistent_hash {
        consistent_hash(r, &path.key("consistentHash"), ch);
    }
    if let Some(l) = &lb.locality_lb_setting {
        check_locality(r, &path.key("localityLbSetting"), l, outlier);
    }
    if let Some(d) = &lb.warmup_duration_secs {
        let at = path.key("warmupDurationSecs");
        duration(r, &at, d);
        r.warn(
            &at,
            "warmupDurationSecs is deprecated; use warmup: {duration: ...}",
        );
    }
    if let Some(w) = &lb.warmup {
        warmup(r, &path.key("warmup"), w);
    }
    warmup_applies(r, path, lb);
}

/// Istio `ConsistentHashLB`: exactly one hash key; a cookie needs a name; the deprecated
/// `minimumRingSize` excludes `ringHash`/`maglev`, which exclude each other; maglev table sizes
/// are primes below 5000011.
fn consistent_hash(r: &mut Report, path: &FieldPath, ch: &ConsistentHashLb) {
    hash_key(r, path, ch);
    if let Some(c) = &ch.http_cookie {
        cookie(r, &path.key("httpCookie"), c);
    }
    if let Some(n) = ch.minimum_ring_size {
        let at = path.key("minimumRingSize");
        if ch.ring_hash.is_some() || ch.maglev.is_some() {
            r.error(
                &at,
                "the deprecated minimumRingSize cannot be combined with ringHash or maglev; use \
                 ringHash.minimumRingSize",
            );
        } else {
            r.warn(
                &at,
                "minimumRingSize is deprecated; use ringHash: {minimumRingSize: ...}",
            );
        }
        ring_size(r, &at, n);
    }
    if ch.ring_hash.is_some() && ch.maglev.is_some() {
        r.error(path, "set only one of ringHash or maglev");
    }
    if let Some(n) = ch.ring_hash.as_ref().and_then(|h| h.minimum_ring_size) {
        ring_size(r, &path.key("ringHash").key("minimumRingSize"), n);
    }
    if let Some(m) = &ch.maglev {
        maglev_table(r, &path.key("maglev").key("tableSize"), m.table_size);
    }
}

/// Exactly one of `httpHeaderName`, `httpCookie`, `useSourceIp`, `httpQueryParameterName`.
fn hash_key(r: &mut Report, path: &FieldPath, ch: &ConsistentHashLb) {
    let keys: Vec<&str> = [
        ("httpHeaderName", ch.http_header_name.is_some()),
        ("httpCookie", ch.http_cookie.is_some()),
        ("useSourceIp", ch.use_source_ip.is_some()),
        (
            "httpQueryParameterName",
            ch.http_query_parameter_name.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    match keys.len() {
        0 => r.error(
            path,
            "consistentHash needs a hash key: one of httpHeaderName, httpCookie, useSourceIp or \
             httpQueryParameterName",
        ),
        1 => {}
        _ => r.error(
            path,
            format!(
                "consistentHash takes exactly one hash key, found {}",
                keys.join(", ")
            ),
        ),
    }
    if let Some(h) = ch
        .http_header_name
        .as_deref()
        .filter(|h| !is_header_name(h))
    {
        r.error(
            &path.key("httpHeaderName"),
            format!("httpHeaderName {h:?} is not a valid HTTP header name"),
        );
    }
    if ch.http_query_parameter_name.as_deref() == Some("") {
        r.error(
            &path.key("httpQueryParameterName"),
            "httpQueryParameterName must not be empty",
        );
    }
    // Istio hashes on the source IP whenever the oneof is set, whatever the value.
    if ch.use_source_ip == Some(false) {
        r.warn(
            &path.key("useSourceIp"),
            "useSourceIp: false still selects source-IP hashing; remove the field or pick \
             another hash key",
        );
    }
}

/// Istio: a hash cookie needs a name (an RFC 6265 token); `ttl: 0s` makes a session cookie,
/// other TTLs follow the duration rules.
fn cookie(r: &mut Report, path: &FieldPath, c: &HttpCookie) {
    if c.name.is_empty() {
        r.error(&path.key("name"), "httpCookie needs a name");
    } else if !c.name.bytes().all(is_tchar) {
        r.error(
            &path.key("name"),
            format!(
                "cookie name {:?} is not a valid cookie name (an RFC 6265 token)",
                c.name
            ),
        );
    }
    if let Some(ttl) = c.ttl.filter(|d| !d.is_zero()) {
        duration(r, &path.key("ttl"), &ttl);
    }
}

/// Envoy: a ring has at most 8M entries.
fn ring_size(r: &mut Report, path: &FieldPath, n: u64) {
    if n > RING_MAX {
        r.error(
            path,
            format!("minimumRingSize {n} is larger than the maximum {RING_MAX}"),
        );
    }
}

/// Istio: maglev `tableSize` is set, below 5000011 and prime.
fn maglev_table(r: &mut Report, path: &FieldPath, size: Option<u64>) {
    match size.unwrap_or(0) {
        0 => r.error(
            path,
            "maglev tableSize must be set: a prime below 5000011, such as 65537",
        ),
        n if n >= MAGLEV_MAX => r.error(
            path,
            format!("maglev tableSize {n} must be less than {MAGLEV_MAX}"),
        ),
        n if !is_prime(n) => r.error(
            path,
            format!("maglev tableSize {n} must be a prime number (such as 65537)"),
        ),
        _ => {}
    }
}

/// Spec §3.5: warmup needs a duration; `minimumPercent` within 0..=100; `aggression` > 0.
fn warmup(r: &mut Report, path: &FieldPath, w: &WarmupConfiguration) {
    match &w.duration {
        None => r.error(&path.key("duration"), "warmup needs a duration (e.g. 60s)"),
        Some(d) => duration(r, &path.key("duration"), d),
    }
    if let Some(p) = w
        .minimum_percent
        .filter(|p| !p.is_finite() || !(0.0..=100.0).contains(p))
    {
        r.error(
            &path.key("minimumPercent"),
            format!("warmup minimumPercent must be in range 0..100, got {p}"),
        );
    }
    if let Some(a) = w.aggression.filter(|a| !a.is_finite() || *a <= 0.0) {
        r.error(
            &path.key("aggression"),
            format!("warmup aggression must be greater than 0, got {a}"),
        );
    }
}

/// Spec §3.3: slow start only exists for ROUND_ROBIN and LEAST_REQUEST.
fn warmup_applies(r: &mut Report, path: &FieldPath, lb: &LoadBalancerSettings) {
    if lb.warmup.is_none() && lb.warmup_duration_secs.is_none() {
        return;
    }
    let algorithm = match (lb.simple, &lb.consistent_hash) {
        (_, Some(_)) => "consistentHash",
        (Some(SimpleLb::Random), _) => "RANDOM",
        (Some(SimpleLb::Passthrough), _) => "PASSTHROUGH",
        _ => return,
    };
    r.warn(
        path,
        format!(
            "warmup has no effect with {algorithm}; it applies to ROUND_ROBIN and LEAST_REQUEST"
        ),
    );
}

/// Trial division (callers pass sizes below 5000011: at most ~1100 odd divisors).
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d <= n / d {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}
