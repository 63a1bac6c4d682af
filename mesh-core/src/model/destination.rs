//! DestinationRule resolution (spec §3): which DR applies for a client and a host, subset and
//! port-level merging, and the effective policy with Istio's defaults made explicit.

use std::collections::BTreeMap;

use crate::resource::{
    ClientTlsSettings, ConnectionPoolSettings, DestinationRuleSpec, Duration, H2UpgradePolicy,
    LoadBalancerSettings, OutlierDetection, RetryBudget, SimpleLb, TrafficPolicy,
};

use super::host::HostPattern;

/// A DestinationRule in the snapshot.
#[derive(Clone, Debug)]
pub struct DrEntry {
    /// `ns/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Host pattern (expanded).
    pub host: HostPattern,
    /// The spec.
    pub spec: DestinationRuleSpec,
    /// Visibility (`*` when unset).
    pub export_to: Vec<String>,
    /// Creation order key.
    pub created: (String, usize),
}

/// The policy that applies to traffic for one host, subset and port.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationPolicy {
    /// The DestinationRules merged for the host (`ns/name`), oldest first.
    pub destination_rules: Vec<String>,
    /// The one whose top-level `trafficPolicy` applies.
    pub policy_from: Option<String>,
    /// The subset asked for, and whether a DR defines it (else: 503 `NC`).
    pub subset: Option<SubsetResolution>,
    /// Load balancer.
    pub load_balancer: LoadBalancer,
    /// Circuit-breaker thresholds and pool settings.
    pub connection_pool: PoolSettings,
    /// Outlier detection; `None` without an `outlierDetection` block.
    pub outlier_detection: Option<OutlierSettings>,
    /// Upstream TLS as configured.
    pub tls: Option<ClientTlsSettings>,
    /// Envoy retry budget, when configured.
    pub retry_budget: Option<RetryBudget>,
}

/// A subset lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubsetResolution {
    /// The name.
    pub name: String,
    /// Its endpoint labels, when defined.
    pub labels: Option<BTreeMap<String, String>>,
}

/// The load-balancing algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadBalancer {
    /// Power of two choices on active requests (Istio's default since 1.14).
    LeastRequest,
    /// Weighted round robin.
    RoundRobin,
    /// Uniform random.
    Random,
    /// Original destination.
    Passthrough,
    /// Consistent hashing.
    ConsistentHash(HashPolicy),
}

/// A consistent-hash policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashPolicy {
    /// What is hashed.
    pub key: HashKey,
    /// Ring hash (min ring size) or Maglev (table size).
    pub algorithm: HashAlgorithm,
}

/// The hash input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// A request header.
    Header(String),
    /// A cookie (generated with `ttl` when absent).
    Cookie {
        /// Name.
        name: String,
        /// Path.
        path: Option<String>,
        /// Lifetime.
        ttl: Option<Duration>,
    },
    /// The source IP.
    SourceIp,
    /// A query parameter.
    QueryParameter(String),
}

/// The consistent-hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// Ring hash with a minimum ring size (default 1024).
    RingHash {
        /// Minimum ring size.
        minimum_ring_size: u64,
    },
    /// Maglev with a prime table size (default 65537).
    Maglev {
        /// Table size.
        table_size: u64,
    },
}

/// Envoy circuit-breaker thresholds as Istio installs them (all `2^32-1` unless set) and pool
/// settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// `tcp.maxConnections`.
    pub max_connections: u32,
    /// `tcp.connectTimeout` (mesh default 10s).
    pub connect_timeout: Duration,
    /// `http.http1MaxPendingRequests`.
    pub http1_max_pending_requests: u32,
    /// `http.http2MaxRequests`.
    pub http2_max_requests: u32,
    /// `http.maxRequestsPerConnection` (0 = unlimited).
    pub max_requests_per_connection: u32,
    /// `http.maxRetries`.
    pub max_retries: u32,
    /// Idle timeout (default 1h).
    pub idle_timeout: Duration,
    /// Upgrade HTTP/1.1 to HTTP/2 towards the upstream.
    pub h2_upgrade: bool,
    /// Use the downstream protocol.
    pub use_client_protocol: bool,
}

