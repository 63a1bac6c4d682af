//! The RNG the layers share: a seeded `StdRng` behind a mutex, taken only to draw a decision.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;

/// An RNG shared by clones of a layer's service.
#[derive(Clone, Debug)]
pub struct SharedRng(Arc<Mutex<StdRng>>);

// === impl SharedRng ===

impl SharedRng {
    /// Seeded from the process's hash-map keys (OS entropy read once by std).
    pub fn from_entropy() -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self::seed_from_u64(seed)
    }

    /// A reproducible sequence.
    pub fn seed_from_u64(seed: u64) -> Self {
        SharedRng(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    /// Runs `f` with the RNG.
    pub fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut rng)
    }
}
