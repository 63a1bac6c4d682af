//! Gateway rules (Istio `validateGateway`, `validateServer`; spec §8).

pub(super) mod protocol;
mod tls;

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::resource::{GatewaySpec, Port, Resource, Server, ServerTlsMode, ServerTlsSettings};

use self::protocol::{Protocol, SUPPORTED};
use super::Report;
use super::common::{check_wildcard_host, is_dns1123_label, is_dns1123_subdomain};
use super::service_entry::labels::check_labels;
use super::service_entry::net::{UNIX_PREFIX, check_port, check_unix_path, parse_ip};

/// Validates a Gateway spec.
pub fn validate(spec: &GatewaySpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    name(r, res);
    check_labels(r, &path.key("selector"), &spec.selector);
    let servers = path.key("servers");
    if spec.servers.is_empty() {
        r.error(
            &servers,
            "a Gateway needs at least one server ({port, hosts})",
        );
    }
    for (i, s) in spec.servers.iter().enumerate() {
        server(r, &servers.index(i), s);
    }
    unique_port_names(r, &servers, &spec.servers);
    one_protocol_per_port(r, &servers, &spec.servers);
}

/// Istio: a Gateway name is a DNS-1123 label (no dots). Names that are not even subdomains are
/// reported by the metadata rules.
fn name(r: &mut Report, res: &Resource) {
    let name = res.name();
    if is_dns1123_subdomain(name) && !is_dns1123_label(name) {
        r.error(
            &FieldPath::root().key("metadata").key("name"),
            format!(
                "Gateway name {name:?} must be a DNS-1123 label (no dots): VirtualServices \
                 reference it as <namespace>/<name>"
            ),
        );
    }
}

/// Istio `validateServer`: hosts, port, bind, TLS options, and TLS presence by protocol.
fn server(r: &mut Report, path: &FieldPath, s: &Server) {
    let hosts = path.key("hosts");
    if s.hosts.is_empty() {
        r.error(
            &hosts,
            "a server needs at least one host (e.g. myapp.example.com, ns/*.example.com or *)",
        );
    }
    for (i, h) in s.hosts.iter().enumerate() {
        if let Err(e) = check_server_host(h) {
            r.error(&hosts.index(i), e);
        }
    }
    let bind = s.bind.as_deref().unwrap_or("");
    let proto = match &s.port {
        Some(p) => port(r, &path.key("port"), p, bind),
        None => {
            r.error(
                &path.key("port"),
                "port is required ({number, protocol, name})",
            );
            None
        }
    };
    check_bind(r, path, s.port.as_ref(), bind);
    if let Some(t) = &s.tls {
        tls::check_server_tls(r, &path.key("tls"), t);
    }
    if let Some(p) = proto {
        tls_for_protocol(r, path, p, s.tls.as_ref());
    }
}

/// Istio `ValidateNamespaceSlashWildcardHostname` for gateways: `[namespace/]dnsName`, the
/// namespace `*`, `.` or a namespace name; the dnsName `*`, a wildcard host or an IP, never a
/// short name.
fn check_server_host(host: &str) -> Result<(), String> {
    let dns = match host.split_once('/') {
        None => host,
        Some((ns, dns)) => {
            if ns.is_empty() || dns.is_empty() {
                return Err(format!(
                    "host {host:?}: namespace and host name must both be non-empty in \
                     namespace/host"
                ));
            }
            if ns != "*" && ns != "." && !is_dns1123_label(ns) {
                return Err(format!(
                    "host {host:?}: namespace {ns:?} must be \"*\", \".\" or a namespace name"
                ));
            }
            dns
        }
    };
    if dns != "*" && !dns.contains('.') {
        return Err(format!(
            "host {host:?}: short names are not allowed on a Gateway; use a fully qualified \
             name (myapp.example.com), a wildcard (*.example.com) or *"
        ));
    }
    match check_wildcard_host(dns) {
        Err(e) if parse_ip(dns).is_none() => Err(e),
        _ => Ok(()),
    }
}

/// Istio `validateServerPort`: a known protocol, a number in 1..=65535 (0 only with a unix
/// bind), a name, and no `targetPort`. Returns the protocol when it is known.
fn port(r: &mut Report, path: &FieldPath, p: &Port, bind: &str) -> Option<Protocol> {
    let proto = Protocol::parse(&p.protocol);
    if proto.is_none() {
        let msg = if p.protocol.is_empty() {
            format!("port protocol is required: one of {SUPPORTED}")
        } else {
            format!(
                "unsupported protocol {:?}; use one of {SUPPORTED}",
                p.protocol
            )
        };
        r.error(&path.key("protocol"), msg);
    }
    if (p.number > 0 || !bind.starts_with(UNIX_PREFIX))
        && let Err(e) = check_port(p.number)
    {
        r.error(&path.key("number"), e);
    }
    if p.target_port.is_some_and(|t| t > 0) {
        r.error(
            &path.key("targetPort"),
            "targetPort has no effect on a Gateway; remove it",
        );
    }
    if p.name.is_empty() {
        r.error(&path.key("name"), "port name is required (e.g. https-443)");
    }
    proto
}

