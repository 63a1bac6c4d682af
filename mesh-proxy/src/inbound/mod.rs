//! The inbound direction: connections from other proxies to the local application.
//!
//! Per connection ([`accept`]): peek the first byte to tell TLS from plaintext (PERMISSIVE),
//! ask the workload's composed PeerAuthentication whether that transport is accepted on the
//! workload port (STRICT refuses plaintext and DISABLE refuses TLS before any HTTP), terminate
//! mTLS with client certificates required, and take the peer's SPIFFE ID from its verified
//! leaf. Per request, the stack is, outermost first:
//!
//! `request id → metrics → errors → MtlsLayer → NormalizeLayer → AuthzLayer → forward to the app`
//!
//! Each `push_*` step lives in its own file, in that order from the inside out; the proxy only
//! assembles mesh-core's layers, it decides nothing itself.

pub mod accept;
mod authz;
mod errors;
mod forward;
mod metrics;
mod mtls;
mod normalize;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mesh_core::Mesh;
use mesh_core::security::authz::{AuthzPolicies, InvalidPolicy, WorkloadAuthz};
use mesh_core::security::identity::{SpiffeId, TrustDomains};
use mesh_core::security::normalize::PathNormalization;
use mesh_core::security::peer_authn::{InvalidPeerAuthn, PeerAuthentications, WorkloadMtls};

pub use self::errors::ResponseFlags;
pub use self::forward::UpstreamError;
use crate::metrics::Metrics;
use crate::request_id::RequestIds;
use crate::stack::HttpService;

/// Everything the inbound stack is built from: one snapshot of the resources, seen from this
/// workload.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// The local application.
    pub app: SocketAddr,
    /// The workload port policies refer to (the application's port).
    pub port: u16,
    /// The composed PeerAuthentication for this workload.
    pub mtls: Arc<WorkloadMtls>,
    /// The AuthorizationPolicies selecting this workload.
    pub authz: Arc<WorkloadAuthz>,
    /// `pathNormalization`.
    pub normalization: PathNormalization,
    /// Trust domains peers may come from.
    pub trust: TrustDomains,
    /// This workload, for metric labels.
    pub workload: mesh_core::Workload,
    /// This proxy's identity.
    pub id: SpiffeId,
    /// Connect timeout to the application.
    pub connect_timeout: Duration,
    /// The metrics the stack records into.
    pub metrics: Arc<Metrics>,
    /// Where missing `x-request-id`s come from.
    pub request_ids: RequestIds,
}

/// Why a snapshot cannot be served inbound.
#[derive(Debug, thiserror::Error)]
pub enum InvalidInbound {
    /// The PeerAuthentications do not compose.
    #[error("PeerAuthentication: {0}")]
    PeerAuthn(#[from] InvalidPeerAuthn),
    /// The trust domain is not valid.
    #[error("trust domain: {0}")]
    TrustDomain(String),
}

// === impl Inbound ===

impl Inbound {
    /// Derives the inbound view of `mesh` for `workload`. AuthorizationPolicy problems come back
    /// beside (the policies are already compiled fail-closed: a rule that cannot be enforced
    /// matches nothing in ALLOW and everything in DENY).
    pub fn from_mesh(
        mesh: &Mesh,
        workload: mesh_core::Workload,
        id: SpiffeId,
        app: SocketAddr,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Vec<InvalidPolicy>), InvalidInbound> {
        let mtls = PeerAuthentications::from_mesh(mesh)?.for_workload(&workload);
        let (policies, problems) = AuthzPolicies::from_mesh(mesh);
        let authz = policies.for_workload(&workload);
        let trust = TrustDomains::try_new(id.trust_domain(), std::iter::empty())
            .map_err(|e| InvalidInbound::TrustDomain(e.to_string()))?;
        let inbound = Inbound {
            app,
            port: app.port(),
            mtls: Arc::new(mtls),
            authz: Arc::new(authz),
            normalization: mesh.config().path_normalization,
            trust,
            workload,
            id,
            connect_timeout: Duration::from_secs(10),
            metrics,
            request_ids: RequestIds::from_entropy(),
        };
        Ok((inbound, problems))
    }

    /// Assembles the per-request stack.
    pub fn build(&self) -> HttpService {
        self.forward()
            .push_authz(self)
            .push_normalize(self)
            .push_mtls(self)
            .push_errors()
            .push_metrics(self)
            .push_request_id(self.request_ids.clone())
            .boxed()
    }
}
