//! Weighted splits: SMI TrafficSplit (semantics.md §2.2, per version) and the ServiceProfile
//! `dstOverrides` linkerd-smi writes from it (§2.3).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::path::FieldPath;
use crate::resource::{Quantity, Resource, TrafficSplitBackend, TrafficSplitSpec, WeightedDst};
use crate::validate::Report;
use crate::validate::common::is_dns1123_subdomain;

use super::present;

/// The API group of `HTTPRouteGroup`, what `matches` refers to.
const SPECS_GROUP: &str = "specs.smi-spec.io";

/// Validates a TrafficSplit spec.
pub fn validate(spec: &TrafficSplitSpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    let version = res.version();
    service_name(r, &path.key("service"), "service", &spec.service);
    if spec.backends.is_empty() {
        r.error(
            &path.key("backends"),
            "backends must have at least one entry",
        );
    }
    let whole = version != "v1alpha1";
    for (i, b) in spec.backends.iter().enumerate() {
        backend(r, &path.key("backends").index(i), b, version, whole);
    }
    duplicates(r, spec, &path.key("backends"));
    zero_total(r, spec, &path.key("backends"));
    matches(r, spec, res, version, &path.key("matches"));
}

/// SMI: `service` (apex or backend) names a Service: a DNS-1123 label, or a subdomain (FQDN).
fn service_name(r: &mut Report, path: &FieldPath, what: &str, name: &str) {
    if name.is_empty() {
        r.error(path, format!("{what} is required"));
    } else if !is_dns1123_subdomain(name) {
        r.error(
            path,
            format!(
                "{what} {name:?} is not a valid Service name (a DNS-1123 label such as web-v2, \
                 or an FQDN)"
            ),
        );
    }
}

/// One backend: a service and a weight; from v1alpha2 on the weight is an integer.
fn backend(r: &mut Report, path: &FieldPath, b: &TrafficSplitBackend, version: &str, whole: bool) {
    service_name(r, &path.key("service"), "backend service", &b.service);
    match &b.weight {
        None => r.error(&path.key("weight"), "weight is required"),
        Some(w) if whole && !is_whole(w) => r.error(
            &path.key("weight"),
            format!(
                "weights must be whole numbers in split.smi-spec.io/{version}, got {w} \
                 (Quantity weights like 500m are v1alpha1 only)"
            ),
        ),
        Some(_) => {}
    }
}

/// An integer written as digits only (`1k` and `1.0` are Quantities, not integers).
fn is_whole(w: &Quantity) -> bool {
    w.milli().is_multiple_of(1000) && w.as_str().bytes().all(|b| b.is_ascii_digit())
}

/// A backend listed twice gets the sum of its weights; almost always a copy-paste slip.
fn duplicates(r: &mut Report, spec: &TrafficSplitSpec, path: &FieldPath) {
    let mut seen = BTreeSet::new();
    for (i, b) in spec.backends.iter().enumerate() {
        if !b.service.is_empty() && !seen.insert(b.service.as_str()) {
            r.warn(
                &path.index(i).key("service"),
                format!("backend {:?} is listed more than once", b.service),
            );
        }
    }
}

/// §2.3.3–§2.3.4: Linkerd drops zero-weight backends; when all are 0 it routes to the apex.
fn zero_total(r: &mut Report, spec: &TrafficSplitSpec, path: &FieldPath) {
    let all_zero = !spec.backends.is_empty()
        && spec
            .backends
            .iter()
            .all(|b| b.weight.as_ref().is_some_and(|w| w.milli() == 0));
    if all_zero {
        r.warn(
            path,
            format!(
                "every backend weight is 0: Linkerd drops zero-weight backends and routes all \
                 traffic to the apex service {:?}",
                spec.service
            ),
        );
    }
}

/// §2.2: `matches` exists from v1alpha3 on and names `HTTPRouteGroup`s.
fn matches(
    r: &mut Report,
    spec: &TrafficSplitSpec,
    res: &Resource,
    version: &str,
    path: &FieldPath,
) {
    if matches!(version, "v1alpha1" | "v1alpha2") {
        if present(res, path) {
            r.error(
                path,
                format!(
                    "matches is not a field of split.smi-spec.io/{version}; it was added in \
                     v1alpha3"
                ),
            );
        }
        return;
    }
    for (i, m) in spec.matches.iter().enumerate() {
        let at = path.index(i);
        if m.kind != "HTTPRouteGroup" {
            r.error(
                &at.key("kind"),
                format!("matches kind must be HTTPRouteGroup, not {:?}", m.kind),
            );
        }
        if m.name.is_empty() {
            r.error(&at.key("name"), "matches name is required");
        }
        if let Some(g) = m.api_group.as_deref().filter(|g| *g != SPECS_GROUP) {
            r.error(
                &at.key("apiGroup"),
                format!("matches apiGroup must be {SPECS_GROUP}, not {g:?}"),
            );
        }
    }
}

/// §2.3: each override has an authority (`host[:port]`) and a weight; when every weight is 0
/// the proxy drops them all and routes to the apex service.
pub fn dst_overrides(dsts: &[WeightedDst], path: &FieldPath, r: &mut Report) {
    for (i, d) in dsts.iter().enumerate() {
        let at = path.index(i);
        if d.authority.is_empty() {
            r.error(&at.key("authority"), "authority is required (host[:port])");
        } else if let Err(msg) = check_authority(&d.authority) {
            r.error(&at.key("authority"), msg);
        }
        if d.weight.is_none() {
            r.error(&at.key("weight"), "weight is required");
        }
    }
    let weights: Option<Vec<u64>> = dsts
        .iter()
        .map(|d| d.weight.as_ref().map(|w| w.milli()))
        .collect();
    if weights.is_some_and(|w| !w.is_empty() && w.iter().all(|m| *m == 0)) {
        r.warn(
            path,
            "every dstOverrides weight is 0: linkerd2-proxy drops zero-weight overrides and \
             routes all traffic to the service itself",
        );
    }
}

/// `host[:port]`: a DNS name or an IP address (IPv6 in brackets), and a port in `1..=65535`.
pub(super) fn check_authority(a: &str) -> Result<(), String> {
    let bad =
        || format!("authority {a:?} must be host[:port], such as web-v2.ns.svc.cluster.local:8080");
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or_else(bad)?),
        };
        h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        (None, port)
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(a), None),
        }
    };
    if let Some(h) = host {
        let h = h.strip_suffix('.').unwrap_or(h);
        if h.parse::<IpAddr>().is_err() && !is_dns1123_subdomain(h) {
            return Err(bad());
        }
    }
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n != 0)
    });
    if port_ok { Ok(()) } else { Err(bad()) }
}
