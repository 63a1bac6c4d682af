//! `explain`: every decision the mesh makes for one request, as one JSON document. This is the
//! decision schema shared by the CLI and the Python, Node and C bindings (documented in the
//! README).

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::model::{Mesh, Workload};
use crate::route::{RouteRequest, VirtualHosts};
use crate::security::normalize;

pub use self::authz::AuthzView;

mod authz;
mod policy;
mod request;
mod route;
mod view;

mod mtls;

pub use self::mtls::{DecidedByView, IgnoredView, MtlsView};
pub use self::view::*;

use self::policy::{policy_view, profile_view};
use self::request::{ParsedRequest, parse_request};
use self::route::{percent, route_view};

/// Where the request is evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyScope {
    /// The sidecar beside a workload (outbound).
    Sidecar(Workload),
    /// A gateway (`ns/name`) listener port; the workload is the gateway's own deployment.
    Gateway {
        /// `ns/name` of the Gateway resource.
        gateway: String,
        /// Server port.
        port: u16,
    },
}

/// A request to explain.
#[derive(Clone, Debug)]
pub struct ExplainRequest {
    /// Method as sent.
    pub method: String,
    /// Absolute URL (`http://host[:port]/path?query`) or origin-form with a `host` header.
    pub url: String,
    /// Headers (names case-insensitive).
    pub headers: Vec<(String, String)>,
    /// The evaluating proxy.
    pub scope: ProxyScope,
    /// The peer: who sent the request on which connection.
    pub source: SourceFacts,
    /// The receiving workload for authorization and mTLS (default: the sidecar's own).
    pub destination: Option<Workload>,
    /// Seed for the weighted picks.
    pub seed: u64,
}

// === impl ExplainRequest ===

impl ExplainRequest {
    /// A request from a `"METHOD URL"` line and `(name, value)` headers, evaluated at `scope`
    /// with no peer identity and seed 0.
    pub fn from_line(
        line: &str,
        headers: &[(&str, &str)],
        scope: ProxyScope,
    ) -> Result<Self, ExplainError> {
        let (method, url) = line
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| ExplainError::Url(line.to_owned()))?;
        Ok(ExplainRequest {
            method: method.to_owned(),
            url: url.trim().to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            scope,
            source: SourceFacts::default(),
            destination: None,
            seed: 0,
        })
    }

    /// The workload that receives the request (for `mtls` and `authz`), and its labels.
    pub fn with_destination(mut self, destination: Workload) -> Self {
        self.destination = Some(destination);
        self
    }

    /// The same request with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The peer of a request, as the receiving side's TLS acceptor would see it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceFacts {
    /// The peer principal (`cluster.local/ns/x/sa/y`); only with mTLS.
    pub principal: Option<String>,
    /// The peer namespace; only with mTLS.
    pub namespace: Option<String>,
    /// The peer IP.
    pub ip: Option<String>,
    /// True when the connection is mutual TLS.
    pub mtls: bool,
}

/// Why a request could not be explained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The URL is not an absolute URL or a path.
    #[error("invalid URL {0:?}: expected http://host/path or https://host/path")]
    Url(String),
    /// A method that is not an HTTP token.
    #[error("invalid method {0:?}")]
    Method(String),
    /// A header that cannot be sent.
    #[error("invalid header {0:?}")]
    Header(String),
    /// No host in the URL or headers.
    #[error("the request has no host: give an absolute URL or a host header")]
    NoHost,
    /// The gateway or port does not exist.
    #[error("gateway {gateway:?} has no server on port {port} among the loaded resources")]
    UnknownGateway {
        /// The gateway.
        gateway: String,
        /// The port.
        port: u16,
    },
}

/// The decision document.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Explanation {
    /// The request as understood.
    pub request: RequestView,
    /// The proxy that evaluated it.
    pub proxy: ProxyView,
    /// The peer (identity fields are dropped without mTLS: plaintext carries no identity).
    pub source: SourceFacts,
    /// The service the host stands for.
    pub service: String,
    /// VirtualService routing.
    pub route: RouteView,
    /// DestinationRule policy for the picked destination (`null` when nothing is forwarded).
    pub destination_policy: Option<PolicyView>,
    /// Linkerd ServiceProfile decision for the service.
    pub profile: Option<ProfileView>,
    /// SMI TrafficSplit decision for the service.
    pub traffic_split: Option<SplitView>,
    /// Peer authentication of the receiving workload on the request's port.
    pub mtls: Option<MtlsView>,
    /// AuthorizationPolicy verdict at the receiving workload (`null` at a gateway without a
    /// destination workload).
    pub authz: Option<AuthzView>,
    /// Defaults applied and quirks met, in words.
    pub notes: Vec<String>,
}

