//! The `authz` key of the decision document: the AuthorizationPolicy verdict of the receiving
//! workload (the `destination` of the request, else the sidecar's own workload), for the path
//! as normalized (mesh `path_normalization`, default `BASE`) and the peer as described by [`SourceFacts`].

use serde::Serialize;

use crate::model::{Mesh, Workload};
use crate::security::authz::{
    AuthzPolicies, AuthzRequest, HttpAttributes, NoCustomProvider, Reason, action_name,
};
use crate::security::conn::{ConnectionFacts, PeerIdentity};
use crate::security::normalize;

use super::{ExplainRequest, ProxyScope, RequestView, SourceFacts};

/// `authz`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuthzView {
    /// The receiving workload, `ns/name`.
    pub workload: String,
    /// `ALLOW` or `DENY`.
    pub decision: &'static str,
    /// The local answer: 403 when denied, 400 when the request cannot be normalized, else null.
    pub status: Option<u16>,
    /// Why, in words.
    pub reason: String,
    /// The deciding policy (`ns/name`), when a rule decided.
    pub policy: Option<String>,
    /// The deciding rule index.
    pub rule: Option<usize>,
    /// The deciding policy's action.
    pub action: Option<&'static str>,
    /// The path that was judged (normalized, without query).
    pub path: String,
    /// The normalization mode.
    pub normalization: &'static str,
    /// Policies that apply to the workload.
    pub policies: Vec<String>,
    /// AUDIT rules that matched.
    pub audit: Vec<String>,
    /// Dry-run rules that matched.
    pub dry_run: Vec<String>,
}

/// Builds the `authz` key; `None` at a gateway unless a destination workload is given.
/// `policies` are the mesh's, compiled by the caller; `None` compiles them here.
pub(super) fn view(
    mesh: &Mesh,
    policies: Option<&AuthzPolicies>,
    req: &ExplainRequest,
    request: &RequestView,
    headers: &http::HeaderMap,
    notes: &mut Vec<String>,
) -> Option<AuthzView> {
    let workload: &Workload = match (&req.destination, &req.scope) {
        (Some(w), _) | (None, ProxyScope::Sidecar(w)) => w,
        (None, ProxyScope::Gateway { .. }) => {
            notes.push(
                "authz: give a destination workload to see the AuthorizationPolicy verdict"
                    .to_owned(),
            );
            return None;
        }
    };
    let compiled;
    let policies = match policies {
        Some(p) => p,
        None => {
            let (p, issues) = AuthzPolicies::from_mesh(mesh);
            notes.extend(issues.iter().map(|i| format!("authz: {i}")));
            compiled = p;
            &compiled
        }
    };
    let applied = policies.for_workload(workload);
    let mode = mesh.config().path_normalization;
    let mut out = AuthzView {
        workload: format!("{}/{}", workload.namespace, workload.name),
        decision: "DENY",
        status: Some(400),
        reason: String::new(),
        policy: None,
        rule: None,
        action: None,
        path: request.path.clone(),
        normalization: mode.name(),
        policies: applied.policy_names().map(str::to_owned).collect(),
        audit: Vec::new(),
        dry_run: Vec::new(),
    };
    let normalized = normalize::check_method(&request.method)
        .and_then(|()| normalize::normalize(&request.path, mode));
    let path = match normalized {
        Ok(n) => n.path.into_owned(),
        Err(why) => {
            out.reason = format!("rejected before authorization: {why}");
            return Some(out);
        }
    };
    let conn = connection(&req.source, request.port, notes);
    let ar = AuthzRequest {
        conn: &conn,
        http: Some(HttpAttributes {
            method: &request.method,
            authority: &request.authority,
            path: &path,
            headers,
            auth: None,
        }),
    };
    let verdict = applied.evaluate(&ar, &NoCustomProvider);
    let rule = match verdict.reason {
        Reason::AllowMatched(r) | Reason::DenyMatched(r) | Reason::ConflictingProviders(r) => {
            Some(r)
        }
        Reason::CustomDenied { rule, provider } => {
            notes.push(format!(
                "authz: CUSTOM provider {provider:?} is not consulted by explain; without a \
                 provider the request is denied (fail closed)"
            ));
            Some(rule)
        }
        Reason::NoAllowPolicy | Reason::NoAllowMatched => None,
    };
    out.decision = if verdict.is_allowed() {
        "ALLOW"
    } else {
        "DENY"
    };
    out.status = (!verdict.is_allowed()).then_some(403);
    out.reason = verdict.reason.to_string();
    out.policy = rule.map(|r| r.policy.to_owned());
    out.action = rule.map(|r| action_name(r.action));
    out.rule = rule.map(|r| r.rule);
    out.audit = verdict.audit.iter().map(ToString::to_string).collect();
    out.dry_run = verdict.dry_run.iter().map(ToString::to_string).collect();
    out.path = path;
    Some(out)
}

/// The connection as the receiving sidecar sees it: identity only with mTLS.
fn connection(src: &SourceFacts, port: u16, notes: &mut Vec<String>) -> ConnectionFacts {
    let mut conn = ConnectionFacts {
        destination_port: port,
        ..ConnectionFacts::default()
    };
    if let Some(ip) = &src.ip {
        match ip.parse() {
            Ok(ip) => conn.source_ip = Some(ip),
            Err(_) => notes.push(format!(
                "authz: source ip {ip:?} is not an IP address; ignored"
            )),
        }
    }
    if !src.mtls {
        return conn;
    }
    let principal = src.principal.clone().or_else(|| {
        let ns = src.namespace.as_ref()?;
        let p = format!("cluster.local/ns/{ns}/sa/default");
        notes.push(format!(
            "authz: no source principal given; the peer is judged as {p}"
        ));
        Some(p)
    });
    if let Some(p) = principal {
        match PeerIdentity::from_principal(&p) {
            Ok(id) => conn.peer = Some(id),
            Err(e) => notes.push(format!("authz: {e}; the peer is judged without identity")),
        }
    }
    conn
}

#[cfg(test)]
mod tests;
