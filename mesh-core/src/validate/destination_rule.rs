//! DestinationRule rules (Istio `validateDestinationRule`; spec §3.5, §4.1).

mod client_tls;
mod load_balancer;
mod locality;
mod traffic_policy;

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::resource::{DestinationRuleSpec, Resource, Subset};

use super::Report;
use super::common::{check_wildcard_host, dns1123_label};
use super::service_entry::export::{Owner, check_export_to};
use super::service_entry::labels::{check_labels, check_selector};

/// Validates a DestinationRule spec.
pub fn validate(spec: &DestinationRuleSpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    host(r, &path.key("host"), &spec.host);
    if let Some(tp) = &spec.traffic_policy {
        traffic_policy::check(r, &path.key("trafficPolicy"), tp);
    }
    subsets(r, &path.key("subsets"), &spec.subsets);
    check_export_to(
        r,
        &path.key("exportTo"),
        res.namespace(),
        &spec.export_to,
        Owner::DestinationRule {
            selector: spec.workload_selector.is_some(),
        },
    );
    if let Some(sel) = &spec.workload_selector {
        check_selector(
            r,
            &path.key("workloadSelector").key("matchLabels"),
            &sel.match_labels,
        );
    }
}

/// Istio `ValidateWildcardDomain`: the host is required; a name, an FQDN, `*.suffix` or `*`.
fn host(r: &mut Report, path: &FieldPath, host: &str) {
    if host.is_empty() {
        r.error(
            path,
            "host is required: the service the rule applies to (reviews, \
             reviews.prod.svc.cluster.local or *.example.com)",
        );
    } else if let Err(e) = check_wildcard_host(host) {
        r.error(path, e);
    }
}

/// Spec §3.2: subset names are required, DNS-1123 labels and unique; labels are Kubernetes
/// labels; a subset's traffic policy follows the top-level rules (port-level settings included).
fn subsets(r: &mut Report, path: &FieldPath, subsets: &[Subset]) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in subsets.iter().enumerate() {
        let at = path.index(i);
        let name = at.key("name");
        if s.name.is_empty() {
            r.error(&name, "subset name is required (e.g. v1)");
        } else if let Some(first) = seen.insert(s.name.as_str(), i) {
            r.error(
                &name,
                format!(
                    "duplicate subset name {:?} (also subsets[{first}]); only the first one \
                     would be used",
                    s.name
                ),
            );
        } else {
            dns1123_label(r, &name, "subset name", &s.name);
        }
        check_labels(r, &at.key("labels"), &s.labels);
        if let Some(tp) = &s.traffic_policy {
            traffic_policy::check(r, &at.key("trafficPolicy"), tp);
        }
    }
}

#[cfg(test)]
mod tests;
