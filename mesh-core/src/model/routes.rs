//! Route configuration per proxy: which VirtualServices a sidecar or gateway listener uses
//! (spec §1.2, §1.5, §1.9), and host resolution for a request.

use std::sync::Arc;

use crate::resource::ServerTlsMode;
use crate::route::compile::{CompiledRule, CompiledVs, MESH_GATEWAY};
use crate::route::{Decision, RouteEntry, RouteRequest, RouteTable, VirtualHost, VirtualHosts};

use super::host::{HostPattern, split_authority};
use super::{GatewayEntry, Mesh, Workload};

/// How a request's host was resolved at a sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostResolution {
    /// Host without port, lower-case.
    pub host: String,
    /// The service FQDN the host stands for (a short name expanded, else the host itself).
    pub service: String,
}

// === impl Mesh ===

impl Mesh {
    /// The virtual hosts of a sidecar beside `w`: VirtualServices bound to `mesh`, visible from
    /// the workload's namespace, oldest first; each host is owned by the oldest VirtualService
    /// claiming it (no merging at sidecars). Match blocks are filtered by their config-time
    /// selectors; a VirtualService left with no route is ignored for this proxy (its hosts then
    /// get the default route, not 404).
    pub fn sidecar_routes(&self, w: &Workload) -> VirtualHosts {
        let mut vhosts = VirtualHosts::default();
        for vs in &self.virtual_services {
            if !vs.gateways.iter().any(|g| g == MESH_GATEWAY) || !visible(vs, &w.namespace) {
                continue;
            }
            let keep = |b: &crate::route::MatchBlock| {
                if b.gateways.is_empty() {
                    b.source_labels
                        .iter()
                        .all(|(k, v)| w.labels.get(k) == Some(v))
                        && b.source_namespace
                            .as_deref()
                            .is_none_or(|ns| ns == w.namespace)
                } else {
                    b.gateways.iter().any(|g| g == MESH_GATEWAY)
                }
            };
            let entries = entries_for(&vs.rules, keep);
            if entries.is_empty() {
                continue;
            }
            for h in &vs.hosts {
                vhosts.insert(VirtualHost {
                    domain: h.clone(),
                    virtual_services: vec![vs.name.clone()],
                    routes: RouteTable::new(entries.iter().cloned()),
                    https_redirect: false,
                });
            }
        }
        vhosts
    }

    /// The virtual hosts of gateway `gateway` (`ns/name`) on server port `port`; `None` when
    /// the gateway has no server on that port. VirtualServices for the same host are merged
    /// (routes concatenated oldest first, catch-all routes moved to the end), each host being
    /// the intersection of a VirtualService host and a server host.
    pub fn gateway_routes(&self, gateway: &str, port: u16) -> Option<VirtualHosts> {
        let gw = self.gateways.iter().find(|g| g.name == gateway)?;
        let servers: Vec<_> = gw
            .spec
            .servers
            .iter()
            .filter(|s| s.port.as_ref().is_some_and(|p| p.number == u32::from(port)))
            .collect();
        if servers.is_empty() {
            return None;
        }
        let selector = &gw.spec.selector;
        let mut merged: Vec<(HostPattern, Vec<String>, Vec<RouteEntry>, bool)> = Vec::new();
        for vs in &self.virtual_services {
            if !vs.gateways.iter().any(|g| g == gateway) {
                continue;
            }
            let keep = |b: &crate::route::MatchBlock| {
                if b.gateways.is_empty() {
                    b.source_labels
                        .iter()
                        .all(|(k, v)| selector.get(k) == Some(v))
                        && b.source_namespace
                            .as_deref()
                            .is_none_or(|ns| ns == gw.namespace)
                } else {
                    b.gateways.iter().any(|g| g == gateway)
                }
            };
            let entries = entries_for(&vs.rules, keep);
            if entries.is_empty() {
                continue;
            }
            for s in &servers {
                let redirect = s.tls.as_ref().and_then(|t| t.https_redirect) == Some(true);
                for sh in &s.hosts {
                    let Some(server_host) = server_host_for(gw, sh, &vs.namespace) else {
                        continue;
                    };
                    for h in &vs.hosts {
                        let Some(domain) = h.intersect(&server_host) else {
                            continue;
                        };
                        match merged.iter_mut().find(|m| m.0 == domain) {
                            Some(m) => {
                                if !m.1.contains(&vs.name) {
                                    m.1.push(vs.name.clone());
                                    m.2.extend(entries.iter().cloned());
                                }
                                m.3 |= redirect;
                            }
                            None => merged.push((
                                domain,
                                vec![vs.name.clone()],
                                entries.clone(),
                                redirect,
                            )),
                        }
                    }
                }
            }
        }
        let mut vhosts = VirtualHosts::default();
        for (domain, names, mut entries, redirect) in merged {
            // Catch-alls to the end, stable among the rest (Istio SortVHostRoutes).
            entries.sort_by_key(|e| e.match_block().is_none_or(|b| b.is_catch_all()));
            vhosts.insert(VirtualHost {
                domain,
                virtual_services: names,
                routes: RouteTable::new(entries),
                https_redirect: redirect,
            });
        }
        // An httpsRedirect server redirects its hosts even where no VirtualService binds.
        for s in &servers {
            if s.tls.as_ref().and_then(|t| t.https_redirect) != Some(true) {
                continue;
            }
            for sh in &s.hosts {
                let host = sh.split_once('/').map_or(sh.as_str(), |(_, h)| h);
                vhosts.insert(VirtualHost {
                    domain: HostPattern::new(host),
                    virtual_services: Vec::new(),
                    routes: RouteTable::default(),
                    https_redirect: true,
                });
            }
        }
        Some(vhosts)
    }

