//! Connection facts the TLS acceptor (or the plaintext listener) attaches to every request as
//! an `http::Request` extension, and that the security layers read: the peer's mTLS identity,
//! addresses, destination port and SNI. Shared by the authorization and mTLS layers.
//!
//! Identity is an `Option`: a plaintext peer has none, and every identity matcher must spell out
//! what it does with `None` (security.md §1.5, ISTIO-SECURITY-2021-004).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The peer's mTLS identity: a SPIFFE ID, kept as the principal string Istio matches on
/// (`<trust-domain>/ns/<ns>/sa/<sa>`, the URI SAN without `spiffe://`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    principal: String,
}

/// Why a string is not a peer identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPeerIdentity {
    /// Empty principal or empty trust domain.
    #[error("peer identity {0:?} has an empty trust domain")]
    EmptyTrustDomain(String),
    /// A character a SPIFFE ID cannot hold (NUL, whitespace, `%`, `?`, `#`, non-ASCII...).
    #[error("peer identity {0:?} contains a character a SPIFFE ID cannot contain")]
    BadCharacter(String),
    /// A URI that is not `spiffe://`.
    #[error("peer identity {0:?} is not a spiffe:// URI")]
    NotSpiffe(String),
}

/// Facts about the connection a request arrived on. The listener inserts one per request
/// (`req.extensions_mut().insert(facts.clone())`); a request without it is judged as plaintext
/// with unknown addresses, which fails closed for ALLOW policies on addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFacts {
    /// The mTLS peer identity; `None` for plaintext (or TLS without a client certificate).
    pub peer: Option<PeerIdentity>,
    /// The direct peer address (`source.ip`, `ipBlocks`).
    pub source_ip: Option<IpAddr>,
    /// The original client address (`remote.ip`, `remoteIpBlocks`), from `X-Forwarded-For` per
    /// `numTrustedProxies` or PROXY protocol ([`remote_ip_from_xff`]); `None` means "use
    /// `source_ip`", as Envoy does.
    pub remote_ip: Option<IpAddr>,
    /// The local address the connection was accepted on (`destination.ip`).
    pub destination_ip: Option<IpAddr>,
    /// The local (workload) port the connection was accepted on (`ports`, `destination.port`).
    pub destination_port: u16,
    /// SNI from the ClientHello (`connection.sni`).
    pub sni: Option<String>,
}

/// A validated JWT's attributes (`requestPrincipals`, `request.auth.*`), set by a
/// RequestAuthentication layer. A request without it has no request principal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestAuth {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud`.
    pub audiences: Vec<String>,
    /// `azp`.
    pub presenter: Option<String>,
    /// Claims as JSON (strings and lists of strings are matchable).
    pub claims: BTreeMap<String, serde_json::Value>,
}

// === impl PeerIdentity ===

impl From<&crate::security::identity::SpiffeId> for PeerIdentity {
    /// A fully validated SPIFFE ID (e.g. from the peer's certificate, [`svid_from_der`]) as the
    /// principal the policies match.
    ///
    /// [`svid_from_der`]: crate::security::identity::svid_from_der
    fn from(id: &crate::security::identity::SpiffeId) -> Self {
        PeerIdentity {
            principal: id.principal(),
        }
    }
}

impl PeerIdentity {
    /// From a principal (`td/ns/x/sa/y`): a non-empty trust domain and only characters a
    /// SPIFFE ID may contain.
    pub fn from_principal(principal: &str) -> Result<Self, InvalidPeerIdentity> {
        let td = principal.split('/').next().unwrap_or("");
        if td.is_empty() {
            return Err(InvalidPeerIdentity::EmptyTrustDomain(principal.to_owned()));
        }
        let ok = principal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
        if !ok {
            return Err(InvalidPeerIdentity::BadCharacter(principal.to_owned()));
        }
        Ok(PeerIdentity {
            principal: principal.to_owned(),
        })
    }

    /// From a URI SAN (`spiffe://td/ns/x/sa/y`).
    pub fn from_spiffe_uri(uri: &str) -> Result<Self, InvalidPeerIdentity> {
        let rest = uri
            .strip_prefix("spiffe://")
            .ok_or_else(|| InvalidPeerIdentity::NotSpiffe(uri.to_owned()))?;
        Self::from_principal(rest)
    }

    /// The principal: the SPIFFE ID without `spiffe://`.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The trust domain (before the first `/`).
    pub fn trust_domain(&self) -> &str {
        self.principal.split('/').next().unwrap_or("")
    }

    /// The namespace of a `td/ns/<ns>/sa/<sa>` identity.
    pub fn namespace(&self) -> Option<&str> {
        let mut parts = self.principal.split('/').skip(1);
        (parts.next() == Some("ns")).then(|| parts.next()).flatten()
    }

    /// The service account of a `td/ns/<ns>/sa/<sa>` identity.
    pub fn service_account(&self) -> Option<&str> {
        let parts: Vec<&str> = self.principal.split('/').collect();
        match parts.as_slice() {
            [_, "ns", _, "sa", sa] => Some(sa),
            _ => None,
        }
    }
}

// === impl ConnectionFacts ===

impl ConnectionFacts {
    /// A plaintext connection from `source_ip` to local port `destination_port`.
    pub fn plaintext(source_ip: IpAddr, destination_port: u16) -> Self {
        ConnectionFacts {
            source_ip: Some(source_ip),
            destination_port,
            ..ConnectionFacts::default()
        }
    }

    /// The same facts with an mTLS peer identity.
    pub fn with_peer(mut self, peer: PeerIdentity) -> Self {
        self.peer = Some(peer);
        self
    }

    /// `remote.ip`: the forwarded client address, else the direct peer.
    pub fn effective_remote_ip(&self) -> Option<IpAddr> {
        self.remote_ip.or(self.source_ip)
    }
}

/// Istio `numTrustedProxies` (security.md §1.6): the client address is the `n`-th entry from
/// the right of `X-Forwarded-For` (all header instances, in order, joined). With `n == 0`, or
/// fewer than `n` entries, or an entry that is not a bare IP address, the header is ignored and
/// `None` is returned (use the direct peer): a spoofed or malformed header never picks the
/// address.
pub fn remote_ip_from_xff<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    num_trusted_proxies: usize,
) -> Option<IpAddr> {
    if num_trusted_proxies == 0 {
        return None;
    }
    let mut entries: Vec<&[u8]> = Vec::new();
    for v in values {
        entries.extend(v.split(|b| *b == b','));
    }
    let idx = entries.len().checked_sub(num_trusted_proxies)?;
    let entry = std::str::from_utf8(entries[idx]).ok()?.trim();
    entry.parse().ok()
}

#[cfg(test)]
mod tests;
