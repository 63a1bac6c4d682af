//! VirtualService rules (Istio `ValidateVirtualService`, `pkg/config/validation/virtualservice.go`).
//!
//! This file holds the rules about the whole resource (hosts, gateways, exportTo, delegation,
//! unreachable rules); the submodules hold the rules of one HTTP/TLS/TCP rule.

mod destination;
mod headers;
mod http;
mod l4;
mod matches;
mod names;
mod policy;

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::path::FieldPath;
use crate::resource::{HttpMatchRequest, Resource, VirtualServiceSpec};

use super::Report;
use super::common::{check_wildcard_host, is_dns1123_label};

/// The reserved gateway name of the sidecars.
const MESH: &str = "mesh";

/// What the rules of one rule need to know about the whole VirtualService.
struct Ctx {
    /// Empty `hosts`: a delegate VS, only reachable through another VS's `delegate`.
    delegate: bool,
    /// Bound to gateways only (`gateways` non-empty, no `mesh`): JWT-claim routing is allowed.
    gateway_only: bool,
    /// The gateways as written, for messages.
    gateways: String,
}

/// Validates a VirtualService spec.
pub fn validate(spec: &VirtualServiceSpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    let ctx = Ctx {
        delegate: spec.hosts.is_empty(),
        gateway_only: !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == MESH),
        gateways: format!("[{}]", spec.gateways.join(", ")),
    };
    delegate_shape(r, path, spec);
    hosts(r, &path.key("hosts"), &spec.hosts, ctx.gateway_only);
    names::gateway_names(r, &path.key("gateways"), &spec.gateways);
    if spec.http.is_empty() && spec.tcp.is_empty() && spec.tls.is_empty() {
        r.error(
            path,
            "http, tcp or tls must be provided in virtual service: add at least one rule",
        );
    }
    for (i, rule) in spec.http.iter().enumerate() {
        http::http_route(r, &path.key("http").index(i), rule, &ctx);
    }
    for (i, rule) in spec.tls.iter().enumerate() {
        l4::tls_route(r, &path.key("tls").index(i), rule, &spec.hosts);
    }
    for (i, rule) in spec.tcp.iter().enumerate() {
        l4::tcp_route(r, &path.key("tcp").index(i), rule);
    }
    export_to(r, &path.key("exportTo"), &spec.export_to, res.namespace());
    unreachable_rules(r, path, spec);
}

// === hosts and bindings ===

/// Istio: a VS with empty `hosts` is a delegate; it may not have gateways, tls or tcp.
fn delegate_shape(r: &mut Report, path: &FieldPath, spec: &VirtualServiceSpec) {
    if !spec.hosts.is_empty() {
        return;
    }
    let fields = [
        ("gateways", !spec.gateways.is_empty(), "gateways"),
        ("tls", !spec.tls.is_empty(), "tls routes"),
        ("tcp", !spec.tcp.is_empty(), "tcp routes"),
    ];
    for (key, set, what) in fields {
        if set {
            r.error(
                &path.key(key),
                format!(
                    "a virtual service without hosts is a delegate and must have no {what}; \
                     add hosts, or move the {what} to the root virtual service"
                ),
            );
        }
    }
}

/// Istio: each host is a (wildcard) domain or an IP address; `*` is rejected when the VS applies
/// to sidecars (`mesh`); no two hosts of one VS may overlap.
fn hosts(r: &mut Report, path: &FieldPath, hosts: &[String], gateway_only: bool) {
    let mut all_valid = true;
    for (i, host) in hosts.iter().enumerate() {
        if let Err(msg) = check_host(host, gateway_only) {
            r.error(&path.index(i), msg);
            all_valid = false;
        }
    }
    // Istio checks overlaps only when every host is valid.
    if !all_valid {
        return;
    }
    for (j, later) in hosts.iter().enumerate() {
        if let Some(first) = hosts
            .iter()
            .take(j)
            .find(|h| names::hosts_overlap(h, later))
        {
            r.error(
                &path.index(j),
                format!(
                    "duplicate hosts in virtual service: {first} & {later} (one covers the other); \
                     keep one of them"
                ),
            );
        }
    }
}

