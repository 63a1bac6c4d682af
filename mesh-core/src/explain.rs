//! `explain`: every decision the mesh makes for one request, as one JSON document. This is the
//! decision schema shared by the CLI and the Python, Node and C bindings (documented in the
//! README).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::model::destination::{DestinationPolicy, HashAlgorithm, HashKey, LoadBalancer};
use crate::model::{Mesh, Workload};
use crate::profile::CompiledProfile;
use crate::route::action::{AbortError, Action, Forward, HeaderOps, RetryPolicy};
use crate::route::{Decision, RouteEntry, RouteRequest};
use crate::security::normalize;

pub use self::authz::AuthzView;

mod authz;

mod mtls;

pub use self::mtls::{DecidedByView, IgnoredView, MtlsView};

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

/// The request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequestView {
    /// Method.
    pub method: String,
    /// Scheme.
    pub scheme: String,
    /// Authority as sent.
    pub authority: String,
    /// Host without port.
    pub host: String,
    /// Listener port.
    pub port: u16,
    /// Path.
    pub path: String,
    /// Query.
    pub query: Option<String>,
}

/// The evaluating proxy.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProxyView {
    /// A sidecar.
    Sidecar {
        /// `ns/name`.
        workload: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// A gateway.
    Gateway {
        /// `ns/name`.
        gateway: String,
        /// Port.
        port: u16,
    },
}

/// The routing decision.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RouteView {
    /// `ns/name` of the VirtualService, `null` for the default route.
    pub virtual_service: Option<String>,
    /// Index in `spec.http`, `null` for the default route.
    pub rule: Option<usize>,
    /// The rule's name.
    pub rule_name: Option<String>,
    /// Index in the rule's `match`, `null` for a rule without match.
    #[serde(rename = "match")]
    pub match_index: Option<usize>,
    /// `route`, `redirect`, `direct_response`, `not_found`, or `rejected` (400: the path cannot
    /// be normalized safely, so the request is never routed).
    pub action: &'static str,
    /// The status the proxy answers itself (404, redirect, direct response).
    pub status: Option<u16>,
    /// Weighted destinations.
    pub destinations: Vec<DestinationView>,
    /// The destination picked with the seed.
    pub picked: Option<DestinationView>,
    /// Route timeout; `null` is disabled (Istio's default).
    pub timeout_ms: Option<u64>,
    /// Retry policy.
    pub retries: Option<RetriesView>,
    /// Fault injection.
    pub fault: Option<FaultView>,
    /// Mirrors.
    pub mirror: Vec<MirrorView>,
    /// Redirect.
    pub redirect: Option<RedirectView>,
    /// Direct response.
    pub direct_response: Option<DirectResponseView>,
    /// Rewrite.
    pub rewrite: Option<RewriteView>,
    /// Header operations (route then picked destination).
    pub headers: Option<HeadersView>,
}

/// A destination.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DestinationView {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Weight as configured.
    pub weight: u64,
    /// Share of traffic in percent.
    pub percent: f64,
}

/// Retries.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RetriesView {
    /// Retries allowed (tries = attempts + 1).
    pub attempts: u32,
    /// Per-try timeout.
    pub per_try_timeout_ms: Option<u64>,
    /// Conditions.
    pub retry_on: Vec<String>,
    /// Status codes retried.
    pub retriable_status_codes: Vec<u16>,
    /// Base backoff.
    pub backoff_base_ms: u64,
    /// Avoid the previous host.
    pub retry_ignore_previous_hosts: bool,
    /// True when this is the mesh default (the route has no `retries`).
    pub default: bool,
}

/// Fault injection.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultView {
    /// Delay.
    pub delay: Option<FaultDelayView>,
    /// Abort.
    pub abort: Option<FaultAbortView>,
}

/// Delay.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultDelayView {
    /// Delay.
    pub fixed_delay_ms: u64,
    /// Percent of requests.
    pub percentage: f64,
}

