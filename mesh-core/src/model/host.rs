//! Host names: short-name expansion, wildcard patterns, and authority parsing.

use std::borrow::Cow;
use std::net::IpAddr;

/// Istio `ResolveShortnameToFQDN`: a host without a dot that is not an IP and not `*` is
/// expanded relative to the resource's namespace (`reviews` -> `reviews.ns.svc.<domain>`); a
/// host containing a dot is taken literally (`reviews.prod` is NOT expanded).
pub fn fqdn(host: &str, namespace: &str, cluster_domain: &str) -> String {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h.contains('.') || h.contains('*') || h.parse::<IpAddr>().is_ok() || h.is_empty() {
        h
    } else {
        format!("{h}.{namespace}.svc.{cluster_domain}")
    }
}

/// A host pattern: a literal name or `*` followed by a suffix (`*.example.com`, `*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// A literal, lower-cased.
    Exact(String),
    /// `*` + suffix: the suffix is stored without the `*` (`.example.com`, or empty for `*`).
    Wildcard(String),
}

// === impl HostPattern ===

impl HostPattern {
    /// Parses an already-expanded host.
    pub fn new(host: &str) -> Self {
        let h = host.to_ascii_lowercase();
        match h.strip_prefix('*') {
            Some(suffix) => HostPattern::Wildcard(suffix.to_owned()),
            None => HostPattern::Exact(h),
        }
    }

    /// Does this pattern cover `host` (lower-case, no port)? `*.foo.com` covers `a.b.foo.com`
    /// but not `foo.com`; the `*` must stand for at least one character.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(e) => e == host,
            HostPattern::Wildcard(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        }
    }

    /// Istio: two patterns overlap if either covers the other.
    pub fn overlaps(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
            (HostPattern::Wildcard(_), HostPattern::Exact(e)) => self.matches(e),
            (HostPattern::Exact(e), HostPattern::Wildcard(_)) => other.matches(e),
            (HostPattern::Wildcard(a), HostPattern::Wildcard(b)) => {
                a.ends_with(b.as_str()) || b.ends_with(a.as_str())
            }
        }
    }

    /// The more specific of two overlapping patterns (Istio's gateway host intersection):
    /// `*.example.com` and `a.example.com` give `a.example.com`.
    pub fn intersect(&self, other: &HostPattern) -> Option<HostPattern> {
        if !self.overlaps(other) {
            return None;
        }
        Some(match (self, other) {
            (HostPattern::Exact(_), _) => self.clone(),
            (_, HostPattern::Exact(_)) => other.clone(),
            (HostPattern::Wildcard(a), HostPattern::Wildcard(b)) => {
                if a.len() >= b.len() {
                    self.clone()
                } else {
                    other.clone()
                }
            }
        })
    }

    /// The pattern as written (`*.example.com`).
    pub fn to_text(&self) -> String {
        match self {
            HostPattern::Exact(e) => e.clone(),
            HostPattern::Wildcard(s) => format!("*{s}"),
        }
    }
}

/// Splits an authority into lower-case host and port: `Foo.com:8080` -> (`foo.com`, 8080),
/// `[::1]:80` -> (`::1`, 80). A trailing dot is removed (`foo.com.` is `foo.com`). Userinfo is
/// not accepted (the request layer rejects it with 400); it is left in the host so nothing
/// matches it.
pub fn split_authority(authority: &str) -> (Cow<'_, str>, Option<u16>) {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
                Ok(port) => (h, Some(port)),
                Err(_) => (authority, None),
            },
            _ => (authority, None),
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        (Cow::Owned(host.to_ascii_lowercase()), port)
    } else {
        (Cow::Borrowed(host), port)
    }
}

/// The namespace of a cluster-local FQDN (`name.ns.svc.<domain>` -> `ns`).
pub fn namespace_of<'a>(fqdn: &'a str, cluster_domain: &str) -> Option<&'a str> {
    let rest = fqdn.strip_suffix(cluster_domain)?.strip_suffix(".svc.")?;
    let (_, ns) = rest.rsplit_once('.')?;
    Some(ns)
}

#[cfg(test)]
mod tests;
