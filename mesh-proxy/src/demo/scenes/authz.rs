//! Scene 2: `authorizationpolicy-myapp.yaml` and `peerauthentication.yaml` at myapp's and
//! legacy-service's sidecars: frontend may `GET /api/*`, `other` may not, anyone may
//! `GET /health`; STRICT refuses plaintext, legacy's PERMISSIVE accepts it; the identities
//! myapp's sidecars verified.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use mesh_core::Mesh;
use mesh_core::explain::{ExplainRequest, ProxyScope, explain};

use crate::demo::client::{Call, Failed};
use crate::demo::config::{LEGACY, MYAPP, NAMESPACE};
use crate::demo::report::Check;
use crate::demo::world::{TRUST_DOMAIN, World};
use crate::metrics::{Metrics, RefusedLabels};

/// Requests per case.
const EACH: u32 = 10;

/// What scene 2 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authz {
    /// `GET /api/x` from frontend: sent, answered 200.
    pub frontend_get: (u32, u32),
    /// `DELETE /api/x` from frontend: sent, answered 403.
    pub frontend_delete: (u32, u32),
    /// `GET /api/x` from other: sent, answered 403.
    pub other_get: (u32, u32),
    /// The body of a 403.
    pub deny_body: String,
    /// Why other is denied, from the authorization engine's explanation.
    pub deny_reason: String,
    /// `GET /health` from other: sent, answered 200.
    pub other_health: (u32, u32),
    /// Plaintext `GET /health` straight to myapp-v1's sidecar: the status, or `None` when
    /// the connection was refused.
    pub plaintext_strict: Option<u16>,
    /// `mesh_inbound_connections_refused_total{reason="plaintext_on_strict"}` at myapp-v1.
    pub strict_refusals: u64,
    /// Plaintext `GET /health` straight to legacy-service's sidecar.
    pub plaintext_permissive: Option<u16>,
    /// `mesh_plaintext_connections_accepted_total` at legacy-service.
    pub permissive_accepted: u64,
    /// Requests myapp's sidecars answered, by verified peer principal.
    pub identities: BTreeMap<String, u64>,
}

// === impl Authz ===

impl Authz {
    /// The rows of scene 2.
    pub fn checks(&self) -> Vec<Check> {
        let principal = |sa: &str| format!("spiffe://{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/{sa}");
        let seen: Vec<String> = self
            .identities
            .iter()
            .map(|(p, n)| format!("{} x{n}", p.rsplit('/').next().unwrap_or(p)))
            .collect();
        let status = |s: Option<u16>| s.map_or("connection refused".to_owned(), |s| s.to_string());
        vec![
            Check::new(
                "frontend GET /api/x",
                "200 (rule 0: frontend principal)",
                format!(
                    "{}/{} answered 200",
                    self.frontend_get.1, self.frontend_get.0
                ),
                self.frontend_get.0 > 0 && self.frontend_get.1 == self.frontend_get.0,
            ),
            Check::new(
                "other GET /api/x",
                "403 (no ALLOW rule matches)",
                format!(
                    "{}/{} denied 403 {:?}; why: {}",
                    self.other_get.1, self.other_get.0, self.deny_body, self.deny_reason
                ),
                self.other_get.1 > 0 && self.other_get.1 == self.other_get.0,
            ),
            Check::new(
                "frontend DELETE /api/x",
                "403 (method not allowed)",
                format!(
                    "{}/{} denied 403",
                    self.frontend_delete.1, self.frontend_delete.0
                ),
                self.frontend_delete.0 > 0 && self.frontend_delete.1 == self.frontend_delete.0,
            ),
            Check::new(
                "other GET /health",
                "200 (rule 1: anyone)",
                format!(
                    "{}/{} answered 200",
                    self.other_health.1, self.other_health.0
                ),
                self.other_health.0 > 0 && self.other_health.1 == self.other_health.0,
            ),
            Check::new(
                "plaintext to myapp (STRICT)",
                "connection refused",
                format!(
                    "{}; refused counter {}",
                    status(self.plaintext_strict),
                    self.strict_refusals
                ),
                self.plaintext_strict.is_none() && self.strict_refusals > 0,
            ),
            Check::new(
                "plaintext to legacy (PERMISSIVE)",
                "200",
                format!(
                    "{}; plaintext accepted counter {}",
                    status(self.plaintext_permissive),
                    self.permissive_accepted
                ),
                self.plaintext_permissive == Some(200) && self.permissive_accepted > 0,
            ),
            Check::new(
                "mTLS identities at myapp",
                "frontend, other, api-gateway (verified SPIFFE IDs)",
                seen.join(", "),
                ["frontend", "other", "api-gateway"]
                    .iter()
                    .all(|sa| self.identities.contains_key(&principal(sa))),
            ),
        ]
    }
}