/// One VS host.
fn check_host(host: &str, gateway_only: bool) -> Result<(), String> {
    if host.contains('/') {
        return Err(format!(
            "host {host:?} must not contain '/': the namespace/host form is only valid in \
             Gateway servers and Sidecar egress; write the host alone"
        ));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    check_wildcard_host(host)?;
    if host == "*" && !gateway_only {
        return Err(
            "wildcard host * is not allowed for virtual services bound to the mesh \
                    gateway (gateways empty or listing \"mesh\"); name the hosts"
                .to_owned(),
        );
    }
    Ok(())
}

/// Istio `validateExportTo`: `.`, `*` or namespace names, no duplicates, `*` alone; `~` is for
/// services only.
fn export_to(r: &mut Report, path: &FieldPath, list: &[String], own_ns: &str) {
    let mut seen: Vec<&str> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let p = path.index(i);
        let key = if entry == "." { own_ns } else { entry.as_str() };
        if seen.contains(&key) {
            let also = if key == entry {
                String::new()
            } else {
                format!(" (. is {key})")
            };
            r.error(&p, format!("duplicate exportTo entry {entry:?}{also}"));
            continue;
        }
        if key == "~" {
            r.error(
                &p,
                "exportTo \"~\" (no one) is not allowed for a virtual service; it is for services",
            );
        } else if key != "*" && !is_dns1123_label(key) {
            r.error(
                &p,
                format!(
                    "exportTo entry {entry:?} is not valid: use \".\", \"*\" or a namespace name"
                ),
            );
        }
        seen.push(key);
    }
    if seen.contains(&"*") && seen.len() > 1 {
        r.error(
            path,
            "exportTo cannot mix \"*\" (every namespace) with other entries",
        );
    }
}

// === unreachable rules ===

/// Istio `analyzeUnreachable*Rules` (warnings): rules after a rule without `match` are never
/// reached, and a match block repeating an earlier one never wins.
fn unreachable_rules(r: &mut Report, path: &FieldPath, spec: &VirtualServiceSpec) {
    let http: Vec<_> = spec.http.iter().map(|h| http_keys(&h.matches)).collect();
    let tls: Vec<_> = spec.tls.iter().map(|t| keys(&t.matches)).collect();
    let tcp: Vec<_> = spec.tcp.iter().map(|t| keys(&t.matches)).collect();
    unreachable_in(r, &path.key("http"), &http);
    unreachable_in(r, &path.key("tls"), &tls);
    unreachable_in(r, &path.key("tcp"), &tcp);
}

/// Comparable forms of match blocks; the block `name` does not count (Istio `asJSON`).
fn http_keys(matches: &[HttpMatchRequest]) -> Vec<String> {
    let unnamed: Vec<HttpMatchRequest> = matches
        .iter()
        .map(|m| HttpMatchRequest {
            name: None,
            ..m.clone()
        })
        .collect();
    keys(&unnamed)
}

fn keys<T: Serialize>(matches: &[T]) -> Vec<String> {
    matches
        .iter()
        .map(|m| serde_json::to_string(m).unwrap_or_default())
        .collect()
}

fn unreachable_in(r: &mut Report, path: &FieldPath, rules: &[Vec<String>]) {
    let mut catch_all: Option<usize> = None;
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, blocks) in rules.iter().enumerate() {
        if let Some(k) = catch_all {
            r.warn(
                &path.index(i),
                format!(
                    "rule {i} is never used: rule {k} has no match and catches every request \
                     first; only the last rule can have no match"
                ),
            );
            continue;
        }
        if blocks.is_empty() {
            catch_all = Some(i);
        }
        for (j, key) in blocks.iter().enumerate() {
            match seen.get(key.as_str()) {
                Some(&(ri, mi)) => r.warn(
                    &path.index(i).key("match").index(j),
                    format!(
                        "match {j} of rule {i} is never used: it repeats match {mi} of rule {ri}"
                    ),
                ),
                None => {
                    seen.insert(key, (i, j));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
