//! Step: AuthorizationPolicy (mesh-core `AuthzLayer`): 403 `RBAC: access denied` on deny.

use mesh_core::layer::authz::AuthzLayer;

use super::Inbound;
use crate::stack::Stack;

impl<S> Stack<S> {
    /// Judges each request with the workload's AuthorizationPolicies.
    pub fn push_authz(self, inbound: &Inbound) -> Stack<mesh_core::layer::authz::Authz<S>> {
        self.push(AuthzLayer::new(inbound.authz.clone()))
    }
}
