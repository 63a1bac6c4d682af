//! `trafficPolicy` and its components except the load balancer and TLS (Istio
//! `validateTrafficPolicy`, `validateConnectionPool`, `validateOutlierDetection`).

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::resource::{
    ConnectionPoolSettings, Duration, H2UpgradePolicy, HttpSettings, OutlierDetection,
    PortTrafficPolicy, ProxyProtocol, RetryBudget, TcpSettings, TrafficPolicy, TunnelSettings,
};
use crate::validate::Report;
use crate::validate::common::duration;
use crate::validate::service_entry::net::{check_fqdn, check_port, parse_ip};

use super::client_tls::check_client_tls;
use super::load_balancer::check_load_balancer;

/// Envoy and Istio keep pool limits in 32-bit fields; protobuf `int32` caps them here.
const INT32_MAX: i64 = i32::MAX as i64;

/// Validates a top-level or subset `trafficPolicy`.
pub(super) fn check(r: &mut Report, path: &FieldPath, tp: &TrafficPolicy) {
    // Istio: "traffic policy must have at least one field".
    if tp.load_balancer.is_none()
        && tp.connection_pool.is_none()
        && tp.outlier_detection.is_none()
        && tp.tls.is_none()
        && tp.port_level_settings.is_empty()
        && tp.tunnel.is_none()
        && tp.proxy_protocol.is_none()
        && tp.retry_budget.is_none()
    {
        r.error(
            path,
            "trafficPolicy must have at least one field (loadBalancer, connectionPool, \
             outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol or retryBudget)",
        );
        return;
    }
    // Istio: tunnelled traffic cannot also carry a PROXY protocol header.
    if tp.tunnel.is_some() && tp.proxy_protocol.is_some() {
        r.error(
            &path.key("tunnel"),
            "tunnel and proxyProtocol must not be set together",
        );
    }
    components(
        r,
        path,
        tp.load_balancer.as_ref(),
        tp.connection_pool.as_ref(),
        tp.outlier_detection.as_ref(),
    );
    if let Some(t) = &tp.tls {
        check_client_tls(r, &path.key("tls"), t);
    }
    port_level(r, &path.key("portLevelSettings"), &tp.port_level_settings);
    if let Some(t) = &tp.tunnel {
        tunnel(r, &path.key("tunnel"), t);
    }
    if let Some(p) = &tp.proxy_protocol {
        proxy_protocol(r, &path.key("proxyProtocol"), p);
    }
    if let Some(b) = &tp.retry_budget {
        retry_budget(r, &path.key("retryBudget"), b);
    }
}

/// The components a port-level entry may also set (TLS aside).
fn components(
    r: &mut Report,
    path: &FieldPath,
    lb: Option<&crate::resource::LoadBalancerSettings>,
    pool: Option<&ConnectionPoolSettings>,
    outlier: Option<&OutlierDetection>,
) {
    if let Some(lb) = lb {
        check_load_balancer(r, &path.key("loadBalancer"), lb, outlier);
    }
    if let Some(cp) = pool {
        connection_pool(r, &path.key("connectionPool"), cp);
    }
    if let Some(od) = outlier {
        outlier_detection(r, &path.key("outlierDetection"), od);
    }
}

/// Istio `validatePortTrafficPolicies` (spec §3.5): each entry names a valid port, sets at least
/// one component; mesh also rejects two entries for the same port (only one could apply).
fn port_level(r: &mut Report, path: &FieldPath, items: &[PortTrafficPolicy]) {
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, p) in items.iter().enumerate() {
        let at = path.index(i);
        match &p.port {
            None => r.error(
                &at.key("port"),
                "port-level settings need a port ({number: 8080})",
            ),
            Some(sel) => {
                let num = at.key("port").key("number");
                if let Err(e) = check_port(sel.number) {
                    r.error(&num, e);
                } else if let Some(first) = seen.insert(sel.number, i) {
                    r.error(
                        &num,
                        format!(
                            "port {} already has settings in portLevelSettings[{first}]",
                            sel.number
                        ),
                    );
                }
            }
        }
        if p.load_balancer.is_none()
            && p.connection_pool.is_none()
            && p.outlier_detection.is_none()
            && p.tls.is_none()
        {
            r.error(
                &at,
                "port-level settings must set at least one of loadBalancer, connectionPool, \
                 outlierDetection or tls",
            );
            continue;
        }
        components(
            r,
            &at,
            p.load_balancer.as_ref(),
            p.connection_pool.as_ref(),
            p.outlier_detection.as_ref(),
        );
        if let Some(t) = &p.tls {
            check_client_tls(r, &at.key("tls"), t);
        }
    }
}

