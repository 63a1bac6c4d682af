//! PeerAuthentication (semantics §7): the mTLS mode a workload's inbound port enforces, and
//! whether one connection is accepted under it.
//!
//! Istio `ComposePeerAuthentication`: scopes mesh (root namespace, no selector) < namespace (no
//! selector) < workload (non-empty `matchLabels` that are a subset of the workload's labels, not
//! in the root namespace); within a scope the oldest policy wins; `UNSET` inherits; the default
//! is `PERMISSIVE`; `portLevelMtls` comes only from the winning workload policy.

mod compose;

use std::collections::BTreeMap;
use std::fmt;

use crate::model::Mesh;
use crate::resource::{self, PeerAuthenticationSpec, Resource, Spec};

pub use self::compose::{DecidedBy, Ignored, PortMode, WorkloadMtls};

/// An effective mode (never UNSET: that is resolved by composition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MtlsMode {
    /// Plaintext only: the proxy does not terminate mTLS, so an mTLS client fails.
    Disable,
    /// Plaintext and mTLS on the same port (Istio's default).
    Permissive,
    /// mTLS with a client certificate only; plaintext is refused at connection level.
    Strict,
}

/// The scope a policy applies at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Root namespace, no selector.
    Mesh,
    /// The workload's namespace, no selector.
    Namespace,
    /// A selector matching the workload's labels.
    Workload,
}

/// One compiled PeerAuthentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAuthnPolicy {
    /// `ns/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `selector.matchLabels` (empty: namespace- or mesh-wide).
    pub selector: BTreeMap<String, String>,
    /// `mtls.mode`; `None` is UNSET.
    pub mode: Option<MtlsMode>,
    /// `portLevelMtls`: port -> mode (`None` is UNSET: the workload-level result).
    pub ports: BTreeMap<u16, Option<MtlsMode>>,
}

/// A PeerAuthentication the engine cannot enforce (validation reports these first; the engine
/// fails closed on its own as well).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPeerAuthn {
    /// A `portLevelMtls` key that is not a port in `1..=65535`.
    #[error("PeerAuthentication {policy}: portLevelMtls port {port:?} is not in 1..=65535")]
    Port {
        /// `ns/name`.
        policy: String,
        /// The key as written.
        port: String,
    },
    /// §7.2.5: port-level modes need a workload selector.
    #[error(
        "PeerAuthentication {policy}: portLevelMtls requires a selector (mesh- and \
         namespace-wide policies cannot have port level mTLS)"
    )]
    PortLevelWithoutSelector {
        /// `ns/name`.
        policy: String,
    },
}

/// Every PeerAuthentication of a snapshot, oldest first, ready to compose per workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAuthentications {
    root_namespace: String,
    policies: Vec<PeerAuthnPolicy>,
}

/// How a connection arrived, as the TLS acceptor saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// No TLS, or TLS the proxy did not terminate as mesh mTLS.
    Plaintext,
    /// Mutual TLS with a verified client certificate.
    Mtls,
}

/// The verdict for one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnDecision {
    /// True when the connection may proceed.
    pub accept: bool,
    /// The mode in force on the port.
    pub mode: MtlsMode,
    /// Where the mode came from.
    pub decided_by: DecidedBy,
    /// Why, in words.
    pub reason: String,
}

// === impl MtlsMode ===

impl MtlsMode {
    /// The resource mode, `None` for UNSET (or absent).
    pub fn from_resource(mode: Option<resource::MtlsMode>) -> Option<MtlsMode> {
        match mode? {
            resource::MtlsMode::Unset => None,
            resource::MtlsMode::Disable => Some(MtlsMode::Disable),
            resource::MtlsMode::Permissive => Some(MtlsMode::Permissive),
            resource::MtlsMode::Strict => Some(MtlsMode::Strict),
        }
    }

    /// The name Istio uses (`STRICT`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Disable => "DISABLE",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Strict => "STRICT",
        }
    }

    /// Does this mode accept a connection of this kind?
    pub const fn accepts(self, transport: Transport) -> bool {
        matches!(
            (self, transport),
            (MtlsMode::Disable, Transport::Plaintext)
                | (MtlsMode::Permissive, _)
                | (MtlsMode::Strict, Transport::Mtls)
        )
    }
}

impl fmt::Display for MtlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Plaintext => "plaintext",
            Transport::Mtls => "mTLS",
        })
    }
}

// === impl PeerAuthnPolicy ===

impl PeerAuthnPolicy {
    /// Compiles one resource's spec.
    pub fn compile(
        namespace: &str,
        name: &str,
        spec: &PeerAuthenticationSpec,
    ) -> Result<Self, InvalidPeerAuthn> {
        let full = format!("{namespace}/{name}");
        let selector = spec
            .selector
            .as_ref()
            .map(|s| s.match_labels.clone())
            .unwrap_or_default();
        if !spec.port_level_mtls.is_empty() && selector.is_empty() {
            return Err(InvalidPeerAuthn::PortLevelWithoutSelector { policy: full });
        }
        let mut ports = BTreeMap::new();
        for (key, m) in &spec.port_level_mtls {
            let port = key.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                InvalidPeerAuthn::Port {
                    policy: full.clone(),
                    port: key.clone(),
                }
            })?;
            ports.insert(port, MtlsMode::from_resource(m.mode));
        }
        Ok(PeerAuthnPolicy {
            name: full,
            namespace: namespace.to_owned(),
            selector,
            mode: MtlsMode::from_resource(spec.mtls.as_ref().and_then(|m| m.mode)),
            ports,
        })
    }
}

// === impl PeerAuthentications ===

impl PeerAuthentications {
    /// The PeerAuthentications of a snapshot (its resources are already oldest first), with its
    /// root namespace.
    pub fn from_mesh(mesh: &Mesh) -> Result<Self, InvalidPeerAuthn> {
        Self::from_resources(mesh.resources(), &mesh.config().root_namespace)
    }

    /// The PeerAuthentications among `resources`, ordered oldest first (creation timestamp,
    /// then load order), with `root_namespace` holding the mesh-wide policy.
    pub fn from_resources(
        resources: &[Resource],
        root_namespace: &str,
    ) -> Result<Self, InvalidPeerAuthn> {
        let mut found: Vec<&Resource> = resources
            .iter()
            .filter(|r| matches!(r.spec, Spec::PeerAuthentication(_)))
            .collect();
        found.sort_by(|a, b| {
            (a.meta.creation_timestamp.as_deref().unwrap_or(""), a.seq)
                .cmp(&(b.meta.creation_timestamp.as_deref().unwrap_or(""), b.seq))
        });
        let policies = found
            .into_iter()
            .filter_map(|r| match &r.spec {
                Spec::PeerAuthentication(s) => Some((r, s)),
                _ => None,
            })
            .map(|(r, s)| PeerAuthnPolicy::compile(r.namespace(), r.name(), s))
            .collect::<Result<_, _>>()?;
        Ok(PeerAuthentications {
            root_namespace: root_namespace.to_owned(),
            policies,
        })
    }

    /// Policies given directly, oldest first.
    pub fn new(root_namespace: &str, policies: Vec<PeerAuthnPolicy>) -> Self {
        PeerAuthentications {
            root_namespace: root_namespace.to_owned(),
            policies,
        }
    }

    /// The root namespace.
    pub fn root_namespace(&self) -> &str {
        &self.root_namespace
    }

    /// The policies, oldest first.
    pub fn policies(&self) -> &[PeerAuthnPolicy] {
        &self.policies
    }
}

#[cfg(test)]
mod tests;