// === explain ===

/// Explains one request against a mesh snapshot.
pub fn explain(mesh: &Mesh, req: &ExplainRequest) -> Result<Explanation, ExplainError> {
    let parsed = parse_request(req)?;
    let view = parsed.view();
    let normalized = normalized_path(mesh, &view);
    let rr = route_request(&view, &parsed, &normalized);
    let mut rng = StdRng::seed_from_u64(req.seed);
    let mut notes = Vec::new();
    let (client_ns, proxy) = match &req.scope {
        ProxyScope::Sidecar(w) => (
            w.namespace.clone(),
            ProxyView::Sidecar {
                workload: format!("{}/{}", w.namespace, w.name),
                labels: w.labels.clone(),
            },
        ),
        ProxyScope::Gateway { gateway, port } => (
            gateway.split('/').next().unwrap_or("default").to_owned(),
            ProxyView::Gateway {
                gateway: gateway.clone(),
                port: *port,
            },
        ),
    };
    let (route, service) = decide_route(
        mesh,
        req,
        None,
        &rr,
        &normalized,
        &view,
        &mut rng,
        &mut notes,
    )?;
    let destination_policy = route.picked.as_ref().map(|p| {
        let policy = mesh.destination_policy(&p.host, &client_ns, p.subset.as_deref(), p.port);
        policy_view(mesh, &p.host, policy, &mut notes)
    });
    let profile_target = route
        .picked
        .as_ref()
        .map_or(service.as_str(), |p| p.host.as_str());
    let profile = mesh
        .profile(profile_target, &client_ns)
        .map(|p| profile_view(p, &rr, &mut rng, &mut notes));
    let traffic_split = mesh.traffic_split(profile_target).map(|s| {
        let picked = s
            .set
            .as_ref()
            .map_or_else(|| s.apex.clone(), |set| set.pick(&mut rng).1.clone());
        let total: u64 = s.backends.iter().map(|(_, w)| *w).sum();
        SplitView {
            traffic_split: s.name.clone(),
            apex: s.apex.clone(),
            backends: s
                .backends
                .iter()
                .map(|(b, w)| SplitBackendView {
                    service: b.clone(),
                    weight_milli: *w,
                    percent: percent(*w, total),
                })
                .collect(),
            picked,
        }
    });
    let receiver = receiving_workload(mesh, req);
    let mtls = mtls::mtls_view(mesh, &receiver, view.port, &req.source, &mut notes);
    let source = if req.source.mtls {
        req.source.clone()
    } else {
        SourceFacts {
            principal: None,
            namespace: None,
            ..req.source.clone()
        }
    };
    let authz = authz::view(mesh, None, req, &view, &parsed.headers, &mut notes);
    Ok(Explanation {
        request: view,
        proxy,
        source,
        service,
        route,
        destination_policy,
        profile,
        traffic_split,
        mtls,
        authz,
        notes,
    })
}

/// Only the `authz` key of [`explain`], judged with `policies` compiled once by the caller
/// ([`AuthzPolicies::from_mesh`](crate::security::authz::AuthzPolicies::from_mesh) of this
/// `mesh`): what the bindings' `authorize` returns. `None` at a gateway without a destination.
pub fn authz(
    mesh: &Mesh,
    policies: &crate::security::authz::AuthzPolicies,
    req: &ExplainRequest,
) -> Result<Option<AuthzView>, ExplainError> {
    let parsed = parse_request(req)?;
    let view = parsed.view();
    let mut notes = Vec::new();
    Ok(authz::view(
        mesh,
        Some(policies),
        req,
        &view,
        &parsed.headers,
        &mut notes,
    ))
}

/// Only the `route` key of [`explain`], for the same request and seed (the same destination is
/// picked), without the policy, profile and security keys: what the bindings' `route` returns.
pub fn route(mesh: &Mesh, req: &ExplainRequest) -> Result<RouteView, ExplainError> {
    route_with(mesh, None, req)
}

