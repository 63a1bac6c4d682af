//! Composition for one workload (semantics §7.2) and the per-connection decision.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::Workload;

use super::{ConnDecision, MtlsMode, PeerAuthentications, PeerAuthnPolicy, Scope, Transport};

/// Where a port's mode came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DecidedBy {
    /// No policy sets a mode: Istio's default, PERMISSIVE.
    Default,
    /// A policy's `mtls.mode` at a scope.
    Policy {
        /// `ns/name`.
        policy: String,
        /// Its scope.
        scope: Scope,
    },
    /// The winning workload policy's `portLevelMtls` entry.
    Port {
        /// `ns/name`.
        policy: String,
        /// The port.
        port: u16,
    },
}

/// A policy that qualified but does not count, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// `ns/name`.
    pub policy: String,
    /// Why it is ignored.
    pub reason: String,
}

/// A port's mode and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMode {
    /// The mode.
    pub mode: MtlsMode,
    /// Its origin.
    pub decided_by: DecidedBy,
}

/// The composed PeerAuthentication of one workload: a mode for every port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadMtls {
    /// The workload-level mode (ports without a `portLevelMtls` entry).
    pub workload: PortMode,
    /// Port-level modes of the winning workload policy (UNSET entries already resolved).
    pub ports: BTreeMap<u16, PortMode>,
    /// The winning policy per scope, `ns/name`.
    pub winners: BTreeMap<Scope, String>,
    /// Policies that qualified but lost (a newer one in the same scope) or are ignored.
    pub ignored: Vec<Ignored>,
}

// === impl DecidedBy ===

impl fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecidedBy::Default => f.write_str("no PeerAuthentication sets a mode (default)"),
            DecidedBy::Policy { policy, scope } => {
                let scope = match scope {
                    Scope::Mesh => "mesh-wide",
                    Scope::Namespace => "namespace-wide",
                    Scope::Workload => "workload",
                };
                write!(f, "PeerAuthentication {policy} ({scope})")
            }
            DecidedBy::Port { policy, port } => {
                write!(f, "PeerAuthentication {policy} portLevelMtls[{port}]")
            }
        }
    }
}

// === impl PeerAuthentications (composition) ===

impl PeerAuthentications {
    /// The scope at which `p` applies to workload `w`, if it applies at all.
    fn scope_for(&self, p: &PeerAuthnPolicy, w: &Workload) -> Option<Scope> {
        let root = p.namespace == self.root_namespace;
        if p.selector.is_empty() {
            if root {
                Some(Scope::Mesh)
            } else {
                (p.namespace == w.namespace).then_some(Scope::Namespace)
            }
        } else {
            let selected = p.namespace == w.namespace
                && p.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v));
            (selected && !root).then_some(Scope::Workload)
        }
    }

    /// Composes the policies for a workload (Istio `ComposePeerAuthentication`).
    pub fn for_workload(&self, w: &Workload) -> WorkloadMtls {
        let mut winners: BTreeMap<Scope, &PeerAuthnPolicy> = BTreeMap::new();
        let mut ignored = Vec::new();
        for p in &self.policies {
            let root_selector = !p.selector.is_empty()
                && p.namespace == self.root_namespace
                && p.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v));
            if root_selector {
                ignored.push(Ignored {
                    policy: p.name.clone(),
                    reason: format!(
                        "a selector in the root namespace {} is ignored by Istio",
                        self.root_namespace
                    ),
                });
                continue;
            }
            let Some(scope) = self.scope_for(p, w) else {
                continue;
            };
            // Istio: within a scope, the oldest policy wins (policies are oldest first).
            match winners.get(&scope) {
                Some(older) => ignored.push(Ignored {
                    policy: p.name.clone(),
                    reason: format!(
                        "the older PeerAuthentication {} already applies at this scope; Istio \
                         keeps the oldest",
                        older.name
                    ),
                }),
                None => {
                    winners.insert(scope, p);
                }
            }
        }
        let mut workload = PortMode {
            mode: MtlsMode::Permissive,
            decided_by: DecidedBy::Default,
        };
        for (scope, p) in &winners {
            if let Some(mode) = p.mode {
                workload = PortMode {
                    mode,
                    decided_by: DecidedBy::Policy {
                        policy: p.name.clone(),
                        scope: *scope,
                    },
                };
            }
        }
        let ports = winners
            .get(&Scope::Workload)
            .map(|p| {
                p.ports
                    .iter()
                    .map(|(port, mode)| {
                        let pm = match mode {
                            Some(m) => PortMode {
                                mode: *m,
                                decided_by: DecidedBy::Port {
                                    policy: p.name.clone(),
                                    port: *port,
                                },
                            },
                            None => workload.clone(),
                        };
                        (*port, pm)
                    })
                    .collect()
            })
            .unwrap_or_default();
        WorkloadMtls {
            workload,
            ports,
            winners: winners
                .into_iter()
                .map(|(s, p)| (s, p.name.clone()))
                .collect(),
            ignored,
        }
    }
}

