//! Value lists of sources, operations and `when` conditions, parsed into matchers
//! (semantics.md §6.5–§6.6).

use ipnet::IpNet;

use crate::resource::IntOrString;

use super::Problem;
use super::compile::Test;
use super::matcher::{NamespacePat, PrincipalPat, RequestPrincipalPat, StrPat};

pub fn namespaces(list: &[String]) -> Result<Test, Problem> {
    list.iter()
        .map(|n| NamespacePat::new(n).map_err(Problem::Pattern))
        .collect::<Result<_, _>>()
        .map(Test::Namespace)
}

pub fn service_accounts(list: &[String], ns: &str) -> Result<Test, Problem> {
    list.iter()
        .map(|v| super::matcher::service_account(v, ns).map_err(Problem::ServiceAccount))
        .collect::<Result<_, _>>()
        .map(Test::ServiceAccount)
}

/// An address or CIDR; a bare address is a /32 or /128. Host bits may be set (Istio masks them).
pub fn cidrs(list: &[String]) -> Result<Vec<IpNet>, Problem> {
    list.iter()
        .map(|v| {
            v.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| Problem::Ip(v.clone()))
        })
        .collect()
}

pub fn ports(list: &[IntOrString]) -> Result<Vec<u16>, Problem> {
    list.iter()
        .map(|p| {
            let n = match p {
                IntOrString::Int(i) => u16::try_from(*i).ok(),
                IntOrString::Str(s) => s.parse::<u16>().ok(),
            };
            n.filter(|n| *n != 0)
                .ok_or_else(|| Problem::Port(p.to_text()))
        })
        .collect()
}

fn pats(list: &[String]) -> Vec<StrPat> {
    list.iter().map(|v| StrPat::new(v)).collect()
}

/// A `when` key (§6.6) and its values.
pub fn condition(key: &str, list: &[String], ns: &str) -> Result<Test, Problem> {
    Ok(match key {
        "source.ip" => Test::SourceIp(cidrs(list)?),
        "remote.ip" => Test::RemoteIp(cidrs(list)?),
        "destination.ip" => Test::DestinationIp(cidrs(list)?),
        "destination.port" => Test::Port(ports(
            &list
                .iter()
                .map(|s| IntOrString::Str(s.clone()))
                .collect::<Vec<_>>(),
        )?),
        "source.principal" => Test::Principal(list.iter().map(|p| PrincipalPat::new(p)).collect()),
        "source.namespace" => namespaces(list)?,
        "source.serviceAccount" => service_accounts(list, ns)?,
        "source.trustDomain" => Test::TrustDomain(pats(list)),
        "request.auth.principal" => {
            Test::RequestPrincipal(list.iter().map(|p| RequestPrincipalPat::new(p)).collect())
        }
        "request.auth.audiences" => Test::Audience(pats(list)),
        "request.auth.presenter" => Test::Presenter(pats(list)),
        "connection.sni" => Test::Sni(pats(list)),
        k => {
            if let Some(name) = bracketed(k, "request.headers").and_then(|n| match n.as_slice() {
                [one] => http::HeaderName::from_bytes(one.as_bytes()).ok(),
                _ => None,
            }) {
                Test::Header(name, pats(list))
            } else if let Some(path) = bracketed(k, "request.auth.claims") {
                Test::Claim(path, pats(list))
            } else if k.starts_with("experimental.envoy.filters.") {
                return Err(Problem::Unsupported(k.to_owned()));
            } else {
                return Err(Problem::Key(k.to_owned()));
            }
        }
    })
}

/// `prefix[a][b]` → `[a, b]`.
fn bracketed(key: &str, prefix: &str) -> Option<Vec<String>> {
    let inner = key
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let names: Vec<String> = inner.split("][").map(str::to_owned).collect();
    names
        .iter()
        .all(|n| !n.is_empty() && !n.contains(['[', ']']))
        .then_some(names)
}