/// Istio's "unset" for circuit-breaker counters.
pub const UNLIMITED: u32 = u32::MAX;

/// Outlier detection as Istio configures Envoy (spec §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutlierSettings {
    /// Consecutive 5xx threshold; 0 disables (Envoy default 5 when unset).
    pub consecutive_5xx: u32,
    /// Consecutive 502/503/504 threshold; 0 disables (inactive when unset).
    pub consecutive_gateway_errors: u32,
    /// Local-origin failures threshold (split mode only).
    pub consecutive_local_origin_failures: u32,
    /// Split local-origin errors from upstream ones.
    pub split_external_local_origin_errors: bool,
    /// Sweep interval (10s).
    pub interval: Duration,
    /// Base ejection time (30s).
    pub base_ejection_time: Duration,
    /// Ejection cap, `max(300s, base)`.
    pub max_ejection_time: Duration,
    /// Maximum ejected percentage (10).
    pub max_ejection_percent: u32,
    /// Panic threshold; 0 disables panic mode.
    pub min_health_percent: u32,
}

// === impl DestinationPolicy ===

impl DestinationPolicy {
    /// The policy when no DestinationRule applies.
    pub fn defaults() -> Self {
        DestinationPolicy {
            destination_rules: Vec::new(),
            policy_from: None,
            subset: None,
            load_balancer: LoadBalancer::LeastRequest,
            connection_pool: pool(None),
            outlier_detection: None,
            tls: None,
            retry_budget: None,
        }
    }
}

// === impl OutlierSettings ===

impl OutlierSettings {
    /// What an empty Istio `outlierDetection: {}` installs (spec §4.1): Envoy's defaults.
    pub fn defaults() -> Self {
        outlier(&OutlierDetection::default())
    }
}

/// Resolves the effective policy for `host` (FQDN), an optional subset and port, seen from a
/// client in `client_ns`, given the DRs (oldest first).
///
/// Lookup path: client namespace, then the host's namespace, then the root namespace; the
/// first namespace holding a visible DR for the host wins, the most specific host pattern
/// first. DRs for the same host in that namespace merge: the first top-level policy wins and
/// the first definition of a subset wins.
pub fn resolve(
    drs: &[DrEntry],
    host: &str,
    host_ns: Option<&str>,
    client_ns: &str,
    root_ns: &str,
    subset: Option<&str>,
    port: Option<u16>,
) -> DestinationPolicy {
    let mut path = vec![client_ns];
    path.extend(host_ns.filter(|n| *n != client_ns));
    if !path.contains(&root_ns) {
        path.push(root_ns);
    }
    let chosen: Vec<&DrEntry> = path
        .iter()
        .map(|ns| matching(drs, host, ns, client_ns))
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    if chosen.is_empty() {
        let mut p = DestinationPolicy::defaults();
        p.subset = subset.map(|s| SubsetResolution {
            name: s.to_owned(),
            labels: None,
        });
        return p;
    }
    let top_dr = chosen.iter().find(|d| d.spec.traffic_policy.is_some());
    let top = top_dr.and_then(|d| d.spec.traffic_policy.as_ref());
    let found_subset = subset.and_then(|s| {
        chosen
            .iter()
            .flat_map(|d| d.spec.subsets.iter())
            .find(|sub| sub.name == s)
    });
    let mut policy = effective(top, port);
    if let Some(sp) = found_subset.and_then(|sub| sub.traffic_policy.as_ref()) {
        policy = merge_subset(policy, sp, port);
    }
    let lb = lb(policy.load_balancer.as_ref());
    DestinationPolicy {
        destination_rules: chosen.iter().map(|d| d.name.clone()).collect(),
        policy_from: top_dr.map(|d| d.name.clone()),
        subset: subset.map(|s| SubsetResolution {
            name: s.to_owned(),
            labels: found_subset.map(|f| f.labels.clone()),
        }),
        load_balancer: lb,
        connection_pool: pool(policy.connection_pool.as_ref()),
        outlier_detection: policy.outlier_detection.as_ref().map(outlier),
        tls: policy.tls.clone(),
        retry_budget: policy.retry_budget.clone(),
    }
}

