//! The `mtls` key of the decision document: the receiving workload's composed
//! PeerAuthentication on the request's port, and whether the peer's connection is accepted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Mesh, Workload};
use crate::security::identity::SpiffeId;
use crate::security::peer_authn::{DecidedBy, PeerAuthentications, Scope, Transport};

use super::SourceFacts;

/// The `mtls` key.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MtlsView {
    /// The receiving workload, `ns/name`.
    pub workload: String,
    /// The port the mode was looked up for (the request's port).
    pub port: u16,
    /// `STRICT`, `PERMISSIVE` or `DISABLE`.
    pub mode: &'static str,
    /// Where the mode came from.
    pub decided_by: DecidedByView,
    /// `plaintext` or `mtls`.
    pub connection: &'static str,
    /// The peer principal (`td/ns/x/sa/y`); `null` for plaintext.
    pub peer_principal: Option<String>,
    /// True when the connection is accepted.
    pub accepted: bool,
    /// The winning policy per scope (`mesh`, `namespace`, `workload`).
    pub policies: BTreeMap<&'static str, String>,
    /// Policies that qualified but do not count, with the reason.
    pub ignored: Vec<IgnoredView>,
    /// Why, in words.
    pub reason: String,
}

/// Where a mode came from.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DecidedByView {
    /// `default`, `mesh`, `namespace`, `workload` or `port`.
    pub scope: &'static str,
    /// `ns/name` of the policy; `null` for the default.
    pub policy: Option<String>,
}

/// An ignored policy.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IgnoredView {
    /// `ns/name`.
    pub policy: String,
    /// Why.
    pub reason: String,
}

const fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Mesh => "mesh",
        Scope::Namespace => "namespace",
        Scope::Workload => "workload",
    }
}

/// Explains the peer authentication of `receiver` on `port` for the peer `source`; `None` (with
/// a note) when the PeerAuthentications cannot be compiled.
pub(super) fn mtls_view(
    mesh: &Mesh,
    receiver: &Workload,
    port: u16,
    source: &SourceFacts,
    notes: &mut Vec<String>,
) -> Option<MtlsView> {
    let table = match PeerAuthentications::from_mesh(mesh) {
        Ok(t) => t,
        Err(e) => {
            notes.push(format!("mtls not explained: {e}"));
            return None;
        }
    };
    let composed = table.for_workload(receiver);
    let transport = if source.mtls {
        Transport::Mtls
    } else {
        Transport::Plaintext
    };
    let mut decision = composed.decide(port, transport);
    let mut peer_principal = None;
    if source.mtls {
        match source.principal.as_deref().map(SpiffeId::from_principal) {
            Some(Ok(id)) => {
                if let Some(ns) = source
                    .namespace
                    .as_deref()
                    .filter(|ns| *ns != id.namespace())
                {
                    notes.push(format!(
                        "--source-namespace {ns} differs from the principal's namespace {}; \
                         with mTLS the namespace is read from the certificate",
                        id.namespace()
                    ));
                }
                peer_principal = Some(id.principal());
            }
            Some(Err(e)) => {
                decision.accept = false;
                decision.reason = format!(
                    "{}; but the peer principal is not a valid SPIFFE identity ({e}), so its \
                     certificate is refused at the handshake",
                    decision.reason
                );
            }
            None => notes
                .push("mTLS without --source-principal: the peer identity is unknown".to_owned()),
        }
    }
    let decided_by = match &decision.decided_by {
        DecidedBy::Default => DecidedByView {
            scope: "default",
            policy: None,
        },
        DecidedBy::Policy { policy, scope } => DecidedByView {
            scope: scope_name(*scope),
            policy: Some(policy.clone()),
        },
        DecidedBy::Port { policy, .. } => DecidedByView {
            scope: "port",
            policy: Some(policy.clone()),
        },
    };
    Some(MtlsView {
        workload: format!("{}/{}", receiver.namespace, receiver.name),
        port,
        mode: decision.mode.as_str(),
        decided_by,
        connection: match transport {
            Transport::Mtls => "mtls",
            Transport::Plaintext => "plaintext",
        },
        peer_principal,
        accepted: decision.accept,
        policies: composed
            .winners
            .iter()
            .map(|(s, p)| (scope_name(*s), p.clone()))
            .collect(),
        ignored: composed
            .ignored
            .iter()
            .map(|i| IgnoredView {
                policy: i.policy.clone(),
                reason: i.reason.clone(),
            })
            .collect(),
        reason: decision.reason,
    })
}

#[cfg(test)]
mod tests;
