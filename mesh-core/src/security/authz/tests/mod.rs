//! AuthorizationPolicy engine tests: one module per concern.

mod advisories;
mod combine;
mod fields;
mod props;

use std::net::IpAddr;

use super::*;
use crate::security::conn::PeerIdentity;
use crate::testutil::{doc, mesh, workload};

/// A policy document `ns/name` with `spec` YAML.
fn ap(ns_name: &str, spec: &str) -> String {
    doc("AuthorizationPolicy", ns_name, spec)
}

/// Policies from valid documents; any compile problem fails the test.
fn policies(docs: &[String]) -> AuthzPolicies {
    let (p, issues) = AuthzPolicies::from_mesh(&mesh(docs));
    assert!(issues.is_empty(), "{issues:?}");
    p
}

/// Policies from documents that need not validate (to test fail-closed compilation).
fn raw_policies(docs: &[String]) -> (AuthzPolicies, Vec<InvalidPolicy>) {
    let loaded = crate::Loaded::from_str("t.yaml", &docs.concat(), crate::LoadOptions::default());
    AuthzPolicies::compile(&loaded.resources, "istio-system")
}

/// A request under test.
#[derive(Clone, Debug)]
struct Req {
    conn: ConnectionFacts,
    tcp: bool,
    method: String,
    authority: String,
    path: String,
    headers: http::HeaderMap,
    auth: Option<RequestAuth>,
}

impl Req {
    /// `GET http://<authority><path>` from plaintext 10.0.0.1 to port 8080.
    fn get(authority: &str, path: &str) -> Self {
        Req {
            conn: ConnectionFacts::plaintext(ip("10.0.0.1"), 8080),
            tcp: false,
            method: "GET".to_owned(),
            authority: authority.to_owned(),
            path: path.to_owned(),
            headers: http::HeaderMap::new(),
            auth: None,
        }
    }

    fn path(p: &str) -> Self {
        Req::get("svc.ns.svc.cluster.local", p)
    }

    /// An opaque TCP connection.
    fn tcp() -> Self {
        Req {
            tcp: true,
            ..Req::path("/")
        }
    }

    fn method(mut self, m: &str) -> Self {
        self.method = m.to_owned();
        self
    }

    fn from(mut self, principal: &str) -> Self {
        self.conn.peer = Some(PeerIdentity::from_principal(principal).unwrap());
        self
    }

    fn header(mut self, k: &str, v: &[u8]) -> Self {
        self.headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(v).unwrap(),
        );
        self
    }

    fn port(mut self, p: u16) -> Self {
        self.conn.destination_port = p;
        self
    }

    fn jwt(mut self, iss: &str, sub: &str) -> Self {
        self.auth = Some(RequestAuth {
            issuer: iss.to_owned(),
            subject: sub.to_owned(),
            ..RequestAuth::default()
        });
        self
    }

    fn as_authz(&self) -> AuthzRequest<'_> {
        AuthzRequest {
            conn: &self.conn,
            http: (!self.tcp).then_some(HttpAttributes {
                method: &self.method,
                authority: &self.authority,
                path: &self.path,
                headers: &self.headers,
                auth: self.auth.as_ref(),
            }),
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The default workload under test: `ns/app` with `app=app`.
fn app() -> crate::model::Workload {
    workload("ns/app", "app=app")
}

/// "allow" or "deny" for `req` at `ns/app`.
fn decide(p: &AuthzPolicies, req: &Req) -> &'static str {
    let w = p.for_workload(&app());
    match w.evaluate(&req.as_authz(), &NoCustomProvider).decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
    }
}

/// One policy in `ns`, judged against each `(request, expected)`.
fn table(spec: &str, cases: &[(Req, &str)]) {
    let p = policies(&[ap("ns/p", spec)]);
    for (req, want) in cases {
        assert_eq!(decide(&p, req), *want, "policy:\n{spec}\nrequest: {req:?}");
    }
}