/// Abort.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultAbortView {
    /// HTTP status.
    pub http_status: Option<u16>,
    /// gRPC status.
    pub grpc_status: Option<String>,
    /// Percent of requests.
    pub percentage: f64,
}

/// A mirror.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MirrorView {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Percent of requests.
    pub percentage: f64,
}

/// Redirect.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RedirectView {
    /// Status.
    pub status: u16,
    /// Location.
    pub location: String,
}

/// Direct response.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DirectResponseView {
    /// Status.
    pub status: u16,
    /// Body (lossy UTF-8).
    pub body: Option<String>,
}

/// Rewrite.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RewriteView {
    /// Path forwarded.
    pub path: String,
    /// Authority forwarded.
    pub authority: Option<String>,
}

/// Header operations.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HeadersView {
    /// On the request.
    pub request: OpsView,
    /// On the response.
    pub response: OpsView,
}

/// One direction's operations.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct OpsView {
    /// Set.
    pub set: BTreeMap<String, String>,
    /// Add.
    pub add: BTreeMap<String, String>,
    /// Remove.
    pub remove: Vec<String>,
}

/// DestinationRule policy.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PolicyView {
    /// The DestinationRule whose top-level policy applies (`ns/name`), `null` for defaults.
    pub destination_rule: Option<String>,
    /// Every DestinationRule merged for the host (same namespace, same host; the first top-level
    /// policy and the first definition of each subset win).
    pub destination_rules: Vec<String>,
    /// Subset and its labels; `labels: null` when no DestinationRule defines it (503 `NC`).
    pub subset: Option<SubsetView>,
    /// Load balancer.
    pub load_balancer: serde_json::Value,
    /// Circuit-breaker thresholds and pool settings.
    pub connection_pool: serde_json::Value,
    /// Outlier detection; `null` when not configured.
    pub outlier_detection: Option<serde_json::Value>,
    /// Endpoints from ServiceEntry/WorkloadEntry (after subset selection).
    pub endpoints: Vec<String>,
}

/// A subset.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SubsetView {
    /// Name.
    pub name: String,
    /// Labels, `null` when undefined.
    pub labels: Option<BTreeMap<String, String>>,
}

/// ServiceProfile decision.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProfileView {
    /// `ns/name`.
    pub service_profile: String,
    /// Matched route name, `null` for the default route.
    pub route: Option<String>,
    /// Route timeout.
    pub timeout_ms: Option<u64>,
    /// Retryable within the budget.
    pub retryable: bool,
    /// Budget.
    pub retry_budget: serde_json::Value,
    /// Response classes, in order.
    pub response_classes: Vec<serde_json::Value>,
    /// `dstOverrides` pick, when configured.
    pub dst_override: Option<String>,
}

/// TrafficSplit decision.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SplitView {
    /// `ns/name`.
    pub traffic_split: String,
    /// Apex FQDN.
    pub apex: String,
    /// Backends.
    pub backends: Vec<SplitBackendView>,
    /// The backend picked with the seed (the apex when no weight is positive).
    pub picked: String,
}

/// A TrafficSplit backend.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SplitBackendView {
    /// Service FQDN.
    pub service: String,
    /// Weight in milli-units.
    pub weight_milli: u64,
    /// Share in percent.
    pub percent: f64,
}

// === explain ===