/// Istio `validateServerBind`: an IP address, or `unix://<absolute path>` with port number 0.
fn check_bind(r: &mut Report, path: &FieldPath, port: Option<&Port>, bind: &str) {
    let at = path.key("bind");
    if let Some(socket) = bind.strip_prefix(UNIX_PREFIX) {
        if let Err(e) = check_unix_path(socket) {
            r.error(&at, e);
        }
        if let Some(n) = port.map(|p| p.number).filter(|n| *n != 0) {
            r.error(
                &path.key("port").key("number"),
                format!("port number must be 0 with a unix domain socket bind, got {n}"),
            );
        }
    } else if !bind.is_empty() && parse_ip(bind).is_none() {
        r.error(
            &at,
            format!("bind {bind:?} is not an IP address or a unix:// socket path"),
        );
    }
}

/// Istio `validateServer` (spec §8.2): HTTPS and TLS servers need `tls`; plain HTTP servers may
/// carry `tls` only for `httpsRedirect` (no mode, no certificates); other protocols none;
/// `httpsRedirect` belongs on HTTP servers; AUTO_PASSTHROUGH needs protocol TLS.
fn tls_for_protocol(
    r: &mut Report,
    path: &FieldPath,
    p: Protocol,
    tls: Option<&ServerTlsSettings>,
) {
    let at = path.key("tls");
    let Some(t) = tls else {
        if p.is_tls() {
            r.error(
                &path.key("port").key("protocol"),
                format!("a server with protocol {p} needs tls settings (mode and certificate)"),
            );
        }
        return;
    };
    let passthrough = matches!(
        t.mode,
        None | Some(ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough)
    );
    if p.is_http() && (!passthrough || tls::has_material(t)) {
        r.error(
            &at,
            format!(
                "a plain-text {p} server can only carry tls.httpsRedirect; terminate TLS on an \
                 HTTPS server instead"
            ),
        );
    } else if !p.is_http() && !p.is_tls() {
        r.error(
            &at,
            format!("a server with protocol {p} cannot have tls settings; use HTTPS or TLS"),
        );
    }
    if t.https_redirect == Some(true) && !p.is_http() {
        r.warn(
            &at.key("httpsRedirect"),
            format!("httpsRedirect only has an effect on HTTP servers, not {p}"),
        );
    }
    if t.mode == Some(ServerTlsMode::AutoPassthrough) && p != Protocol::Tls {
        r.error(
            &at.key("mode"),
            format!("AUTO_PASSTHROUGH needs port protocol TLS, not {p}"),
        );
    }
}

/// Istio: port names are unique within a Gateway.
fn unique_port_names(r: &mut Report, path: &FieldPath, servers: &[Server]) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in servers.iter().enumerate() {
        let Some(name) = s.port.as_ref().map(|p| p.name.as_str()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(name, i) {
            r.error(
                &path.index(i).key("port").key("name"),
                format!(
                    "duplicate port name {name:?} (also servers[{first}]); port names must be \
                     unique within a Gateway"
                ),
            );
        }
    }
}

/// Istio gateway merging: servers on one port (and bind) must agree on the protocol family:
/// HTTP-like protocols share a listener, HTTPS and TLS share one by SNI, anything else must be
/// identical.
fn one_protocol_per_port(r: &mut Report, path: &FieldPath, servers: &[Server]) {
    let mut seen: BTreeMap<(&str, u32), (Protocol, usize)> = BTreeMap::new();
    for (i, s) in servers.iter().enumerate() {
        let Some(port) = &s.port else { continue };
        let Some(proto) = Protocol::parse(&port.protocol) else {
            continue;
        };
        let key = (s.bind.as_deref().unwrap_or(""), port.number);
        match seen.get(&key) {
            Some((first, j)) if family(*first) != family(proto) => r.error(
                &path.index(i).key("port").key("protocol"),
                format!(
                    "port {} is already served as {first} by servers[{j}]; servers sharing a \
                     port must use compatible protocols",
                    port.number
                ),
            ),
            Some(_) => {}
            None => {
                seen.insert(key, (proto, i));
            }
        }
    }
}

/// The listener a protocol needs: HTTP-like ones merge, HTTPS and TLS merge by SNI.
fn family(p: Protocol) -> &'static str {
    if p.is_http() {
        "http"
    } else if p.is_tls() {
        "tls"
    } else {
        p.name()
    }
}

#[cfg(test)]
mod tests;
