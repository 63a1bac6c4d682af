//! The `destination_policy` and `profile` keys.

use std::collections::BTreeMap;

use rand::rngs::StdRng;

use super::view::{PolicyView, ProfileView, SubsetView};
use crate::model::Mesh;
use crate::model::destination::{DestinationPolicy, HashAlgorithm, HashKey, LoadBalancer};
use crate::profile::CompiledProfile;
use crate::route::RouteRequest;

pub(super) fn policy_view(
    mesh: &Mesh,
    host: &str,
    p: DestinationPolicy,
    notes: &mut Vec<String>,
) -> PolicyView {
    use serde_json::json;
    if let Some(s) = p.subset.as_ref().filter(|s| s.labels.is_none()) {
        notes.push(format!(
            "subset {:?} of {host} is defined by no DestinationRule: Envoy answers 503 (NC)",
            s.name
        ));
    }
    let load_balancer = match &p.load_balancer {
        LoadBalancer::LeastRequest => json!({"simple": "LEAST_REQUEST"}),
        LoadBalancer::RoundRobin => json!({"simple": "ROUND_ROBIN"}),
        LoadBalancer::Random => json!({"simple": "RANDOM"}),
        LoadBalancer::Passthrough => json!({"simple": "PASSTHROUGH"}),
        LoadBalancer::ConsistentHash(h) => {
            let key = match &h.key {
                HashKey::Header(n) => json!({"http_header_name": n}),
                HashKey::Cookie { name, path, ttl } => json!({"http_cookie": {
                    "name": name, "path": path, "ttl_ms": ttl.map(|t| t.as_millis())}}),
                HashKey::SourceIp => json!({"use_source_ip": true}),
                HashKey::QueryParameter(q) => json!({"http_query_parameter_name": q}),
            };
            let algo = match h.algorithm {
                HashAlgorithm::RingHash { minimum_ring_size } => {
                    json!({"ring_hash": {"minimum_ring_size": minimum_ring_size}})
                }
                HashAlgorithm::Maglev { table_size } => {
                    json!({"maglev": {"table_size": table_size}})
                }
            };
            json!({"consistent_hash": {"key": key, "algorithm": algo}})
        }
    };
    let c = &p.connection_pool;
    let connection_pool = json!({
        "max_connections": c.max_connections,
        "connect_timeout_ms": c.connect_timeout.as_millis(),
        "http1_max_pending_requests": c.http1_max_pending_requests,
        "http2_max_requests": c.http2_max_requests,
        "max_requests_per_connection": c.max_requests_per_connection,
        "max_retries": c.max_retries,
        "idle_timeout_ms": c.idle_timeout.as_millis(),
        "h2_upgrade": c.h2_upgrade,
    });
    let outlier_detection = p.outlier_detection.as_ref().map(|o| {
        json!({
            "consecutive_5xx_errors": o.consecutive_5xx,
            "consecutive_gateway_errors": o.consecutive_gateway_errors,
            "interval_ms": o.interval.as_millis(),
            "base_ejection_time_ms": o.base_ejection_time.as_millis(),
            "max_ejection_time_ms": o.max_ejection_time.as_millis(),
            "max_ejection_percent": o.max_ejection_percent,
            "min_health_percent": o.min_health_percent,
            "split_external_local_origin_errors": o.split_external_local_origin_errors,
        })
    });
    let endpoints = mesh
        .service(host)
        .map(|svc| {
            let empty = BTreeMap::new();
            let labels = p
                .subset
                .as_ref()
                .and_then(|s| s.labels.as_ref())
                .unwrap_or(&empty);
            svc.endpoints_for(labels)
                .map(|e| e.address.clone())
                .collect()
        })
        .unwrap_or_default();
    if p.destination_rules.len() > 1 {
        notes.push(format!(
            "DestinationRules {} are merged for {host}: the first top-level trafficPolicy wins, \
             the first definition of a subset wins",
            p.destination_rules.join(", ")
        ));
    }
    PolicyView {
        destination_rule: p
            .policy_from
            .clone()
            .or_else(|| p.destination_rules.first().cloned()),
        destination_rules: p.destination_rules.clone(),
        subset: p.subset.map(|s| SubsetView {
            name: s.name,
            labels: s.labels,
        }),
        load_balancer,
        connection_pool,
        outlier_detection,
        endpoints,
    }
}

pub(super) fn profile_view(
    p: &CompiledProfile,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> ProfileView {
    use serde_json::json;
    let route = p.route(rr.method, rr.path);
    if route.is_none() {
        notes.push(format!(
            "ServiceProfile {}: no route matches, the default route applies (no retries, no \
             timeout, 5xx = failure)",
            p.name
        ));
    }
    let classes = route
        .map(|r| {
            r.response_classes
                .iter()
                .map(|c| json!({"condition": condition_json(&c.condition), "is_failure": c.is_failure}))
                .collect()
        })
        .unwrap_or_default();
    ProfileView {
        service_profile: p.name.clone(),
        route: route.map(|r| r.name.clone()),
        timeout_ms: route.and_then(|r| r.timeout).map(|t| t.as_millis()),
        retryable: route.is_some_and(|r| r.retryable),
        retry_budget: json!({
            "retry_ratio": p.retry_budget.retry_ratio,
            "min_retries_per_second": p.retry_budget.min_retries_per_second,
            "ttl_ms": p.retry_budget.ttl.as_millis(),
        }),
        response_classes: classes,
        dst_override: p.dst_overrides.as_ref().map(|s| s.pick(rng).1.clone()),
    }
}

fn condition_json(c: &crate::profile::ResponseCondition) -> serde_json::Value {
    use crate::profile::ResponseCondition as C;
    use serde_json::json;
    match c {
        C::Status(min, max) => json!({"status": {"min": min, "max": max}}),
        C::All(v) => json!({"all": v.iter().map(condition_json).collect::<Vec<_>>()}),
        C::Any(v) => json!({"any": v.iter().map(condition_json).collect::<Vec<_>>()}),
        C::Not(c) => json!({"not": condition_json(c)}),
    }
}