/// DRs in `ns` whose host covers `host`, visible from `client_ns`, the most specific host
/// pattern only (exact before wildcard, longer wildcard first), oldest first.
fn matching<'a>(drs: &'a [DrEntry], host: &str, ns: &str, client_ns: &str) -> Vec<&'a DrEntry> {
    let visible = |d: &DrEntry| {
        d.export_to
            .iter()
            .any(|e| e == "*" || e == client_ns || (e == "." && d.namespace == client_ns))
    };
    let candidates: Vec<&DrEntry> = drs
        .iter()
        .filter(|d| d.namespace == ns && d.host.matches(host) && visible(d))
        .collect();
    let specificity = |d: &DrEntry| match &d.host {
        HostPattern::Exact(_) => usize::MAX,
        HostPattern::Wildcard(s) => s.len(),
    };
    let best = candidates.iter().map(|d| specificity(d)).max();
    candidates
        .into_iter()
        .filter(|d| Some(specificity(d)) == best)
        .collect()
}

/// Top-level policy with its port-level entry for `port` applied: a matching entry replaces
/// the four port-level components wholesale (omitted ones fall back to defaults).
fn effective(top: Option<&TrafficPolicy>, port: Option<u16>) -> TrafficPolicy {
    let mut p = top.cloned().unwrap_or_default();
    if let Some(pl) = port.and_then(|port| port_level(&p, port)).cloned() {
        p.load_balancer = pl.load_balancer.clone();
        p.connection_pool = pl.connection_pool.clone();
        p.outlier_detection = pl.outlier_detection.clone();
        p.tls = pl.tls.clone();
    }
    p.port_level_settings.clear();
    p
}

fn port_level(p: &TrafficPolicy, port: u16) -> Option<&crate::resource::PortTrafficPolicy> {
    p.port_level_settings
        .iter()
        .find(|pl| pl.port.is_some_and(|s| s.number == u32::from(port)))
}

/// Istio `MergeTrafficPolicy`: each component the subset sets replaces the inherited one
/// whole; a subset port-level entry for the port replaces all four port-level components.
fn merge_subset(mut base: TrafficPolicy, sub: &TrafficPolicy, port: Option<u16>) -> TrafficPolicy {
    if let Some(pl) = port.and_then(|port| port_level(sub, port)) {
        base.load_balancer = pl.load_balancer.clone();
        base.connection_pool = pl.connection_pool.clone();
        base.outlier_detection = pl.outlier_detection.clone();
        base.tls = pl.tls.clone();
    } else {
        if sub.load_balancer.is_some() {
            base.load_balancer = sub.load_balancer.clone();
        }
        if sub.connection_pool.is_some() {
            base.connection_pool = sub.connection_pool.clone();
        }
        if sub.outlier_detection.is_some() {
            base.outlier_detection = sub.outlier_detection.clone();
        }
        if sub.tls.is_some() {
            base.tls = sub.tls.clone();
        }
    }
    if sub.tunnel.is_some() {
        base.tunnel = sub.tunnel.clone();
    }
    if sub.proxy_protocol.is_some() {
        base.proxy_protocol = sub.proxy_protocol.clone();
    }
    if sub.retry_budget.is_some() {
        base.retry_budget = sub.retry_budget.clone();
    }
    base
}