/// Istio `validateConnectionPool`: `tcp` or `http` present; counts non-negative; durations
/// valid.
fn connection_pool(r: &mut Report, path: &FieldPath, cp: &ConnectionPoolSettings) {
    if cp.tcp.is_none() && cp.http.is_none() {
        r.error(path, "connectionPool must set tcp or http");
    }
    if let Some(tcp) = &cp.tcp {
        tcp_settings(r, &path.key("tcp"), tcp);
    }
    if let Some(http) = &cp.http {
        http_settings(r, &path.key("http"), http);
    }
}

/// Istio TCP settings: `maxConnections >= 0`; timeouts >= 1ms (`idleTimeout: 0s` disables the
/// idle timeout, spec §3.4).
fn tcp_settings(r: &mut Report, path: &FieldPath, tcp: &TcpSettings) {
    count(r, path, "maxConnections", tcp.max_connections);
    opt_duration(r, path, "connectTimeout", tcp.connect_timeout);
    opt_duration(
        r,
        path,
        "maxConnectionDuration",
        tcp.max_connection_duration,
    );
    if let Some(d) = tcp.idle_timeout.filter(|d| !d.is_zero()) {
        duration(r, &path.key("idleTimeout"), &d);
    }
    if let Some(ka) = &tcp.tcp_keepalive {
        let at = path.key("tcpKeepalive");
        opt_duration(r, &at, "time", ka.time);
        opt_duration(r, &at, "interval", ka.interval);
    }
}

/// Istio HTTP settings: counts non-negative; `idleTimeout` valid; `h2UpgradePolicy: UPGRADE`
/// contradicts `useClientProtocol: true`.
fn http_settings(r: &mut Report, path: &FieldPath, http: &HttpSettings) {
    count(
        r,
        path,
        "http1MaxPendingRequests",
        http.http1_max_pending_requests,
    );
    count(r, path, "http2MaxRequests", http.http2_max_requests);
    count(
        r,
        path,
        "maxRequestsPerConnection",
        http.max_requests_per_connection,
    );
    count(r, path, "maxRetries", http.max_retries);
    count(r, path, "maxConcurrentStreams", http.max_concurrent_streams);
    opt_duration(r, path, "idleTimeout", http.idle_timeout);
    // Spec §3.4: http2KeepAlive needs both interval and timeout.
    if let Some(ka) = &http.http2_keep_alive {
        let at = path.key("http2KeepAlive");
        for (field, value) in [("interval", ka.interval), ("timeout", ka.timeout)] {
            match value {
                None => r.error(
                    &at.key(field),
                    format!("http2KeepAlive.{field} is required"),
                ),
                Some(d) => crate::validate::common::duration(r, &at.key(field), &d),
            }
        }
    }
    if http.h2_upgrade_policy == Some(H2UpgradePolicy::Upgrade)
        && http.use_client_protocol == Some(true)
    {
        r.error(
            &path.key("useClientProtocol"),
            "useClientProtocol: true contradicts h2UpgradePolicy: UPGRADE; set only one",
        );
    }
}

