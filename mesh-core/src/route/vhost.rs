//! Virtual hosts of one proxy listener: which routes apply to a request's host (spec §1.2).

use crate::fxhash::FxHashMap;
use crate::model::host::HostPattern;

use super::table::RouteTable;

/// A virtual host: a domain and its routes.
#[derive(Clone, Debug)]
pub struct VirtualHost {
    /// The domain pattern.
    pub domain: HostPattern,
    /// The VirtualServices whose routes these are (`ns/name`; several when merged at a
    /// gateway).
    pub virtual_services: Vec<String>,
    /// The routes.
    pub routes: RouteTable,
    /// Gateway `tls.httpsRedirect`: every request is answered 301 to https.
    pub https_redirect: bool,
}

/// The virtual hosts of a listener, indexed by domain.
#[derive(Clone, Debug, Default)]
pub struct VirtualHosts {
    hosts: Vec<VirtualHost>,
    exact: FxHashMap<String, usize>,
    /// `(suffix, vhost)` longest suffix first; `*` has the empty suffix and comes last.
    wildcards: Vec<(String, usize)>,
}

// === impl VirtualHosts ===

impl VirtualHosts {
    /// Adds a virtual host unless its domain is already taken (first one wins).
    pub fn insert(&mut self, vh: VirtualHost) -> bool {
        let taken = match &vh.domain {
            HostPattern::Exact(e) => self.exact.contains_key(e),
            HostPattern::Wildcard(s) => self.wildcards.iter().any(|(w, _)| w == s),
        };
        if taken {
            return false;
        }
        let i = self.hosts.len();
        match &vh.domain {
            HostPattern::Exact(e) => {
                self.exact.insert(e.clone(), i);
            }
            HostPattern::Wildcard(s) => {
                self.wildcards.push((s.clone(), i));
                self.wildcards.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
            }
        }
        self.hosts.push(vh);
        true
    }

    /// The virtual host with exactly this domain, for merging.
    pub fn get_mut(&mut self, domain: &HostPattern) -> Option<&mut VirtualHost> {
        self.hosts.iter_mut().find(|h| &h.domain == domain)
    }

    /// Envoy domain matching for one lower-case host without port: exact, else the longest
    /// matching `*suffix`, else `*`.
    pub fn lookup(&self, host: &str) -> Option<&VirtualHost> {
        if let Some(i) = self.exact.get(host) {
            return self.hosts.get(*i);
        }
        self.wildcards
            .iter()
            .find(|(suffix, _)| host.len() > suffix.len() && host.ends_with(suffix.as_str()))
            .and_then(|(_, i)| self.hosts.get(*i))
    }

    /// Exact matches only.
    pub fn lookup_exact(&self, host: &str) -> Option<&VirtualHost> {
        self.exact.get(host).and_then(|i| self.hosts.get(*i))
    }

    /// All virtual hosts.
    pub fn iter(&self) -> impl Iterator<Item = &VirtualHost> {
        self.hosts.iter()
    }

    /// Number of virtual hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}
