//! TLS and TCP rules (Istio `validateTLSRoute`, `validateTLSMatch`, `validateSniHost`,
//! `validateTCPRoute`, `validateTCPMatch`; spec §1.10).

use std::net::IpAddr;

use crate::path::FieldPath;
use crate::resource::{L4MatchAttributes, TcpRoute, TlsMatchAttributes, TlsRoute};
use crate::validate::Report;
use crate::validate::common::check_wildcard_host;

use super::destination::l4_destinations;
use super::matches::{Selectors, selectors};
use super::names::{check_subnet, is_subset};

/// One `tls[]` rule: at least one match, each with SNI hosts within the VS hosts; a route.
pub(super) fn tls_route(r: &mut Report, path: &FieldPath, rule: &TlsRoute, hosts: &[String]) {
    if rule.matches.is_empty() {
        r.error(
            path,
            "TLS route must have at least one match condition (with sniHosts)",
        );
    }
    for (i, m) in rule.matches.iter().enumerate() {
        tls_match(r, &path.key("match").index(i), m, hosts);
    }
    if rule.route.is_empty() {
        r.error(
            path,
            "TLS route is required: add at least one route destination",
        );
    }
    l4_destinations(r, &path.key("route"), &rule.route);
}

fn tls_match(r: &mut Report, path: &FieldPath, m: &TlsMatchAttributes, hosts: &[String]) {
    if m.sni_hosts.is_empty() {
        r.error(path, "TLS match must have at least one SNI host (sniHosts)");
    }
    for (i, sni) in m.sni_hosts.iter().enumerate() {
        sni_host(r, &path.key("sniHosts").index(i), sni, hosts);
    }
    subnets(r, &path.key("destinationSubnets"), &m.destination_subnets);
    selectors(
        r,
        path,
        Selectors {
            port: m.port,
            source_labels: &m.source_labels,
            gateways: &m.gateways,
            source_namespace: m.source_namespace.as_deref(),
        },
    );
}

/// Istio `validateSniHost`: a (wildcard) domain covered by one of the VS hosts; an IP address
/// is accepted with a warning.
fn sni_host(r: &mut Report, path: &FieldPath, sni: &str, hosts: &[String]) {
    if sni.parse::<IpAddr>().is_ok() {
        r.warn(
            path,
            format!(
                "using an IP address ({sni:?}) goes against the SNI spec and most clients do \
                 not support this"
            ),
        );
        return;
    }
    if let Err(msg) = check_wildcard_host(sni) {
        r.error(path, msg);
        return;
    }
    if !hosts.iter().any(|h| is_subset(sni, h)) {
        r.error(
            path,
            format!(
                "SNI host {sni:?} is not a compatible subset of any of the virtual service \
                 hosts: [{}]",
                hosts.join(", ")
            ),
        );
    }
}

/// One `tcp[]` rule: valid matches and a route.
pub(super) fn tcp_route(r: &mut Report, path: &FieldPath, rule: &TcpRoute) {
    for (i, m) in rule.matches.iter().enumerate() {
        tcp_match(r, &path.key("match").index(i), m);
    }
    if rule.route.is_empty() {
        r.error(
            path,
            "TCP route is required: add at least one route destination",
        );
    }
    l4_destinations(r, &path.key("route"), &rule.route);
}

fn tcp_match(r: &mut Report, path: &FieldPath, m: &L4MatchAttributes) {
    subnets(r, &path.key("destinationSubnets"), &m.destination_subnets);
    if let Some(s) = m.source_subnet.as_deref().filter(|s| !s.is_empty())
        && let Err(msg) = check_subnet(s)
    {
        r.error(&path.key("sourceSubnet"), msg);
    }
    selectors(
        r,
        path,
        Selectors {
            port: m.port,
            source_labels: &m.source_labels,
            gateways: &m.gateways,
            source_namespace: m.source_namespace.as_deref(),
        },
    );
}

/// Istio `ValidateIPSubnet` on each entry.
fn subnets(r: &mut Report, path: &FieldPath, list: &[String]) {
    for (i, s) in list.iter().enumerate() {
        if let Err(msg) = check_subnet(s) {
            r.error(&path.index(i), msg);
        }
    }
}