/// Runs scene 2 through frontend's and other's sidecars, and straight to the inbound ports.
pub async fn run(world: &World, mesh: Option<&Mesh>) -> Authz {
    let client = world.client();
    let (frontend, other) = (world.outbound("frontend"), world.outbound("other"));
    let mut out = Authz::default();
    let deny_body;
    let count = |via, method: Method, path, want: StatusCode| {
        let client = client.clone();
        async move {
            let call = Call {
                via,
                host: MYAPP,
                method,
                path,
                headers: &[],
            };
            let mut hits = 0;
            let mut body = String::new();
            for _ in 0..EACH {
                if let Ok(a) = client.send(&call, std::time::Duration::from_secs(10)).await
                    && a.status == want
                {
                    hits += 1;
                    body = a.body;
                }
            }
            ((EACH, hits), body)
        }
    };
    (out.frontend_get, _) = count(frontend, Method::GET, "/api/x", StatusCode::OK).await;
    (out.frontend_delete, _) =
        count(frontend, Method::DELETE, "/api/x", StatusCode::FORBIDDEN).await;
    (out.other_get, deny_body) = count(other, Method::GET, "/api/x", StatusCode::FORBIDDEN).await;
    (out.other_health, _) = count(other, Method::GET, "/health", StatusCode::OK).await;
    out.deny_body = deny_body;
    out.deny_reason = mesh.map_or_else(|| "-".to_owned(), why_other_is_denied);
    let direct = |addr, host| async move {
        match client.get(addr, host, "/health", &[]).await {
            Ok(a) => Some(a.status.as_u16()),
            Err(Failed::Transport(_) | Failed::TimedOut) => None,
        }
    };
    let (v1, legacy) = (world.pod("myapp-v1"), world.pod("legacy-service"));
    out.plaintext_strict = direct(v1.inbound, MYAPP).await;
    out.plaintext_permissive = direct(legacy.inbound, LEGACY).await;
    // The refused counter is bumped by the connection task, after the client saw the close.
    for _ in 0..50 {
        out.strict_refusals = refused(&v1.metrics);
        if out.strict_refusals > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    out.permissive_accepted = legacy.metrics.plaintext_accepted.get();
    for name in ["myapp-v1", "myapp-v2"] {
        for (p, n) in principals(&world.pod(name).metrics) {
            *out.identities.entry(p).or_default() += n;
        }
    }
    out
}

fn refused(m: &Metrics) -> u64 {
    m.refused
        .get_or_create(&RefusedLabels {
            reason: "plaintext_on_strict",
        })
        .get()
}

/// `istio_requests_total{reporter="destination"}` by `source_principal`.
fn principals(m: &Metrics) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in m.encode().lines() {
        if !line.starts_with("istio_requests_total{") || !line.contains("reporter=\"destination\"")
        {
            continue;
        }
        let principal = line
            .split("source_principal=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        let n = line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok());
        if let (Some(p), Some(n)) = (principal, n)
            && p.starts_with("spiffe://")
        {
            *out.entry(p.to_owned()).or_default() += n;
        }
    }
    out
}

/// The authorization engine's reason for denying `other`'s `GET /api/x` at myapp.
fn why_other_is_denied(mesh: &Mesh) -> String {
    let myapp = mesh_core::Workload {
        namespace: NAMESPACE.into(),
        name: "myapp-v1".into(),
        labels: [("app".to_owned(), "myapp".to_owned())].into(),
    };
    let req = ExplainRequest::from_line(
        &format!("GET http://{MYAPP}/api/x"),
        &[],
        ProxyScope::Sidecar(myapp.clone()),
    );
    let Ok(req) = req else {
        return "-".into();
    };
    let mut req = req.with_destination(myapp);
    req.source.principal = Some(format!("{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/other"));
    req.source.mtls = true;
    match explain(mesh, &req).ok().and_then(|e| e.authz) {
        Some(a) => a.reason,
        None => "-".into(),
    }
}
