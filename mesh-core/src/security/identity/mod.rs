//! SPIFFE identities (semantics §6.5, security.md §1.5): `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`
//! parsed and checked once, read from a certificate's single URI SAN, printed as the principal
//! Istio's policies name (`<td>/ns/<ns>/sa/<sa>`), and compared across trust-domain aliases.
//!
//! Plaintext peers have no identity: callers hold an `Option<SpiffeId>` and never an empty
//! string (security.md §1.5, ISTIO-SECURITY-2021-004).

mod svid;
mod trust;

use std::fmt;

pub use self::svid::{InvalidSvid, SvidRole, svid_from_der};
pub use self::trust::TrustDomains;

/// The URI scheme of every SPIFFE ID (lower case only, as go-spiffe requires).
pub const SCHEME: &str = "spiffe://";

/// SPIFFE ID spec: an ID is at most 2048 bytes long.
const MAX_ID_LEN: usize = 2048;

/// SPIFFE ID spec: a trust domain is at most 255 bytes long.
const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// A validated Istio workload identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    trust_domain: String,
    namespace: String,
    service_account: String,
}

/// Why a string is not a SPIFFE ID mesh accepts (security.md C-23).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpiffeId {
    /// The ID does not start with `spiffe://`.
    #[error("{0:?} does not start with spiffe:// (lower case)")]
    Scheme(String),
    /// The ID holds a NUL byte (CVE-2025-66220 class: never truncate, reject).
    #[error("the SPIFFE ID contains a NUL byte")]
    Nul,
    /// The ID is longer than 2048 bytes.
    #[error("the SPIFFE ID is {0} bytes long; at most {MAX_ID_LEN} are allowed")]
    TooLong(usize),
    /// `spiffe:///ns/x/sa/y`.
    #[error("the trust domain is empty")]
    EmptyTrustDomain,
    /// Upper case, a port, user info, percent-encoding, or any other character.
    #[error(
        "trust domain {0:?} is invalid: only lower-case letters, digits, '.', '-' and '_' are \
         allowed (no upper case, port or user info)"
    )]
    TrustDomain(String),
    /// A trust domain longer than 255 bytes.
    #[error("trust domain is {0} bytes long; at most {MAX_TRUST_DOMAIN_LEN} are allowed")]
    TrustDomainTooLong(usize),
    /// `?query` or `#fragment`.
    #[error("a SPIFFE ID may not carry a query or a fragment")]
    QueryOrFragment,
    /// An empty, `.` or `..` segment, or a character outside `[A-Za-z0-9._-]`.
    #[error(
        "path segment {0:?} is invalid: segments are non-empty, not '.' or '..', and use only \
         letters, digits, '.', '-' and '_'"
    )]
    Segment(String),
    /// A valid SPIFFE ID whose path is not `/ns/<namespace>/sa/<service-account>`.
    #[error("path {0:?} is not an Istio workload identity /ns/<namespace>/sa/<service-account>")]
    NotIstioPath(String),
}

// === impl SpiffeId ===

impl SpiffeId {
    /// Parses `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
    pub fn parse(id: &str) -> Result<Self, InvalidSpiffeId> {
        if id.contains('\0') {
            return Err(InvalidSpiffeId::Nul);
        }
        if id.len() > MAX_ID_LEN {
            return Err(InvalidSpiffeId::TooLong(id.len()));
        }
        let rest = id
            .strip_prefix(SCHEME)
            .ok_or_else(|| InvalidSpiffeId::Scheme(id.to_owned()))?;
        Self::parse_principal(rest)
    }

    /// Parses the principal form Istio's policies use (`<td>/ns/<ns>/sa/<sa>`, no scheme).
    pub fn from_principal(principal: &str) -> Result<Self, InvalidSpiffeId> {
        if principal.contains('\0') {
            return Err(InvalidSpiffeId::Nul);
        }
        if principal.len() + SCHEME.len() > MAX_ID_LEN {
            return Err(InvalidSpiffeId::TooLong(principal.len() + SCHEME.len()));
        }
        Self::parse_principal(principal)
    }

    fn parse_principal(rest: &str) -> Result<Self, InvalidSpiffeId> {
        if rest.contains(['?', '#']) {
            return Err(InvalidSpiffeId::QueryOrFragment);
        }
        let (td, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        check_trust_domain(td)?;
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        for s in &segments {
            check_segment(s)?;
        }
        match segments.as_slice() {
            ["ns", ns, "sa", sa] => Ok(SpiffeId {
                trust_domain: td.to_owned(),
                namespace: (*ns).to_owned(),
                service_account: (*sa).to_owned(),
            }),
            _ => Err(InvalidSpiffeId::NotIstioPath(path.to_owned())),
        }
    }

    /// Builds an identity from its parts, checking each.
    pub fn new(
        trust_domain: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Self, InvalidSpiffeId> {
        Self::from_principal(&format!(
            "{trust_domain}/ns/{namespace}/sa/{service_account}"
        ))
    }

    /// The trust domain (`cluster.local`).
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The service account.
    pub fn service_account(&self) -> &str {
        &self.service_account
    }

    /// The principal Istio's policies and `source.principal` use: the ID without `spiffe://`.
    pub fn principal(&self) -> String {
        format!(
            "{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }

    /// The same workload in another (already validated) trust domain.
    pub(crate) fn in_trust_domain(&self, trust_domain: &str) -> SpiffeId {
        SpiffeId {
            trust_domain: trust_domain.to_owned(),
            ..self.clone()
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.principal())
    }
}

impl std::str::FromStr for SpiffeId {
    type Err = InvalidSpiffeId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpiffeId::parse(s)
    }
}

/// SPIFFE ID spec §2.1: `[a-z0-9._-]+`, at most 255 bytes.
pub(crate) fn check_trust_domain(td: &str) -> Result<(), InvalidSpiffeId> {
    if td.is_empty() {
        return Err(InvalidSpiffeId::EmptyTrustDomain);
    }
    if td.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(InvalidSpiffeId::TrustDomainTooLong(td.len()));
    }
    let ok = td
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(InvalidSpiffeId::TrustDomain(td.to_owned()))
    }
}

/// SPIFFE ID spec §2.2: segments are `[A-Za-z0-9._-]+` and never `.` or `..`.
fn check_segment(s: &str) -> Result<(), InvalidSpiffeId> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(InvalidSpiffeId::Segment(s.to_owned()))
    }
}

#[cfg(test)]
mod tests;