    /// Routes a request at a sidecar of a workload in `client_ns`.
    pub fn route_sidecar<'a>(
        &self,
        vhosts: &'a VirtualHosts,
        client_ns: &str,
        req: &RouteRequest<'_>,
    ) -> (Decision<'a>, HostResolution) {
        let (host, _) = split_authority(req.authority);
        let expanded = self.expand_short(&host, client_ns);
        let vhost = vhosts
            .lookup_exact(&host)
            .or_else(|| expanded.as_deref().and_then(|e| vhosts.lookup_exact(e)))
            .or_else(|| vhosts.lookup(&host))
            .or_else(|| expanded.as_deref().and_then(|e| vhosts.lookup(e)));
        let service = match expanded {
            Some(e) if !host.contains('.') || self.is_known_host(&e) => e,
            _ => host.to_string(),
        };
        let resolution = HostResolution {
            host: host.into_owned(),
            service,
        };
        let decision = match vhost {
            None => Decision::Default,
            Some(vh) => match vh.routes.find(req) {
                Some(entry) => Decision::Route { vhost: vh, entry },
                None => Decision::NotFound { vhost: Some(vh) },
            },
        };
        (decision, resolution)
    }

    /// Routes a request at a gateway listener.
    pub fn route_gateway<'a>(
        vhosts: &'a VirtualHosts,
        req: &RouteRequest<'_>,
    ) -> (Decision<'a>, String) {
        let (host, _) = split_authority(req.authority);
        let decision = match vhosts.lookup(&host) {
            None => Decision::NotFound { vhost: None },
            Some(vh) if vh.https_redirect && !req.scheme.eq_ignore_ascii_case("https") => {
                Decision::HttpsRedirect { vhost: vh }
            }
            Some(vh) => match vh.routes.find(req) {
                Some(entry) => Decision::Route { vhost: vh, entry },
                None => Decision::NotFound { vhost: Some(vh) },
            },
        };
        (decision, host.into_owned())
    }

    /// The port a gateway sends a route destination without `port` to (spec §1.9): the
    /// service's only port (Istio), else the Gateway server port the request came in on.
    /// `MeshLayer::try_gateway` and `explain --gateway` both use this.
    pub fn gateway_destination_port(&self, host: &str, server_port: u16) -> u16 {
        match self.service(host) {
            Some(svc) if svc.ports.len() == 1 => svc.ports[0].number,
            _ => server_port,
        }
    }

    /// Sidecar virtual-host domains (spec §1.2.4): `name` (same namespace), `name.ns` and
    /// `name.ns.svc` stand for `name.ns.svc.<domain>`.
    fn expand_short(&self, host: &str, client_ns: &str) -> Option<String> {
        let domain = &self.config.cluster_domain;
        // Only a name that could be an address is parsed as one (IPv6 has ':', IPv4 is digits).
        let maybe_ip = host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if maybe_ip && host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let join = |parts: &[&str]| {
            let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
            parts.iter().for_each(|p| out.push_str(p));
            out
        };
        match host.bytes().filter(|&b| b == b'.').count() {
            0 if !host.is_empty() => Some(join(&[host, ".", client_ns, ".svc.", domain])),
            1 => Some(join(&[host, ".svc.", domain])),
            2 if host.ends_with(".svc") => Some(join(&[host, ".", domain])),
            _ => None,
        }
    }

    /// The TLS mode of a gateway's server on a port, if any.
    pub fn gateway_tls_mode(&self, gateway: &str, port: u16) -> Option<ServerTlsMode> {
        self.gateways
            .iter()
            .find(|g| g.name == gateway)?
            .spec
            .servers
            .iter()
            .find(|s| s.port.as_ref().is_some_and(|p| p.number == u32::from(port)))?
            .tls
            .as_ref()?
            .mode
    }
}

/// Route entries (one per kept match block, in order) of rules, after config-time filtering.
fn entries_for(
    rules: &[Arc<CompiledRule>],
    keep: impl Fn(&crate::route::MatchBlock) -> bool,
) -> Vec<RouteEntry> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.blocks.is_empty() {
            out.push(RouteEntry {
                rule: rule.clone(),
                block: None,
            });
            continue;
        }
        for (i, b) in rule.blocks.iter().enumerate() {
            if keep(b) {
                out.push(RouteEntry {
                    rule: rule.clone(),
                    block: Some(i),
                });
            }
        }
    }
    out
}

/// Istio `exportTo`: `*` everywhere, `.` the VirtualService's namespace, else the listed ones.
fn visible(vs: &CompiledVs, ns: &str) -> bool {
    vs.export_to
        .iter()
        .any(|e| e == "*" || e == ns || (e == "." && vs.namespace == ns))
}

/// A server host `ns/host` admits VirtualServices of namespace `ns` (`*` any, `.` the
/// gateway's own); a plain host admits any.
fn server_host_for(gw: &GatewayEntry, server_host: &str, vs_ns: &str) -> Option<HostPattern> {
    let (ns, host) = server_host.split_once('/').unwrap_or(("*", server_host));
    let ok = ns == "*" || ns == vs_ns || (ns == "." && gw.namespace == vs_ns);
    ok.then(|| HostPattern::new(host))
}