/// Explains one request against a mesh snapshot.
pub fn explain(mesh: &Mesh, req: &ExplainRequest) -> Result<Explanation, ExplainError> {
    let parsed = parse_request(req)?;
    let view = parsed.view();
    // Istio normalizes the path once, before routing and authorization (spec §6.8); a request
    // that cannot be normalized safely is answered 400 and never routed.
    let mode = mesh.config().path_normalization;
    let normalized =
        normalize::check_method(&view.method).and_then(|()| normalize::normalize(&view.path, mode));
    let route_path = normalized
        .as_ref()
        .map_or(view.path.as_str(), |n| n.path.as_ref());
    let rr = RouteRequest {
        method: &view.method,
        scheme: &view.scheme,
        authority: &view.authority,
        path: route_path,
        query: view.query.as_deref(),
        headers: &parsed.headers,
        port: view.port,
    };
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
    let (route, service) = match &req.scope {
        ProxyScope::Sidecar(w) => {
            let vhosts = mesh.sidecar_routes(w);
            let (decision, res) = mesh.route_sidecar(&vhosts, &w.namespace, &rr);
            let route = route_view(mesh, decision, &rr, &res.service, &mut rng, &mut notes);
            (route, res.service)
        }
        ProxyScope::Gateway { gateway, port } => {
            let vhosts = mesh.gateway_routes(gateway, *port).ok_or_else(|| {
                ExplainError::UnknownGateway {
                    gateway: gateway.clone(),
                    port: *port,
                }
            })?;
            let (decision, host) = Mesh::route_gateway(&vhosts, &rr);
            let route = route_view(mesh, decision, &rr, &host, &mut rng, &mut notes);
            (route, host)
        }
    };
    let route = match &normalized {
        Ok(n) => {
            if n.path != view.path {
                notes.push(format!(
                    "path normalized ({}) to {:?} before routing and authorization",
                    mode.name(),
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
    let authz = authz::view(mesh, req, &view, &parsed.headers, &mut notes);
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

struct ParsedRequest {
    method: String,
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
    headers: http::HeaderMap,
}

impl ParsedRequest {
    fn view(&self) -> RequestView {
        let host = crate::model::host::split_authority(&self.authority)
            .0
            .into_owned();
        RequestView {
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
            host,
            port: crate::route::port_of(&self.authority, &self.scheme),
            path: self.path.clone(),
            query: self.query.clone(),
        }
    }
}

fn parse_request(req: &ExplainRequest) -> Result<ParsedRequest, ExplainError> {
    if req.method.is_empty() || !req.method.bytes().all(crate::validate::common::is_tchar) {
        return Err(ExplainError::Method(req.method.clone()));
    }
    let mut headers = http::HeaderMap::new();
    for (k, v) in &req.headers {
        let name = http::HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| ExplainError::Header(k.clone()))?;
        let value = http::HeaderValue::from_str(v.trim())
            .map_err(|_| ExplainError::Header(format!("{k}: {v}")))?;
        headers.append(name, value);
    }
    let uri: http::Uri = req
        .url
        .parse()
        .map_err(|_| ExplainError::Url(req.url.clone()))?;
    let authority = match uri.authority() {
        Some(a) => a.as_str().to_owned(),
        None => headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .ok_or(ExplainError::NoHost)?,
    };
    if uri.authority().is_some() && uri.scheme().is_none() {
        return Err(ExplainError::Url(req.url.clone()));
    }
    let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
    // The fragment never reaches routing; http::Uri has already dropped it.
    Ok(ParsedRequest {
        method: req.method.clone(),
        scheme,
        authority,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
    })
}

fn route_view(
    mesh: &Mesh,
    decision: Decision<'_>,
    rr: &RouteRequest<'_>,
    service: &str,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> RouteView {
    match decision {
        Decision::Default => {
            notes.push(format!(
                "no VirtualService claims {service}: default route (timeout disabled, mesh \
                 default retries)"
            ));
            let dest = DestinationView {
                host: service.to_owned(),
                subset: None,
                port: Some(rr.port),
                weight: 100,
                percent: 100.0,
            };
            RouteView {
                action: "route",
                destinations: vec![dest.clone()],
                picked: Some(dest),
                retries: Some(retries_view(&RetryPolicy::istio_default())),
                ..RouteView::default()
            }
        }
        Decision::NotFound { vhost } => {
            notes.push(match vhost {
                Some(vh) => format!(
                    "{} owns the host but no route matches: 404 (Envoy NR; Istio adds no \
                     catch-all)",
                    vh.virtual_services.join(", ")
                ),
                None => "no virtual host for this host at the gateway: 404".to_owned(),
            });
            RouteView {
                virtual_service: vhost.and_then(|v| v.virtual_services.first().cloned()),
                action: "not_found",
                status: Some(404),
                ..RouteView::default()
            }
        }
        Decision::HttpsRedirect { vhost } => {
            let location = format!(
                "https://{}{}{}",
                crate::model::host::split_authority(rr.authority).0,
                rr.path,
                rr.query.map(|q| format!("?{q}")).unwrap_or_default()
            );
            notes.push(
                "the gateway server sets tls.httpsRedirect: every request gets 301 to https".into(),
            );
            RouteView {
                virtual_service: vhost.virtual_services.first().cloned(),
                action: "redirect",
                status: Some(301),
                redirect: Some(RedirectView {
                    status: 301,
                    location,
                }),
                ..RouteView::default()
            }
        }
        Decision::Route { entry, .. } => matched_view(mesh, entry, rr, rng, notes),
    }
}

fn matched_view(
    _mesh: &Mesh,
    entry: &RouteEntry,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> RouteView {
    let rule = &entry.rule;
    let block = entry.match_block();
    let base = RouteView {
        virtual_service: Some(rule.virtual_service.clone()),
        rule: Some(rule.index),
        rule_name: rule.name.clone(),
        match_index: entry.block.map(|b| rule.blocks[b].index),
        ..RouteView::default()
    };
    match &rule.action {
        Action::Redirect(r) => {
            let location = r.location(block, rr.scheme, rr.authority, rr.path, rr.query, rr.port);
            RouteView {
                action: "redirect",
                status: Some(r.status),
                redirect: Some(RedirectView {
                    status: r.status,
                    location,
                }),
                ..base
            }
        }
        Action::DirectResponse(d) => RouteView {
            action: "direct_response",
            status: Some(d.status),
            direct_response: Some(DirectResponseView {
                status: d.status,
                body: d
                    .body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            }),
            ..base
        },
        Action::Forward(f) => forward_view(f, block, rr, rng, notes, base),
    }
}

fn forward_view(
    f: &Forward,
    block: Option<&crate::route::MatchBlock>,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
    base: RouteView,
) -> RouteView {
    let total = f.destinations.total();
    let single = f.destinations.len() == 1;
    let dests: Vec<DestinationView> = f
        .destinations
        .iter()
        .map(|(d, _)| DestinationView {
            host: d.host.clone(),
            subset: d.subset.clone(),
            port: d.port,
            weight: d.weight,
            percent: if single {
                100.0
            } else {
                percent(d.weight, total)
            },
        })
        .collect();
    let (pi, picked_dest) = f.destinations.pick(rng);
    if f.timeout.is_none() {
        notes.push("route timeout: disabled (Istio's default when timeout is unset)".into());
    }
    if f.retries.is_default {
        notes.push(
            "retries: the mesh default (2 retries on connect-failure, refused-stream, \
             unavailable, cancelled)"
                .into(),
        );
    }
    if f.fault.as_ref().is_some_and(|x| x.abort.is_some()) {
        notes.push(
            "an aborted request never reaches retries, the upstream or outlier detection".into(),
        );
    }
    let headers = merged_headers(&f.headers, &picked_dest.headers);
    RouteView {
        action: "route",
        picked: dests.get(pi).cloned(),
        destinations: dests,
        timeout_ms: f.timeout.map(|t| t.as_millis()),
        retries: Some(retries_view(&f.retries)),
        fault: f.fault.as_ref().map(|x| FaultView {
            delay: x.delay.as_ref().map(|d| FaultDelayView {
                fixed_delay_ms: d.fixed.as_millis(),
                percentage: f64::from(d.per_million) / 10_000.0,
            }),
            abort: x.abort.as_ref().map(|a| FaultAbortView {
                http_status: match &a.error {
                    AbortError::Http(s) => Some(*s),
                    AbortError::Grpc(_) => None,
                },
                grpc_status: match &a.error {
                    AbortError::Grpc(g) => Some(g.clone()),
                    AbortError::Http(_) => None,
                },
                percentage: f64::from(a.per_million) / 10_000.0,
            }),
        }),
        mirror: f
            .mirrors
            .iter()
            .map(|m| MirrorView {
                host: m.host.clone(),
                subset: m.subset.clone(),
                port: m.port,
                percentage: f64::from(m.per_million) / 10_000.0,
            })
            .collect(),
        rewrite: f.rewrite.as_ref().map(|rw| RewriteView {
            path: rw.apply_path(block, rr.path),
            authority: rw.authority.clone(),
        }),
        headers,
        ..base
    }
}

fn merged_headers(route: &HeaderOps, dest: &HeaderOps) -> Option<HeadersView> {
    if route == &HeaderOps::default() && dest == &HeaderOps::default() {
        return None;
    }
    let ops = |a: &crate::route::action::HeaderOperations,
               b: &crate::route::action::HeaderOperations| {
        let mut set = a.set.clone();
        set.extend(b.set.clone());
        let mut add = a.add.clone();
        add.extend(b.add.clone());
        let mut remove = a.remove.clone();
        remove.extend(b.remove.iter().cloned());
        OpsView { set, add, remove }
    };
    Some(HeadersView {
        request: ops(&route.request, &dest.request),
        response: ops(&route.response, &dest.response),
    })
}

fn retries_view(r: &RetryPolicy) -> RetriesView {
    RetriesView {
        attempts: r.attempts,
        per_try_timeout_ms: r.per_try_timeout.map(|t| t.as_millis()),
        retry_on: r.retry_on.clone(),
        retriable_status_codes: r.retriable_status_codes.clone(),
        backoff_base_ms: r.backoff_base.as_millis(),
        retry_ignore_previous_hosts: r.retry_ignore_previous_hosts,
        default: r.is_default,
    }
}

fn percent(w: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (w as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

fn policy_view(
    mesh: &Mesh,
    host: &str,
    p: DestinationPolicy,
    notes: &mut Vec<String>,
) -> PolicyView {
    use serde_json::json;
    if let Some(s) = p.subset.as_ref().filter(|s| s.labels.is_none()) {
        notes.push(format!(
            "subset {:?} of {host} is defined by no DestinationRule: Envoy answers 503 (NC)",
            s.name
        ));
    }
    let load_balancer = match &p.load_balancer {
        LoadBalancer::LeastRequest => json!({"simple": "LEAST_REQUEST"}),
        LoadBalancer::RoundRobin => json!({"simple": "ROUND_ROBIN"}),
        LoadBalancer::Random => json!({"simple": "RANDOM"}),
        LoadBalancer::Passthrough => json!({"simple": "PASSTHROUGH"}),
        LoadBalancer::ConsistentHash(h) => {
            let key = match &h.key {
                HashKey::Header(n) => json!({"http_header_name": n}),
                HashKey::Cookie { name, path, ttl } => json!({"http_cookie": {
                    "name": name, "path": path, "ttl_ms": ttl.map(|t| t.as_millis())}}),
                HashKey::SourceIp => json!({"use_source_ip": true}),
                HashKey::QueryParameter(q) => json!({"http_query_parameter_name": q}),
            };
            let algo = match h.algorithm {
                HashAlgorithm::RingHash { minimum_ring_size } => {
                    json!({"ring_hash": {"minimum_ring_size": minimum_ring_size}})
                }
                HashAlgorithm::Maglev { table_size } => {
                    json!({"maglev": {"table_size": table_size}})
                }
            };
            json!({"consistent_hash": {"key": key, "algorithm": algo}})
        }
    };
    let c = &p.connection_pool;
    let connection_pool = json!({
        "max_connections": c.max_connections,
        "connect_timeout_ms": c.connect_timeout.as_millis(),
        "http1_max_pending_requests": c.http1_max_pending_requests,
        "http2_max_requests": c.http2_max_requests,
        "max_requests_per_connection": c.max_requests_per_connection,
        "max_retries": c.max_retries,
        "idle_timeout_ms": c.idle_timeout.as_millis(),
        "h2_upgrade": c.h2_upgrade,
    });
    let outlier_detection = p.outlier_detection.as_ref().map(|o| {
        json!({
            "consecutive_5xx_errors": o.consecutive_5xx,
            "consecutive_gateway_errors": o.consecutive_gateway_errors,
            "interval_ms": o.interval.as_millis(),
            "base_ejection_time_ms": o.base_ejection_time.as_millis(),
            "max_ejection_time_ms": o.max_ejection_time.as_millis(),
            "max_ejection_percent": o.max_ejection_percent,
            "min_health_percent": o.min_health_percent,
            "split_external_local_origin_errors": o.split_external_local_origin_errors,
        })
    });
    let endpoints = mesh
        .service(host)
        .map(|svc| {
            let empty = BTreeMap::new();
            let labels = p
                .subset
                .as_ref()
                .and_then(|s| s.labels.as_ref())
                .unwrap_or(&empty);
            svc.endpoints_for(labels)
                .map(|e| e.address.clone())
                .collect()
        })
        .unwrap_or_default();
    if p.destination_rules.len() > 1 {
        notes.push(format!(
            "DestinationRules {} are merged for {host}: the first top-level trafficPolicy wins, \
             the first definition of a subset wins",
            p.destination_rules.join(", ")
        ));
    }
    PolicyView {
        destination_rule: p
            .policy_from
            .clone()
            .or_else(|| p.destination_rules.first().cloned()),
        destination_rules: p.destination_rules.clone(),
        subset: p.subset.map(|s| SubsetView {
            name: s.name,
            labels: s.labels,
        }),
        load_balancer,
        connection_pool,
        outlier_detection,
        endpoints,
    }
}

fn profile_view(
    p: &CompiledProfile,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> ProfileView {
    use serde_json::json;
    let route = p.route(rr.method, rr.path);
    if route.is_none() {
        notes.push(format!(
            "ServiceProfile {}: no route matches, the default route applies (no retries, no \
             timeout, 5xx = failure)",
            p.name
        ));
    }
    let classes = route
        .map(|r| {
            r.response_classes
                .iter()
                .map(|c| json!({"condition": condition_json(&c.condition), "is_failure": c.is_failure}))
                .collect()
        })
        .unwrap_or_default();
    ProfileView {
        service_profile: p.name.clone(),
        route: route.map(|r| r.name.clone()),
        timeout_ms: route.and_then(|r| r.timeout).map(|t| t.as_millis()),
        retryable: route.is_some_and(|r| r.retryable),
        retry_budget: json!({
            "retry_ratio": p.retry_budget.retry_ratio,
            "min_retries_per_second": p.retry_budget.min_retries_per_second,
            "ttl_ms": p.retry_budget.ttl.as_millis(),
        }),
        response_classes: classes,
        dst_override: p.dst_overrides.as_ref().map(|s| s.pick(rng).1.clone()),
    }
}

fn condition_json(c: &crate::profile::ResponseCondition) -> serde_json::Value {
    use crate::profile::ResponseCondition as C;
    use serde_json::json;
    match c {
        C::Status(min, max) => json!({"status": {"min": min, "max": max}}),
        C::All(v) => json!({"all": v.iter().map(condition_json).collect::<Vec<_>>()}),
        C::Any(v) => json!({"any": v.iter().map(condition_json).collect::<Vec<_>>()}),
        C::Not(c) => json!({"not": condition_json(c)}),
    }
}

#[cfg(test)]
mod tests;
