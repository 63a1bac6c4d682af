//! Rule evaluation (semantics.md §6.3, §6.5–§6.7). Every test answers for one of two sides:
//! [`Side::Narrow`] for ALLOW (when in doubt, the rule does not match) and [`Side::Wide`] for
//! DENY, AUDIT and CUSTOM (when in doubt, it matches). Doubt comes from an attribute the
//! connection cannot supply (HTTP-only on TCP, unknown address) and from attributes with several
//! values (repeated headers, a host with a port).

use std::net::IpAddr;

use super::AuthzRequest;
use super::compile::{CompiledRule, Field, Test};
use super::matcher::StrPat;

/// Which way doubt falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// ALLOW: a doubtful test does not match.
    Narrow,
    /// DENY / AUDIT / CUSTOM: a doubtful test matches.
    Wide,
}

/// The request with its path stripped of any query, computed once per evaluation.
pub struct Ctx<'r, 'a> {
    /// The request.
    pub req: &'r AuthzRequest<'a>,
    /// The path without `?...`.
    pub path: &'a str,
}

// === impl CompiledRule ===

impl CompiledRule {
    /// §6.3: (`from` empty or any) AND (`to` empty or any) AND all `when`.
    pub fn matches(&self, cx: &Ctx<'_, '_>, side: Side) -> bool {
        if self.never || (side == Side::Narrow && self.http_only && cx.req.http.is_none()) {
            return false;
        }
        let all = |fields: &Vec<Field>| fields.iter().all(|f| f.holds(cx, side));
        (self.to.is_empty() || self.to.iter().any(all))
            && (self.from.is_empty() || self.from.iter().any(all))
            && all(&self.when)
    }
}

// === impl Field ===

impl Field {
    /// Whether this field holds for the request, on `side`.
    pub fn holds(&self, cx: &Ctx<'_, '_>, side: Side) -> bool {
        // A `notX` matches where X does not; X is then judged from the other side, so that a
        // doubtful value still falls the way `side` wants.
        let inner = if self.negated { side.flip() } else { side };
        match self.test.eval(cx, inner) {
            Some(m) => m != self.negated,
            // §6.7: the attribute cannot be evaluated; ALLOW drops, DENY keeps.
            None => side == Side::Wide,
        }
    }
}

impl Side {
    const fn flip(self) -> Side {
        match self {
            Side::Narrow => Side::Wide,
            Side::Wide => Side::Narrow,
        }
    }
}

// === impl Test ===

impl Test {
    /// `Some(matched)`, or `None` when the attribute is unavailable on this connection.
    /// Absent values (plaintext identity, missing header) are `Some(false)`: every positive
    /// matcher fails and every negative one holds (§6.5).
    fn eval(&self, cx: &Ctx<'_, '_>, side: Side) -> Option<bool> {
        let conn = cx.req.conn;
        let peer = conn.peer.as_ref();
        let http = cx.req.http.as_ref();
        let auth = http.and_then(|h| h.auth);
        Some(match self {
            Test::Always => true,
            Test::Principal(p) => {
                peer.is_some_and(|id| p.iter().any(|p| p.matches(id.principal())))
            }
            Test::Namespace(p) => {
                peer.is_some_and(|id| p.iter().any(|p| p.matches(id.principal())))
            }
            Test::ServiceAccount(p) => {
                peer.is_some_and(|id| p.iter().any(|r| r.is_match(id.principal())))
            }
            Test::TrustDomain(p) => peer.is_some_and(|id| any(p, id.trust_domain().as_bytes())),
            Test::SourceIp(nets) => contains(nets, conn.source_ip?),
            Test::RemoteIp(nets) => contains(nets, conn.effective_remote_ip()?),
            Test::DestinationIp(nets) => contains(nets, conn.destination_ip?),
            Test::Port(ports) => ports.contains(&conn.destination_port),
            Test::Sni(p) => conn.sni.as_deref().is_some_and(|s| any(p, s.as_bytes())),
            Test::RequestPrincipal(p) => {
                http?;
                auth.is_some_and(|a| p.iter().any(|p| p.matches(&a.issuer, &a.subject)))
            }
            Test::Host(p) => host(p, http?.authority, side),
            Test::Method(p) => any(p, http?.method.as_bytes()),
            Test::Path(p) => {
                http?;
                p.iter().any(|p| p.matches(cx.path))
            }
            Test::Header(name, p) => header(p, http?.headers, name, side),
            Test::Audience(p) => {
                http?;
                auth.is_some_and(|a| a.audiences.iter().any(|v| any(p, v.as_bytes())))
            }
            Test::Presenter(p) => {
                http?;
                auth.and_then(|a| a.presenter.as_deref())
                    .is_some_and(|v| any(p, v.as_bytes()))
            }
            Test::Claim(path, p) => {
                http?;
                auth.is_some_and(|a| claim(&a.claims, path, p))
            }
        })
    }
}

fn any(pats: &[StrPat], v: &[u8]) -> bool {
    pats.iter().any(|p| p.matches(v))
}

fn contains(nets: &[ipnet::IpNet], ip: IpAddr) -> bool {
    // An IPv4-mapped IPv6 peer is the IPv4 address it carries.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    nets.iter().any(|n| n.contains(&ip))
}

/// §6.6 `hosts`: case-insensitive over the authority including any port (Istio: `example.com`
/// does not match `example.com:8080`). On the wide side (DENY) the host is also tried without
/// its port and trailing dot, so `Admin.example.com.:8080` cannot slip past
/// `hosts: [admin.example.com]` (security.md H-19).
fn host(pats: &[StrPat], authority: &str, side: Side) -> bool {
    let full = authority.as_bytes();
    if pats.iter().any(|p| p.matches_ci(full)) {
        return true;
    }
    if side == Side::Narrow {
        return false;
    }
    let (h, _) = crate::model::host::split_authority(authority);
    let bare = h.strip_suffix('.').unwrap_or(&h);
    pats.iter().any(|p| p.matches_ci(bare.as_bytes()))
}

/// `request.headers[name]` (CVE-2026-26308, security.md H-24): each value on its own, OWS
/// trimmed. Wide: any value, or the comma-joined form, matches. Narrow: every value matches.
fn header(pats: &[StrPat], headers: &http::HeaderMap, name: &http::HeaderName, side: Side) -> bool {
    let values = headers.get_all(name);
    let mut trimmed = values.iter().map(|v| trim(v.as_bytes()));
    match side {
        Side::Wide => {
            if trimmed.any(|v| any(pats, v)) {
                return true;
            }
            if values.iter().nth(1).is_none() {
                return false;
            }
            let parts: Vec<&[u8]> = values.iter().map(|v| trim(v.as_bytes())).collect();
            any(pats, &parts.join(&b","[..]))
        }
        Side::Narrow => {
            let mut n = 0;
            let all = trimmed.all(|v| {
                n += 1;
                any(pats, v)
            });
            all && n > 0
        }
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// `request.auth.claims[a][b]`: a string, or a list of strings where any element matches.
fn claim(
    claims: &std::collections::BTreeMap<String, serde_json::Value>,
    path: &[String],
    pats: &[StrPat],
) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let mut v = match claims.get(first) {
        Some(v) => v,
        None => return false,
    };
    for key in rest {
        v = match v.get(key) {
            Some(v) => v,
            None => return false,
        };
    }
    match v {
        serde_json::Value::String(s) => any(pats, s.as_bytes()),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .any(|s| any(pats, s.as_bytes())),
        _ => false,
    }
}
