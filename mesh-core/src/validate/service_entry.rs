//! ServiceEntry and WorkloadEntry rules (Istio `ValidateServiceEntry`, `ValidateWorkloadEntry`).

mod endpoint;
// Shared with the DestinationRule and Gateway rules (candidates for `common` once other kinds
// need them too).
pub(super) mod export;
pub(super) mod labels;
pub(super) mod net;

use std::collections::{BTreeMap, BTreeSet};

use crate::path::FieldPath;
use crate::resource::{Resolution, Resource, ServiceEntrySpec, ServicePort, WorkloadEntrySpec};

use self::endpoint::{Addresses, check_endpoint};
use self::export::{Owner, check_export_to};
use self::net::{check_fqdn, check_ip_or_cidr, check_port};
use super::Report;
use super::common::{check_wildcard_host, dns1123_label};
use super::gateway::protocol::{Protocol, SUPPORTED};

/// Validates a ServiceEntry spec.
pub fn validate_service_entry(
    spec: &ServiceEntrySpec,
    res: &Resource,
    path: &FieldPath,
    r: &mut Report,
) {
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    hosts(r, &path.key("hosts"), &spec.hosts);
    addresses(r, &path.key("addresses"), &spec.addresses, resolution);
    let names = ports(r, &path.key("ports"), spec, resolution);
    selector(r, path, spec);
    endpoints(r, path, spec, resolution, &names);
    multiple_hosts(r, path, spec, resolution);
    check_export_to(
        r,
        &path.key("exportTo"),
        res.namespace(),
        &spec.export_to,
        Owner::ServiceEntry,
    );
}

/// Validates a WorkloadEntry spec (its ports are not checked against any service).
pub fn validate_workload_entry(spec: &WorkloadEntrySpec, path: &FieldPath, r: &mut Report) {
    check_endpoint(r, path, spec, Addresses::Any, None);
}

/// Istio: at least one host; each a host name or `*.suffix` wildcard; `*` alone is not allowed.
fn hosts(r: &mut Report, path: &FieldPath, hosts: &[String]) {
    if hosts.is_empty() {
        r.error(
            path,
            "a ServiceEntry needs at least one host (e.g. api.example.com)",
        );
    }
    for (i, h) in hosts.iter().enumerate() {
        let at = path.index(i);
        if h == "*" {
            r.error(
                &at,
                "host \"*\" is not allowed in a ServiceEntry; name the hosts (*.example.com \
                 for a domain)",
            );
        } else if let Err(e) = check_wildcard_host(h) {
            r.error(&at, e);
        }
    }
}

/// Istio: `addresses` are IPs or CIDR blocks; CIDRs only with resolution NONE or STATIC.
fn addresses(r: &mut Report, path: &FieldPath, addrs: &[String], resolution: Resolution) {
    for (i, a) in addrs.iter().enumerate() {
        let at = path.index(i);
        if let Err(e) = check_ip_or_cidr(a) {
            r.error(&at, e);
        } else if a.contains('/') && !matches!(resolution, Resolution::None | Resolution::Static) {
            r.error(
                &at,
                format!(
                    "CIDR address {a:?} is only allowed with resolution NONE or STATIC, not {}",
                    resolution_name(resolution)
                ),
            );
        }
    }
}

/// Istio: at least one port (mesh: an entry without ports matches no traffic); numbers and
/// names unique; numbers and target ports in 1..=65535; names DNS-1123 labels; protocols known.
/// Returns the declared port names.
fn ports<'a>(
    r: &mut Report,
    path: &FieldPath,
    spec: &'a ServiceEntrySpec,
    resolution: Resolution,
) -> BTreeSet<&'a str> {
    if spec.ports.is_empty() {
        r.error(
            path,
            "a ServiceEntry needs at least one port ({number, name, protocol})",
        );
    }
    let mut names = BTreeSet::new();
    let mut numbers: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let at = path.index(i);
        if let Err(e) = check_port(p.number) {
            r.error(&at.key("number"), e);
        } else if let Some(first) = numbers.insert(p.number, i) {
            r.error(
                &at.key("number"),
                format!("port {} is already defined by ports[{first}]", p.number),
            );
        }
        port_name(r, &at.key("name"), p, &mut names);
        if let Some(proto) = p.protocol.as_deref().filter(|s| !s.is_empty())
            && Protocol::parse(proto).is_none()
        {
            r.error(
                &at.key("protocol"),
                format!("unsupported protocol {proto:?}; use one of {SUPPORTED}"),
            );
        }
        target_port(r, &at.key("targetPort"), p, resolution);
    }
    names
}

/// Istio `ValidatePortName`, and names unique within the entry.
fn port_name<'a>(
    r: &mut Report,
    path: &FieldPath,
    p: &'a ServicePort,
    names: &mut BTreeSet<&'a str>,
) {
    if p.name.is_empty() {
        r.error(path, "port name is required (e.g. http or tcp-db)");
    } else if !names.insert(p.name.as_str()) {
        r.error(path, format!("port name {:?} is already defined", p.name));
    } else {
        dns1123_label(r, path, "port name", &p.name);
    }
}

