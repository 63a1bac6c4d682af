//! Step: the per-request PeerAuthentication guard (mesh-core `MtlsLayer`), which keeps the
//! connection-level decision of [`accept`](super::accept) true for every request and refuses
//! peers from untrusted trust domains.

use mesh_core::layer::mtls::{Mtls, MtlsLayer};

use super::Inbound;
use crate::stack::Stack;

impl<S> Stack<S> {
    /// Checks each request's [`ConnectionFacts`](mesh_core::security::conn::ConnectionFacts)
    /// against the workload's mTLS mode.
    pub fn push_mtls(self, inbound: &Inbound) -> Stack<Mtls<S>> {
        self.push(MtlsLayer::new(inbound.mtls.clone()).with_trust_domains(inbound.trust.clone()))
    }
}
