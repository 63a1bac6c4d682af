//! Istio request mirroring (spec §1.7): each mirror fires with its own probability (absent
//! percentage = 100%, explicit 0 disables), fire-and-forget, the mirror's response ignored.
//! Since Istio 1.28 the mirrored request keeps its authority; earlier versions appended
//! `-shadow` to the host. Bodies are copied only when small (bounded buffering).

use rand::{Rng, RngExt};

use crate::route::action::Mirror;

/// Largest request body copied to mirrors by default (as Linkerd's replay bound).
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024;

/// How the mirrored request's authority is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HostRule {
    /// Unchanged (Istio >= 1.28, `DISABLE_SHADOW_HOST_SUFFIX=true`).
    #[default]
    Unchanged,
    /// `-shadow` appended to the host, before any port (Istio < 1.28).
    ShadowSuffix,
}

/// A mirror Istio validation would reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMirror {
    /// Over 100%.
    #[error("mirror to {host} percentage {per_million} per million is over 100%")]
    Percentage {
        /// The mirror host.
        host: String,
        /// The value.
        per_million: u32,
    },
}

/// The mirrors of one route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorPolicy {
    targets: Vec<Mirror>,
    host_rule: HostRule,
    max_body: u64,
}

/// Whether a request's body allows mirroring it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyPlan {
    /// The body is empty: nothing to copy.
    Empty,
    /// The body has a known length within the bound: buffer it and copy.
    Buffer(u64),
    /// Unknown or too large: the request is not mirrored.
    Skip,
}

// === impl MirrorPolicy ===

impl MirrorPolicy {
    /// The route's mirrors; `max_body` bounds the body copied.
    pub fn try_new(
        targets: &[Mirror],
        host_rule: HostRule,
        max_body: u64,
    ) -> Result<Self, InvalidMirror> {
        if let Some(m) = targets.iter().find(|m| m.per_million > 1_000_000) {
            return Err(InvalidMirror::Percentage {
                host: m.host.clone(),
                per_million: m.per_million,
            });
        }
        Ok(MirrorPolicy {
            targets: targets.to_vec(),
            host_rule,
            max_body,
        })
    }

    /// The configured mirrors.
    pub fn targets(&self) -> &[Mirror] {
        &self.targets
    }

    /// The mirrors that fire for one request (one independent draw each).
    pub fn pick<'a>(&'a self, rng: &mut (impl Rng + ?Sized)) -> Vec<&'a Mirror> {
        self.targets
            .iter()
            .filter(|m| match m.per_million {
                0 => false,
                1_000_000.. => true,
                pm => rng.random_range(0..1_000_000) < pm,
            })
            .collect()
    }

    /// The authority of the mirrored request.
    pub fn authority(&self, authority: &str) -> String {
        match self.host_rule {
            HostRule::Unchanged => authority.to_owned(),
            HostRule::ShadowSuffix => shadow_authority(authority),
        }
    }

    /// Whether to copy a body whose length is `exact` (`None`: streamed, unknown).
    pub fn body_plan(&self, exact: Option<u64>) -> BodyPlan {
        match exact {
            Some(0) => BodyPlan::Empty,
            Some(n) if n <= self.max_body => BodyPlan::Buffer(n),
            _ => BodyPlan::Skip,
        }
    }
}

/// `-shadow` appended to the host part: `foo.ns:8080` -> `foo.ns-shadow:8080`,
/// `[::1]:80` -> `[::1]-shadow:80`.
pub fn shadow_authority(authority: &str) -> String {
    let split = if authority.starts_with('[') {
        authority.find(']').map(|i| i + 1)
    } else {
        authority
            .rfind(':')
            .filter(|i| !authority[..*i].contains(':'))
    };
    match split {
        Some(i) => format!("{}-shadow{}", &authority[..i], &authority[i..]),
        None => format!("{authority}-shadow"),
    }
}

#[cfg(test)]
mod tests;