/// Istio: `targetPort` (when set) is a port number; it has no effect with resolution NONE.
fn target_port(r: &mut Report, path: &FieldPath, p: &ServicePort, resolution: Resolution) {
    let Some(tp) = p.target_port.filter(|tp| *tp != 0) else {
        return;
    };
    if let Err(e) = check_port(tp) {
        r.error(path, e);
    } else if resolution == Resolution::None {
        r.warn(
            path,
            "targetPort has no effect with resolution NONE (traffic keeps its original port)",
        );
    }
}

/// Istio: `endpoints` and `workloadSelector` are exclusive; the selector follows the workload
/// selector rules and is pointless with resolution NONE or DNS.
fn selector(r: &mut Report, path: &FieldPath, spec: &ServiceEntrySpec) {
    let Some(sel) = &spec.workload_selector else {
        return;
    };
    let at = path.key("workloadSelector");
    labels::check_selector(r, &at.key("labels"), &sel.labels);
    if !spec.endpoints.is_empty() {
        r.error(
            &at,
            "set only one of workloadSelector or endpoints in a ServiceEntry",
        );
    }
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    if resolution != Resolution::Static {
        r.warn(
            &at,
            format!(
                "workloadSelector has no effect with resolution {}; use STATIC",
                resolution_name(resolution)
            ),
        );
    }
}

/// Istio, per resolution: NONE takes no endpoints; STATIC endpoints are IPs or unix sockets;
/// DNS endpoints are IPs or names (and without endpoints the hosts themselves are resolved, so
/// they must be FQDNs); DNS_ROUND_ROBIN takes at most one endpoint.
fn endpoints(
    r: &mut Report,
    path: &FieldPath,
    spec: &ServiceEntrySpec,
    resolution: Resolution,
    names: &BTreeSet<&str>,
) {
    let at = path.key("endpoints");
    let accept = match resolution {
        Resolution::None => {
            if !spec.endpoints.is_empty() {
                r.error(
                    &at,
                    "resolution NONE takes no endpoints (traffic goes to its original \
                     destination); use STATIC or DNS",
                );
            }
            return;
        }
        Resolution::Static => {
            if spec.endpoints.is_empty() && spec.workload_selector.is_none() {
                r.warn(
                    &at,
                    "resolution STATIC without endpoints or workloadSelector: the service has \
                     no endpoints",
                );
            }
            Addresses::Static
        }
        Resolution::Dns | Resolution::DnsRoundRobin => {
            dns_hosts(r, path, spec, resolution);
            Addresses::Dns
        }
    };
    for (i, e) in spec.endpoints.iter().enumerate() {
        check_endpoint(r, &at.index(i), e, accept, Some(names));
    }
}

/// Istio: DNS resolution of the hosts themselves (no endpoints) needs FQDN hosts;
/// DNS_ROUND_ROBIN takes at most one endpoint.
fn dns_hosts(r: &mut Report, path: &FieldPath, spec: &ServiceEntrySpec, resolution: Resolution) {
    let name = resolution_name(resolution);
    if spec.endpoints.is_empty() {
        for (i, h) in spec.hosts.iter().enumerate() {
            // Invalid hosts are reported by the host rule already.
            if h == "*" || check_wildcard_host(h).is_err() {
                continue;
            }
            let why = if h.starts_with("*.") {
                Err("a wildcard host cannot be resolved".to_owned())
            } else {
                check_fqdn(h)
            };
            if let Err(why) = why {
                r.error(
                    &path.key("hosts").index(i),
                    format!(
                        "host {h:?}: resolution {name} without endpoints resolves the hosts \
                         themselves, so they must be fully qualified names ({why})"
                    ),
                );
            }
        }
    }
    if resolution == Resolution::DnsRoundRobin && spec.endpoints.len() > 1 {
        r.error(
            &path.key("endpoints"),
            format!(
                "resolution {name} takes at most one endpoint, found {}",
                spec.endpoints.len()
            ),
        );
    }
}

/// Istio: several hosts on a plain TCP port cannot be told apart (no Host header, no SNI),
/// unless resolution is NONE (hosts are ignored then).
fn multiple_hosts(r: &mut Report, path: &FieldPath, spec: &ServiceEntrySpec, res: Resolution) {
    if res == Resolution::None || spec.hosts.len() < 2 {
        return;
    }
    let opaque = spec.ports.iter().enumerate().find(|(_, p)| {
        let proto = p.protocol.as_deref().and_then(Protocol::parse);
        !proto.is_some_and(|p| p.is_http() || p.is_tls())
    });
    if let Some((i, p)) = opaque {
        r.error(
            &path.key("ports").index(i),
            format!(
                "{} hosts share port {} whose protocol {} is neither HTTP nor TLS, so the proxy \
                 cannot tell them apart; use one host per ServiceEntry, an HTTP or TLS protocol, \
                 or resolution NONE",
                spec.hosts.len(),
                p.number,
                p.protocol.as_deref().unwrap_or("(unset)"),
            ),
        );
    }
}

/// The enum name as written in YAML.
const fn resolution_name(r: Resolution) -> &'static str {
    match r {
        Resolution::None => "NONE",
        Resolution::Static => "STATIC",
        Resolution::Dns => "DNS",
        Resolution::DnsRoundRobin => "DNS_ROUND_ROBIN",
    }
}

#[cfg(test)]
mod tests;