impl PeerAuthentications {
    /// Policies that can never take effect whatever the workload (security.md C-26): a
    /// mesh- or namespace-wide policy behind an older one in the same namespace, and selector
    /// policies in the root namespace. For load-time warnings.
    pub fn shadowed(&self) -> Vec<Ignored> {
        let mut out = Vec::new();
        for (i, p) in self.policies.iter().enumerate() {
            let root = p.namespace == self.root_namespace;
            if !p.selector.is_empty() {
                if root {
                    out.push(Ignored {
                        policy: p.name.clone(),
                        reason: format!(
                            "a selector in the root namespace {} is ignored by Istio",
                            self.root_namespace
                        ),
                    });
                }
                continue;
            }
            let older = self.policies[..i]
                .iter()
                .find(|o| o.selector.is_empty() && o.namespace == p.namespace);
            if let Some(o) = older {
                out.push(Ignored {
                    policy: p.name.clone(),
                    reason: format!(
                        "the older {} PeerAuthentication {} wins; Istio ignores this one",
                        if root { "mesh-wide" } else { "namespace-wide" },
                        o.name
                    ),
                });
            }
        }
        out
    }
}

// === impl WorkloadMtls ===

impl WorkloadMtls {
    /// The mode on a port (§7.2.4: listed ports use their entry, the rest the workload mode).
    pub fn port(&self, port: u16) -> &PortMode {
        self.ports.get(&port).unwrap_or(&self.workload)
    }

    /// Is a connection of this kind to `port` accepted?
    pub fn decide(&self, port: u16, transport: Transport) -> ConnDecision {
        let pm = self.port(port);
        let accept = pm.mode.accepts(transport);
        let effect = match (pm.mode, transport) {
            (MtlsMode::Strict, Transport::Plaintext) => {
                "plaintext is rejected at connection level (no filter chain matches; the \
                 connection is reset before any HTTP)"
            }
            (MtlsMode::Strict, Transport::Mtls) => "mTLS with a client certificate is required",
            (MtlsMode::Permissive, Transport::Plaintext) => {
                "plaintext is accepted and carries no peer identity, so identity-based \
                 authorization never matches it"
            }
            (MtlsMode::Permissive, Transport::Mtls) => {
                "mTLS is accepted and the peer identity is available to authorization"
            }
            (MtlsMode::Disable, Transport::Plaintext) => "plaintext is accepted",
            (MtlsMode::Disable, Transport::Mtls) => {
                "the proxy does not terminate mTLS here, so an mTLS client fails"
            }
        };
        ConnDecision {
            accept,
            mode: pm.mode,
            decided_by: pm.decided_by.clone(),
            reason: format!(
                "port {port}: {} from {}; {transport}: {effect}",
                pm.mode, pm.decided_by
            ),
        }
    }
}
