//! The resources as typed data: every documented field of every supported kind.
//!
//! Fields keep what the user wrote (`Option` where unset differs from zero); meaning is given by
//! validation and the compiled model, never here.

mod common;
mod destination_rule;
mod duration;
mod gateway;
mod linkerd;
mod quantity;
mod secret;
mod security;
mod service_entry;
mod virtual_service;

use std::fmt;
use std::sync::Arc;

pub use self::common::{
    IntOrString, ObjectMeta, Percent, PolicyTargetReference, StringMatch, WorkloadSelector,
};
pub use self::destination_rule::*;
pub use self::duration::{Duration, DurationError};
pub use self::gateway::*;
pub use self::linkerd::*;
pub use self::quantity::{Quantity, QuantityError};
pub use self::secret::SecretData;
pub use self::security::*;
pub use self::service_entry::*;
pub use self::virtual_service::*;

use crate::yaml::{Node, Pos};

/// The kinds mesh understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// networking.istio.io VirtualService.
    VirtualService,
    /// networking.istio.io DestinationRule.
    DestinationRule,
    /// networking.istio.io Gateway.
    Gateway,
    /// networking.istio.io ServiceEntry.
    ServiceEntry,
    /// networking.istio.io WorkloadEntry.
    WorkloadEntry,
    /// security.istio.io PeerAuthentication.
    PeerAuthentication,
    /// security.istio.io AuthorizationPolicy.
    AuthorizationPolicy,
    /// linkerd.io ServiceProfile.
    ServiceProfile,
    /// split.smi-spec.io TrafficSplit.
    TrafficSplit,
    /// core v1 Secret.
    Secret,
}

/// Every kind, for tables and messages.
pub const ALL_KINDS: [Kind; 10] = [
    Kind::VirtualService,
    Kind::DestinationRule,
    Kind::Gateway,
    Kind::ServiceEntry,
    Kind::WorkloadEntry,
    Kind::PeerAuthentication,
    Kind::AuthorizationPolicy,
    Kind::ServiceProfile,
    Kind::TrafficSplit,
    Kind::Secret,
];

// === impl Kind ===

impl Kind {
    /// The `kind:` string.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::Gateway => "Gateway",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::WorkloadEntry => "WorkloadEntry",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::ServiceProfile => "ServiceProfile",
            Kind::TrafficSplit => "TrafficSplit",
            Kind::Secret => "Secret",
        }
    }

    /// The API group (`""` for core).
    pub const fn group(self) -> &'static str {
        match self {
            Kind::VirtualService
            | Kind::DestinationRule
            | Kind::Gateway
            | Kind::ServiceEntry
            | Kind::WorkloadEntry => "networking.istio.io",
            Kind::PeerAuthentication | Kind::AuthorizationPolicy => "security.istio.io",
            Kind::ServiceProfile => "linkerd.io",
            Kind::TrafficSplit => "split.smi-spec.io",
            Kind::Secret => "",
        }
    }

    /// The API versions accepted for this kind.
    pub const fn versions(self) -> &'static [&'static str] {
        match self {
            Kind::VirtualService
            | Kind::DestinationRule
            | Kind::Gateway
            | Kind::ServiceEntry
            | Kind::WorkloadEntry => &["v1alpha3", "v1beta1", "v1"],
            Kind::PeerAuthentication | Kind::AuthorizationPolicy => &["v1beta1", "v1"],
            Kind::ServiceProfile => &["v1alpha1", "v1alpha2"],
            Kind::TrafficSplit => &["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"],
            Kind::Secret => &["v1"],
        }
    }

    /// Looks a kind up by its `kind:` string.
    pub fn from_name(name: &str) -> Option<Kind> {
        ALL_KINDS.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The typed body of a resource. (Variants differ in size; resources are loaded once and held
/// in the model, so boxing would only add indirection.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    /// VirtualService.
    VirtualService(VirtualServiceSpec),
    /// DestinationRule.
    DestinationRule(DestinationRuleSpec),
    /// Gateway.
    Gateway(GatewaySpec),
    /// ServiceEntry.
    ServiceEntry(ServiceEntrySpec),
    /// WorkloadEntry.
    WorkloadEntry(WorkloadEntrySpec),
    /// PeerAuthentication.
    PeerAuthentication(PeerAuthenticationSpec),
    /// AuthorizationPolicy.
    AuthorizationPolicy(AuthorizationPolicySpec),
    /// ServiceProfile.
    ServiceProfile(ServiceProfileSpec),
    /// TrafficSplit.
    TrafficSplit(TrafficSplitSpec),
    /// Secret.
    Secret(SecretData),
}

impl Spec {
    /// The kind of this spec.
    pub const fn kind(&self) -> Kind {
        match self {
            Spec::VirtualService(_) => Kind::VirtualService,
            Spec::DestinationRule(_) => Kind::DestinationRule,
            Spec::Gateway(_) => Kind::Gateway,
            Spec::ServiceEntry(_) => Kind::ServiceEntry,
            Spec::WorkloadEntry(_) => Kind::WorkloadEntry,
            Spec::PeerAuthentication(_) => Kind::PeerAuthentication,
            Spec::AuthorizationPolicy(_) => Kind::AuthorizationPolicy,
            Spec::ServiceProfile(_) => Kind::ServiceProfile,
            Spec::TrafficSplit(_) => Kind::TrafficSplit,
            Spec::Secret(_) => Kind::Secret,
        }
    }
}

/// Where a resource came from: the file, the document's index in it, and its parsed tree (to
/// locate any field path for a diagnostic).
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// File name as given.
    pub file: Arc<str>,
    /// 0-based index of the document in the file.
    pub document: usize,
    /// The parsed document.
    pub node: Arc<Node>,
}

impl Origin {
    /// Position of the document start.
    pub fn pos(&self) -> Pos {
        self.node.pos
    }
}

/// One loaded, schema-checked resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// `apiVersion` as written.
    pub api_version: String,
    /// `metadata`.
    pub meta: ObjectMeta,
    /// The body.
    pub spec: Spec,
    /// Where it came from.
    pub origin: Origin,
    /// Load order across all inputs (ties in creation time break by it).
    pub seq: usize,
}

// === impl Resource ===

impl Resource {
    /// The kind.
    pub const fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// `metadata.name` (validation guarantees it is present).
    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`, `default` when absent.
    pub fn namespace(&self) -> &str {
        self.meta.namespace.as_deref().unwrap_or("default")
    }

    /// `Kind namespace/name`, how diagnostics name a resource.
    pub fn display_name(&self) -> String {
        format!("{} {}/{}", self.kind(), self.namespace(), self.name())
    }

    /// The API version part after the group (`v1beta1`).
    pub fn version(&self) -> &str {
        self.api_version.rsplit('/').next().unwrap_or("")
    }
}

#[cfg(test)]
mod tests;
