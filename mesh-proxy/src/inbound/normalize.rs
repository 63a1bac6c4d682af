//! Step: path normalization (mesh-core `NormalizeLayer`), before authorization, so the judged
//! path is the forwarded path.

use mesh_core::layer::normalize::{Normalize, NormalizeLayer};

use super::Inbound;
use crate::stack::Stack;

impl<S> Stack<S> {
    /// Normalizes each request's path with the mesh's `pathNormalization`.
    pub fn push_normalize(self, inbound: &Inbound) -> Stack<Normalize<S>> {
        self.push(NormalizeLayer::new(inbound.normalization))
    }
}
