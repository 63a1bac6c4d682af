//! The label set of Istio's request metrics. Label values are shared strings ([`Label`]) and
//! the status code a number, so giving a request its labels costs reference counts rather
//! than allocations; the `destination_service*` labels of an authority are worked out once
//! and kept ([`DestinationCache`]).

use std::sync::{Arc, RwLock};

use mesh_core::fxhash::FxHashMap;
use prometheus_client::encoding::EncodeLabelSet;

/// A label value, shared by every request that carries it.
pub type Label = Arc<str>;

/// Labels of `istio_requests_total` (Istio standard metric labels).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `source` on the outbound path, `destination` on the inbound path.
    pub reporter: &'static str,
    /// The peer's SPIFFE principal (`spiffe://...`), or `unknown` for plaintext.
    pub source_principal: Label,
    /// The calling workload's name (`unknown` inbound: peer metadata is not exchanged).
    pub source_workload: Label,
    /// The peer's namespace from its identity, or `unknown`.
    pub source_workload_namespace: Label,
    /// The calling workload's `app` label (`unknown` inbound, or when it has none).
    pub source_app: Label,
    /// The service addressed: the `Host`/`:authority` without its port.
    pub destination_service: Label,
    /// Its short name (the first DNS label of a `<name>.<namespace>...` host).
    pub destination_service_name: Label,
    /// Its namespace (the second label of a Kubernetes-style host), or `unknown`.
    pub destination_service_namespace: Label,
    /// The serving workload's name (`unknown` outbound until a peer says).
    pub destination_workload: Label,
    /// The serving workload's namespace.
    pub destination_workload_namespace: Label,
    /// The serving workload's principal.
    pub destination_principal: Label,
    /// HTTP status sent to the client (0 until the response is known).
    pub response_code: u16,
    /// Envoy-style response flags (`-` when none).
    pub response_flags: &'static str,
    /// `mutual_tls` or `none`.
    pub connection_security_policy: &'static str,
}

/// The value of a label nothing tells.
pub const UNKNOWN: &str = "unknown";

/// The `destination_service*` labels of a request, from its `Host`/`:authority`: a
/// Kubernetes-style host `<name>.<namespace>.svc[.<domain>]` gives name and namespace; a
/// single label is a service of the caller's namespace (`default_namespace`, DNS search path);
/// anything else (`example.com`) is its own name, namespace `unknown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationService {
    /// `destination_service`.
    pub service: Label,
    /// `destination_service_name`.
    pub name: Label,
    /// `destination_service_namespace`.
    pub namespace: Label,
}

// === impl DestinationService ===

impl DestinationService {
    /// The labels of a request with these headers and URI.
    pub fn of<B>(req: &http::Request<B>, default_namespace: &str) -> Self {
        Self::from_authority(authority_of(req), default_namespace)
    }

    /// The labels of `authority` (`host[:port]`).
    pub fn from_authority(authority: &str, default_namespace: &str) -> Self {
        let host = match authority.parse::<http::uri::Authority>() {
            Ok(a) => a.host().to_ascii_lowercase(),
            Err(_) => return Self::unknown(),
        };
        if host.is_empty() {
            return Self::unknown();
        }
        let mut parts = host.split('.');
        let (name, namespace) = match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, _) => (name, default_namespace),
            (Some(name), Some(ns), Some("svc")) => (name, ns),
            _ => (host.as_str(), UNKNOWN),
        };
        DestinationService {
            name: name.into(),
            namespace: namespace.into(),
            service: host.as_str().into(),
        }
    }

    fn unknown() -> Self {
        let unknown: Label = UNKNOWN.into();
        DestinationService {
            service: unknown.clone(),
            name: unknown.clone(),
            namespace: unknown,
        }
    }

    /// Sets the three labels.
    pub fn fill(self, labels: &mut RequestLabels) {
        labels.destination_service = self.service;
        labels.destination_service_name = self.name;
        labels.destination_service_namespace = self.namespace;
    }
}

/// The request's authority: the URI's (HTTP/2, absolute form), else `Host`, else empty.
fn authority_of<B>(req: &http::Request<B>) -> &str {
    req.uri()
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| req.headers().get(http::header::HOST)?.to_str().ok())
        .unwrap_or_default()
}

/// The [`DestinationService`] of each authority seen, for one default namespace. Authorities
/// come from clients, so the table is bounded: past [`DestinationCache::CAPACITY`] entries it
/// starts over.
#[derive(Debug)]
pub struct DestinationCache {
    default_namespace: Label,
    known: RwLock<FxHashMap<Box<str>, DestinationService>>,
}

// === impl DestinationCache ===

impl DestinationCache {
    /// Authorities kept at most.
    pub const CAPACITY: usize = 1024;

    /// An empty table; single-label hosts belong to `default_namespace`.
    pub fn new(default_namespace: &str) -> Self {
        DestinationCache {
            default_namespace: default_namespace.into(),
            known: RwLock::default(),
        }
    }

    /// Authorities known now (at most [`DestinationCache::CAPACITY`]).
    pub fn len(&self) -> usize {
        self.known.read().map_or(0, |k| k.len())
    }

    /// Whether no authority is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of `req`'s authority, as [`DestinationService::of`] gives them.
    pub fn of<B>(&self, req: &http::Request<B>) -> DestinationService {
        let authority = authority_of(req);
        if let Some(d) = self
            .known
            .read()
            .ok()
            .and_then(|k| k.get(authority).cloned())
        {
            return d;
        }
        let d = DestinationService::from_authority(authority, &self.default_namespace);
        if let Ok(mut known) = self.known.write() {
            if known.len() >= Self::CAPACITY {
                known.clear();
            }
            known.insert(authority.into(), d.clone());
        }
        d
    }
}
