//! Validation: every rule the spec gives, run once at load; the engines then trust the data.
//!
//! Each kind has a module with one entry function taking the spec, the resource and a
//! [`Report`]; rules push issues at field paths. Rules quote the Istio/Linkerd/SMI rule they
//! implement.

pub mod common;
mod destination_rule;
mod gateway;
mod linkerd;
mod metadata;
mod secret;
mod security;
mod service_entry;
#[cfg(test)]
mod test_support;
mod virtual_service;

use crate::diag::Severity;
use crate::path::FieldPath;
use crate::resource::{Resource, Spec};

/// A finding at a field path of one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Error or warning.
    pub severity: Severity,
    /// The field.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
    /// True when the issue is about the key itself (an unknown field) rather than its value.
    pub at_key: bool,
}

/// Collects issues.
#[derive(Clone, Debug, Default)]
pub struct Report {
    issues: Vec<Issue>,
}

// === impl Report ===

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Report::default()
    }

    /// Records an error at `path`.
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.issues.push(Issue {
            severity: Severity::Error,
            path: path.clone(),
            message: message.into(),
            at_key: false,
        });
    }

    /// Records a warning at `path`.
    pub fn warn(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.issues.push(Issue {
            severity: Severity::Warning,
            path: path.clone(),
            message: message.into(),
            at_key: false,
        });
    }

    /// The issues found.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// Consumes the report.
    pub fn into_issues(self) -> Vec<Issue> {
        self.issues
    }

    /// True when an error was recorded.
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }
}

/// Validates one resource: metadata, then the kind's own rules.
pub fn validate(res: &Resource, report: &mut Report) {
    metadata::validate(res, report);
    let spec = FieldPath::root().key("spec");
    match &res.spec {
        Spec::VirtualService(s) => virtual_service::validate(s, res, &spec, report),
        Spec::DestinationRule(s) => destination_rule::validate(s, res, &spec, report),
        Spec::Gateway(s) => gateway::validate(s, res, &spec, report),
        Spec::ServiceEntry(s) => service_entry::validate_service_entry(s, res, &spec, report),
        Spec::WorkloadEntry(s) => service_entry::validate_workload_entry(s, &spec, report),
        Spec::PeerAuthentication(s) => security::validate_peer_authn(s, res, &spec, report),
        Spec::AuthorizationPolicy(s) => security::validate_authz(s, res, &spec, report),
        Spec::ServiceProfile(s) => linkerd::validate_profile(s, res, &spec, report),
        Spec::TrafficSplit(s) => linkerd::validate_split(s, res, &spec, report),
        Spec::Secret(s) => secret::validate(s, res, report),
    }
}
