//! PeerAuthentication (semantics.md §7): Istio `ValidatePeerAuthentication` plus the
//! no-effect lints of security.md C-27.

use crate::path::FieldPath;
use crate::resource::{MtlsMode, MutualTls, PeerAuthenticationSpec, Resource};
use crate::validate::Report;

use super::{present, scope, values};

/// Istio's default root namespace: policies there without a selector are mesh-wide.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// Validates a PeerAuthentication spec.
pub fn validate(spec: &PeerAuthenticationSpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    let has_labels = spec
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty());
    if let Some(sel) = &spec.selector {
        scope::selector(r, &path.key("selector"), sel);
        root_selector(r, &path.key("selector"), res, has_labels);
    }
    port_level(r, spec, res, path, has_labels);
}

/// §7.2.1: Istio ignores a PeerAuthentication with a selector in the root namespace
/// (`ComposePeerAuthentication` keeps only selector-less ones there).
fn root_selector(r: &mut Report, path: &FieldPath, res: &Resource, has_labels: bool) {
    if has_labels && res.namespace() == ROOT_NAMESPACE {
        r.warn(
            path,
            format!(
                "a PeerAuthentication with a selector in the root namespace {ROOT_NAMESPACE} is \
                 ignored by Istio; put it in the workload's namespace"
            ),
        );
    }
}

/// §7.2.5: `portLevelMtls` needs a workload selector, at least one entry, and port keys in
/// `1..=65535`; an UNSET entry has no effect (C-27).
fn port_level(
    r: &mut Report,
    spec: &PeerAuthenticationSpec,
    res: &Resource,
    path: &FieldPath,
    has_labels: bool,
) {
    let at = path.key("portLevelMtls");
    if spec.port_level_mtls.is_empty() {
        if present(res, &at) {
            r.error(&at, "portLevelMtls, if set, must have at least one port");
        }
        return;
    }
    if !has_labels {
        r.error(
            &at,
            "portLevelMtls requires a selector with matchLabels: a mesh- or namespace-wide \
             PeerAuthentication cannot have port level mTLS",
        );
    }
    for (port, mtls) in &spec.port_level_mtls {
        port_entry(r, &at.key(port.as_str()), port, mtls);
    }
}

/// One `portLevelMtls` entry.
fn port_entry(r: &mut Report, path: &FieldPath, port: &str, mtls: &MutualTls) {
    if values::parse_port(port).is_none() {
        r.error(
            path,
            format!("portLevelMtls port {port:?} must be an integer in 1..=65535"),
        );
    }
    if matches!(mtls.mode, None | Some(MtlsMode::Unset)) {
        r.warn(
            &path.key("mode"),
            format!(
                "port {port}: mode UNSET has no effect (the port keeps the workload's mode); \
                 remove the entry or set DISABLE, PERMISSIVE or STRICT"
            ),
        );
    }
}