/// Istio `validateOutlierDetection` and Envoy's own limits (security C-21): `interval` and
/// `baseEjectionTime` > 0 (and >= 1ms); percentages within 0..=100; local-origin failures only
/// counted when split from external errors.
fn outlier_detection(r: &mut Report, path: &FieldPath, od: &OutlierDetection) {
    opt_duration(r, path, "interval", od.interval);
    opt_duration(r, path, "baseEjectionTime", od.base_ejection_time);
    for (field, value) in [
        ("maxEjectionPercent", od.max_ejection_percent),
        ("minHealthPercent", od.min_health_percent),
    ] {
        if let Some(v) = value.filter(|v| !(0..=100).contains(v)) {
            r.error(
                &path.key(field),
                format!("{field} must be in range 0..100, got {v}"),
            );
        }
    }
    if od.consecutive_local_origin_failures.is_some_and(|n| n > 0)
        && od.split_external_local_origin_errors != Some(true)
    {
        r.error(
            &path.key("consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures only counts when splitExternalLocalOriginErrors is \
             true; set it or remove consecutiveLocalOriginFailures",
        );
    }
    // Spec §4.1: error codes are HTTP statuses (Envoy `:status` exact matches).
    for (i, code) in od.outlier_detection_http_error_codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            r.error(
                &path.key("outlierDetectionHttpErrorCodes").index(i),
                format!("{code} is not an HTTP status code (100..599)"),
            );
        }
    }
    // Spec §4.1: ignored since Istio 1.7.
    if od.consecutive_errors.is_some_and(|n| n != 0) {
        r.warn(
            &path.key("consecutiveErrors"),
            "consecutiveErrors is deprecated and ignored; use consecutiveGatewayErrors or \
             consecutive5xxErrors",
        );
    }
}

/// Istio `validateTunnelSettings`: protocol CONNECT or POST; target host an FQDN or IP; target
/// port in 1..=65535.
fn tunnel(r: &mut Report, path: &FieldPath, t: &TunnelSettings) {
    if let Some(p) = t
        .protocol
        .as_deref()
        .filter(|p| !matches!(*p, "" | "CONNECT" | "POST"))
    {
        r.error(
            &path.key("protocol"),
            format!("tunnel protocol must be CONNECT or POST, got {p:?}"),
        );
    }
    let host = path.key("targetHost");
    if t.target_host.is_empty() {
        r.error(
            &host,
            "tunnel targetHost is required (a host name or IP address)",
        );
    } else if parse_ip(&t.target_host).is_none()
        && let Err(e) = check_fqdn(&t.target_host)
    {
        r.error(
            &host,
            format!("tunnel targetHost is not a valid host name or IP address: {e}"),
        );
    }
    if let Err(e) = check_port(t.target_port) {
        r.error(&path.key("targetPort"), format!("tunnel targetPort: {e}"));
    }
}

/// Istio `validateProxyProtocol`: version V1 or V2.
fn proxy_protocol(r: &mut Report, path: &FieldPath, p: &ProxyProtocol) {
    if let Some(v) = p.version.as_deref().filter(|v| !matches!(*v, "V1" | "V2")) {
        r.error(
            &path.key("version"),
            format!("proxyProtocol version must be V1 or V2, got {v:?}"),
        );
    }
}

/// Spec §5.5: the Envoy retry budget's `percent` is a percentage in 0..=100.
fn retry_budget(r: &mut Report, path: &FieldPath, b: &RetryBudget) {
    if let Some(p) = b
        .percent
        .filter(|p| !p.is_finite() || !(0.0..=100.0).contains(p))
    {
        r.error(
            &path.key("percent"),
            format!("retryBudget percent must be in range 0..100, got {p}"),
        );
    }
    opt_duration(r, path, "budgetInterval", b.budget_interval);
}

/// Istio: pool counts are non-negative protobuf `int32`s.
fn count(r: &mut Report, path: &FieldPath, field: &str, value: Option<i64>) {
    match value {
        Some(v) if v < 0 => r.error(
            &path.key(field),
            format!("{field} must not be negative, got {v}"),
        ),
        Some(v) if v > INT32_MAX => r.error(
            &path.key(field),
            format!("{field} must be at most {INT32_MAX}, got {v}"),
        ),
        _ => {}
    }
}

/// A duration field, when present, is >= 1ms and whole milliseconds.
fn opt_duration(r: &mut Report, path: &FieldPath, field: &str, d: Option<Duration>) {
    if let Some(d) = d {
        duration(r, &path.key(field), &d);
    }
}
