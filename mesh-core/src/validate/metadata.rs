//! `metadata`: the name every resource needs and the namespace it lives in.

use crate::path::FieldPath;
use crate::resource::{Kind, Resource};

use super::Report;
use super::common::{is_dns1123_label, is_dns1123_subdomain};

/// Kubernetes: `metadata.name` is required and a DNS-1123 subdomain; `metadata.namespace` is a
/// DNS-1123 label.
pub fn validate(res: &Resource, r: &mut Report) {
    let meta = FieldPath::root().key("metadata");
    match res.meta.name.as_deref() {
        None | Some("") => r.error(&meta.key("name"), "metadata.name is required"),
        Some(name) => {
            // ServiceProfiles are named by a service FQDN; everything else by a subdomain too.
            if !is_dns1123_subdomain(name) {
                r.error(
                    &meta.key("name"),
                    format!(
                        "name {name:?} is not a valid DNS-1123 subdomain (lower-case letters, \
                         digits, '-' and '.')"
                    ),
                );
            }
        }
    }
    if let Some(ns) = res
        .meta
        .namespace
        .as_deref()
        .filter(|ns| !is_dns1123_label(ns))
    {
        r.error(
            &meta.key("namespace"),
            format!("namespace {ns:?} is not a valid DNS-1123 label"),
        );
    }
    if res.kind() == Kind::ServiceProfile && res.meta.name.is_some() {
        let name = res.name();
        if name.split('.').count() < 2 {
            r.warn(
                &meta.key("name"),
                format!(
                    "a ServiceProfile is named after the service's FQDN \
                     (<svc>.<ns>.svc.<cluster-domain>); {name:?} will match no service"
                ),
            );
        }
    }
}