fn lb(s: Option<&LoadBalancerSettings>) -> LoadBalancer {
    let Some(s) = s else {
        return LoadBalancer::LeastRequest;
    };
    if let Some(ch) = &s.consistent_hash {
        let key = if let Some(h) = &ch.http_header_name {
            HashKey::Header(h.to_ascii_lowercase())
        } else if let Some(c) = &ch.http_cookie {
            HashKey::Cookie {
                name: c.name.clone(),
                path: c.path.clone(),
                ttl: c.ttl,
            }
        } else if ch.use_source_ip == Some(true) {
            HashKey::SourceIp
        } else if let Some(q) = &ch.http_query_parameter_name {
            HashKey::QueryParameter(q.clone())
        } else {
            HashKey::SourceIp
        };
        let algorithm = match (&ch.maglev, &ch.ring_hash) {
            (Some(m), _) => HashAlgorithm::Maglev {
                table_size: m.table_size.filter(|t| *t > 0).unwrap_or(65_537),
            },
            (None, r) => HashAlgorithm::RingHash {
                minimum_ring_size: r
                    .as_ref()
                    .and_then(|r| r.minimum_ring_size)
                    .or(ch.minimum_ring_size)
                    .filter(|m| *m > 0)
                    .unwrap_or(1024),
            },
        };
        return LoadBalancer::ConsistentHash(HashPolicy { key, algorithm });
    }
    match s.simple {
        Some(SimpleLb::RoundRobin) => LoadBalancer::RoundRobin,
        Some(SimpleLb::Random) => LoadBalancer::Random,
        Some(SimpleLb::Passthrough) => LoadBalancer::Passthrough,
        Some(SimpleLb::LeastRequest | SimpleLb::LeastConn | SimpleLb::Unspecified) | None => {
            LoadBalancer::LeastRequest
        }
    }
}

/// Zero means unset in Istio's integer fields.
fn limit(v: Option<i64>) -> u32 {
    v.filter(|v| *v > 0)
        .map_or(UNLIMITED, |v| u32::try_from(v).unwrap_or(UNLIMITED))
}

fn pool(c: Option<&ConnectionPoolSettings>) -> PoolSettings {
    let tcp = c.and_then(|c| c.tcp.as_ref());
    let http = c.and_then(|c| c.http.as_ref());
    PoolSettings {
        max_connections: limit(tcp.and_then(|t| t.max_connections)),
        connect_timeout: tcp
            .and_then(|t| t.connect_timeout)
            .unwrap_or(Duration::from_secs(10)),
        http1_max_pending_requests: limit(http.and_then(|h| h.http1_max_pending_requests)),
        http2_max_requests: limit(http.and_then(|h| h.http2_max_requests)),
        max_requests_per_connection: http
            .and_then(|h| h.max_requests_per_connection)
            .filter(|v| *v > 0)
            .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)),
        max_retries: limit(http.and_then(|h| h.max_retries)),
        idle_timeout: http
            .and_then(|h| h.idle_timeout)
            .or(tcp.and_then(|t| t.idle_timeout))
            .unwrap_or(Duration::from_secs(3600)),
        h2_upgrade: http.and_then(|h| h.h2_upgrade_policy) == Some(H2UpgradePolicy::Upgrade),
        use_client_protocol: http.and_then(|h| h.use_client_protocol).unwrap_or(false),
    }
}

/// Istio -> Envoy outlier translation with Envoy's defaults for unset fields.
fn outlier(o: &OutlierDetection) -> OutlierSettings {
    let base = o
        .base_ejection_time
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(30));
    let pct = |v: Option<i64>, default: u32| {
        v.filter(|v| *v > 0)
            .map_or(default, |v| u32::try_from(v.min(100)).unwrap_or(default))
    };
    OutlierSettings {
        consecutive_5xx: o.consecutive_5xx_errors.unwrap_or(5),
        consecutive_gateway_errors: o.consecutive_gateway_errors.unwrap_or(0),
        consecutive_local_origin_failures: o.consecutive_local_origin_failures.unwrap_or(5),
        split_external_local_origin_errors: o.split_external_local_origin_errors.unwrap_or(false),
        interval: o
            .interval
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(10)),
        base_ejection_time: base,
        max_ejection_time: base.max(Duration::from_secs(300)),
        max_ejection_percent: pct(o.max_ejection_percent, 10),
        min_health_percent: o
            .min_health_percent
            .filter(|v| *v > 0)
            .map_or(0, |v| u32::try_from(v.min(100)).unwrap_or(0)),
    }
}
