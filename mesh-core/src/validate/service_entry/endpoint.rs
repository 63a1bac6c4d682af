//! A workload's address, ports and identity: a WorkloadEntry, or an inline ServiceEntry
//! endpoint (Istio `validateWorkloadEntry`).

use std::collections::BTreeSet;

use crate::path::FieldPath;
use crate::resource::WorkloadEntrySpec;
use crate::validate::Report;
use crate::validate::common::{dns1123_label, is_dns1123_subdomain};

use super::labels::check_labels;
use super::net::{UNIX_PREFIX, check_fqdn, check_port, check_unix_path, parse_ip};

/// Which addresses are acceptable where the endpoint is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Addresses {
    /// A WorkloadEntry: an IP, an FQDN or a `unix://` path.
    Any,
    /// A `STATIC` ServiceEntry endpoint: an IP or a `unix://` path.
    Static,
    /// A `DNS`/`DNS_ROUND_ROBIN` ServiceEntry endpoint: an IP or an FQDN to resolve.
    Dns,
}

/// Validates one endpoint; `service_ports` holds the names of the ServiceEntry's ports (none
/// for a standalone WorkloadEntry, whose ports are not checked against a service).
pub(super) fn check_endpoint(
    r: &mut Report,
    path: &FieldPath,
    we: &WorkloadEntrySpec,
    accept: Addresses,
    service_ports: Option<&BTreeSet<&str>>,
) {
    address(r, path, we, accept, service_ports);
    ports(r, &path.key("ports"), we, service_ports);
    check_labels(r, &path.key("labels"), &we.labels);
    if let Some(loc) = we.locality.as_deref() {
        locality(r, &path.key("locality"), loc);
    }
    // Kubernetes: a service account name is a DNS-1123 subdomain.
    if let Some(sa) = we
        .service_account
        .as_deref()
        .filter(|sa| !is_dns1123_subdomain(sa))
    {
        r.error(
            &path.key("serviceAccount"),
            format!(
                "serviceAccount {sa:?} is not a valid service account name (a DNS-1123 \
                 subdomain: lower-case letters, digits, '-' and '.')"
            ),
        );
    }
}

/// Istio: `address` is required unless `network` says the workload is reached through that
/// network's gateway; then it is an IP, an FQDN (not for STATIC) or a `unix://` path (not for
/// DNS) without ports.
fn address(
    r: &mut Report,
    path: &FieldPath,
    we: &WorkloadEntrySpec,
    accept: Addresses,
    service_ports: Option<&BTreeSet<&str>>,
) {
    let at = path.key("address");
    let addr = we.address.as_deref().unwrap_or("");
    if addr.is_empty() {
        match we.network.as_deref().filter(|n| !n.is_empty()) {
            None => r.error(
                &at,
                "address is required (an IP address, a host name or a unix:// path)",
            ),
            Some(net) => r.warn(
                &at,
                format!(
                    "address is unset: the workload is reached through the gateway of \
                     network {net:?}"
                ),
            ),
        }
        return;
    }
    if let Some(socket) = addr.strip_prefix(UNIX_PREFIX) {
        unix_address(r, path, we, addr, socket, accept, service_ports);
    } else if parse_ip(addr).is_some() {
        // An IP is valid everywhere.
    } else if accept == Addresses::Static {
        r.error(
            &at,
            format!(
                "address {addr:?} is not an IP address; resolution STATIC needs IP addresses \
                 (use resolution DNS for host names)"
            ),
        );
    } else if let Err(e) = check_fqdn(addr) {
        r.error(
            &at,
            format!("address {addr:?} is not a valid IP address or host name: {e}"),
        );
    }
}

/// Istio: a `unix://` endpoint names an absolute socket path, carries no ports, and its
/// ServiceEntry has exactly one port.
fn unix_address(
    r: &mut Report,
    path: &FieldPath,
    we: &WorkloadEntrySpec,
    addr: &str,
    socket: &str,
    accept: Addresses,
    service_ports: Option<&BTreeSet<&str>>,
) {
    let at = path.key("address");
    if accept == Addresses::Dns {
        r.error(
            &at,
            format!("address {addr:?}: unix:// endpoints need resolution STATIC, not DNS"),
        );
        return;
    }
    if let Err(e) = check_unix_path(socket) {
        r.error(&at, e);
    }
    if !we.ports.is_empty() {
        r.error(
            &path.key("ports"),
            format!("unix endpoint {addr:?} must not have ports"),
        );
    }
    if let Some(n) = service_ports.map(BTreeSet::len).filter(|n| *n != 1) {
        r.error(
            &at,
            format!("a unix endpoint needs exactly one ServiceEntry port, found {n}"),
        );
    }
}

/// Istio: endpoint port keys are port names (DNS-1123 labels) declared by the ServiceEntry;
/// values are port numbers.
fn ports(
    r: &mut Report,
    path: &FieldPath,
    we: &WorkloadEntrySpec,
    service_ports: Option<&BTreeSet<&str>>,
) {
    for (name, number) in &we.ports {
        let at = path.key(name.as_str());
        if let Some(declared) = service_ports.filter(|d| !d.contains(name.as_str())) {
            let list: Vec<&str> = declared.iter().copied().collect();
            r.error(
                &at,
                format!(
                    "endpoint port {name:?} is not a port of the ServiceEntry (declared: {})",
                    list.join(", ")
                ),
            );
        } else {
            dns1123_label(r, &at, "port name", name);
        }
        if let Err(e) = check_port(*number) {
            r.error(&at, e);
        }
    }
}

/// Istio locality: `region[/zone[/subzone]]`, no empty part.
fn locality(r: &mut Report, path: &FieldPath, loc: &str) {
    let parts: Vec<&str> = loc.split('/').collect();
    if loc.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        r.error(
            path,
            format!("locality {loc:?} must be region, region/zone or region/zone/subzone"),
        );
    }
}
