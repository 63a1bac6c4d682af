//! Trust domains: the local one and its aliases (Istio `meshConfig.trustDomain`,
//! `trustDomainAliases`). A peer from an untrusted domain is rejected (ztunnel
//! `trust_domain_mismatch_rejected`); a policy principal in the local domain, an alias, or the
//! placeholder `cluster.local` stands for the same workload in every trusted domain (Istio
//! trust-domain migration).

use super::{InvalidSpiffeId, SpiffeId, check_trust_domain};

/// Istio: `cluster.local` in a policy principal points at the local trust domain and its
/// aliases, whatever the local domain is called.
const CLUSTER_LOCAL: &str = "cluster.local";

/// The trust domains a proxy accepts peers from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDomains {
    local: String,
    aliases: Vec<String>,
}

// === impl TrustDomains ===

impl TrustDomains {
    /// The local trust domain and its aliases, each checked like a SPIFFE trust domain.
    pub fn try_new<'a>(
        local: &str,
        aliases: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidSpiffeId> {
        check_trust_domain(local)?;
        let mut out = Vec::new();
        for a in aliases {
            check_trust_domain(a)?;
            if a != local && !out.iter().any(|o: &String| o == a) {
                out.push(a.to_owned());
            }
        }
        Ok(TrustDomains {
            local: local.to_owned(),
            aliases: out,
        })
    }

    /// The local trust domain.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The aliases, in the order given, without duplicates or the local domain.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// True when a peer with this identity may be accepted at all.
    pub fn trusts(&self, id: &SpiffeId) -> bool {
        self.is_trusted_domain(id.trust_domain())
    }

    fn is_trusted_domain(&self, td: &str) -> bool {
        td == self.local || self.aliases.iter().any(|a| a == td)
    }

    /// Every identity a policy principal stands for: the same namespace and service account in
    /// the local domain and each alias when the principal's domain is one of them (or
    /// `cluster.local`); otherwise only itself.
    pub fn expand(&self, policy: &SpiffeId) -> Vec<SpiffeId> {
        let td = policy.trust_domain();
        if !(self.is_trusted_domain(td) || td == CLUSTER_LOCAL) {
            return vec![policy.clone()];
        }
        std::iter::once(self.local.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .map(|d| policy.in_trust_domain(d))
            .collect()
    }

    /// Does the peer identity match the identity a policy names, across aliases?
    pub fn matches(&self, policy: &SpiffeId, peer: &SpiffeId) -> bool {
        policy == peer || (self.trusts(peer) && self.expand(policy).iter().any(|p| p == peer))
    }
}

impl Default for TrustDomains {
    /// `cluster.local` with no aliases (Istio's default).
    fn default() -> Self {
        TrustDomains {
            local: CLUSTER_LOCAL.to_owned(),
            aliases: Vec::new(),
        }
    }
}