/// [`route`] with the sidecar's virtual hosts built beforehand
/// ([`Mesh::sidecar_routes`] of the request's workload, which callers evaluating many
/// requests for one workload cache); `None` builds them. Ignored at a gateway.
pub fn route_with(
    mesh: &Mesh,
    sidecar: Option<&VirtualHosts>,
    req: &ExplainRequest,
) -> Result<RouteView, ExplainError> {
    let parsed = parse_request(req)?;
    let view = parsed.view();
    let normalized = normalized_path(mesh, &view);
    let rr = route_request(&view, &parsed, &normalized);
    let mut rng = StdRng::seed_from_u64(req.seed);
    let mut notes = Vec::new();
    let routed = decide_route(
        mesh,
        req,
        sidecar,
        &rr,
        &normalized,
        &view,
        &mut rng,
        &mut notes,
    );
    routed.map(|(r, _)| r)
}

/// Istio normalizes the path once, before routing and authorization (spec §6.8).
fn normalized_path<'v>(
    mesh: &Mesh,
    view: &'v RequestView,
) -> Result<normalize::NormalizedPath<'v>, normalize::Rejected> {
    let mode = mesh.config().path_normalization;
    normalize::check_method(&view.method).and_then(|()| normalize::normalize(&view.path, mode))
}

/// The routing facts of the request, with the normalized path when there is one.
fn route_request<'a>(
    view: &'a RequestView,
    parsed: &'a ParsedRequest,
    normalized: &'a Result<normalize::NormalizedPath<'a>, normalize::Rejected>,
) -> RouteRequest<'a> {
    RouteRequest {
        method: &view.method,
        scheme: &view.scheme,
        authority: &view.authority,
        path: normalized
            .as_ref()
            .map_or(view.path.as_str(), |n| n.path.as_ref()),
        query: view.query.as_deref(),
        headers: &parsed.headers,
        port: view.port,
    }
}

/// Routes at the sidecar or gateway of `req.scope`: the route view and the service the request
/// is for. A request that cannot be normalized safely is answered 400 and never routed.
#[allow(clippy::too_many_arguments)]
fn decide_route(
    mesh: &Mesh,
    req: &ExplainRequest,
    sidecar: Option<&VirtualHosts>,
    rr: &RouteRequest<'_>,
    normalized: &Result<normalize::NormalizedPath<'_>, normalize::Rejected>,
    view: &RequestView,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> Result<(RouteView, String), ExplainError> {
    let (route, service) = match &req.scope {
        ProxyScope::Sidecar(w) => {
            let built;
            let vhosts = match sidecar {
                Some(v) => v,
                None => {
                    built = mesh.sidecar_routes(w);
                    &built
                }
            };
            let (decision, res) = mesh.route_sidecar(vhosts, &w.namespace, rr);
            let route = route_view(mesh, decision, rr, &res.service, rng, notes);
            (route, res.service)
        }
        ProxyScope::Gateway { gateway, port } => {
            let vhosts = mesh.gateway_routes(gateway, *port).ok_or_else(|| {
                ExplainError::UnknownGateway {
                    gateway: gateway.clone(),
                    port: *port,
                }
            })?;
            let (decision, host) = Mesh::route_gateway(&vhosts, rr);
            let route = route_view(mesh, decision, rr, &host, rng, notes);
            (route, host)
        }
    };
    let route = match normalized {
        Ok(n) => {
            if n.path != view.path {
                notes.push(format!(
                    "path normalized ({}) to {:?} before routing and authorization",
                    mesh.config().path_normalization.name(),
                    n.path
                ));
            }
            route
        }
        Err(why) => {
            notes.push(format!("rejected with 400 before routing: {why}"));
            RouteView {
                action: "rejected",
                status: Some(400),
                ..RouteView::default()
            }
        }
    };
    Ok((route, service))
}

/// The workload receiving the request: the one named, else the sidecar's own workload, else
/// the gateway's deployment (its namespace and selector labels).
fn receiving_workload(mesh: &Mesh, req: &ExplainRequest) -> Workload {
    if let Some(w) = &req.destination {
        return w.clone();
    }
    match &req.scope {
        ProxyScope::Sidecar(w) => w.clone(),
        ProxyScope::Gateway { gateway, .. } => {
            let (namespace, name) = gateway.split_once('/').unwrap_or(("default", gateway));
            Workload {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                labels: mesh
                    .gateways()
                    .iter()
                    .find(|g| g.name == *gateway)
                    .map(|g| g.spec.selector.clone())
                    .unwrap_or_default(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
