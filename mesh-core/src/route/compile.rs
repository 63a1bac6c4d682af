//! VirtualService -> compiled rules: match blocks with compiled matchers and actions with
//! defaults made explicit. Runs once per snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::host::{HostPattern, fqdn};
use crate::path::FieldPath;
use crate::resource::{
    self, Destination, HttpMatchRequest, HttpRoute, RedirectPortSelection, Resource,
    VirtualServiceSpec,
};
use crate::split::WeightedSet;
use crate::validate::Report;

use super::action::*;
use super::matcher::{HeaderMatcher, QueryMatcher, StrMatcher};

/// The reserved gateway name of sidecars.
pub const MESH_GATEWAY: &str = "mesh";

/// A VirtualService ready to route.
#[derive(Clone, Debug)]
pub struct CompiledVs {
    /// `namespace/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Hosts, expanded.
    pub hosts: Vec<HostPattern>,
    /// Gateways as `ns/name`, or `mesh`; empty input means `[mesh]`.
    pub gateways: Vec<String>,
    /// Visibility (`*` when unset).
    pub export_to: Vec<String>,
    /// HTTP rules in order.
    pub rules: Vec<Arc<CompiledRule>>,
    /// Creation order key: (creationTimestamp, load order).
    pub created: (String, usize),
}

/// One `spec.http[]` rule.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// Owning VS (`ns/name`).
    pub virtual_service: String,
    /// Index in `spec.http`.
    pub index: usize,
    /// Rule name.
    pub name: Option<String>,
    /// Match blocks (ORed); empty means catch-all.
    pub blocks: Vec<MatchBlock>,
    /// What to do.
    pub action: Action,
}

/// One `match[]` block: conditions ANDed.
#[derive(Clone, Debug, Default)]
pub struct MatchBlock {
    /// Index in `match`.
    pub index: usize,
    /// Block name.
    pub name: Option<String>,
    /// Path condition.
    pub uri: Option<StrMatcher>,
    /// `ignoreUriCase`.
    pub ignore_uri_case: bool,
    /// Scheme condition.
    pub scheme: Option<StrMatcher>,
    /// Method condition.
    pub method: Option<StrMatcher>,
    /// Authority condition (port included).
    pub authority: Option<StrMatcher>,
    /// Header conditions (`withoutHeaders` inverted).
    pub headers: Vec<HeaderMatcher>,
    /// Query conditions.
    pub query: Vec<QueryMatcher>,
    /// Listener port.
    pub port: Option<u32>,
    /// Config-time: client labels.
    pub source_labels: BTreeMap<String, String>,
    /// Config-time: client namespace.
    pub source_namespace: Option<String>,
    /// Config-time: gateways (`ns/name` or `mesh`).
    pub gateways: Vec<String>,
}

// === impl MatchBlock ===

impl MatchBlock {
    /// True when only `uri.prefix: "/"` or `uri.regex: ".*"` is set (Istio stops generating
    /// routes after such a block).
    pub fn is_catch_all(&self) -> bool {
        let uri_all = match &self.uri {
            None => true,
            Some(StrMatcher::Prefix(p)) => p == "/" || p.is_empty(),
            Some(StrMatcher::Regex(r)) => r.as_str() == "^(?:.*)$",
            _ => false,
        };
        uri_all
            && self.scheme.is_none()
            && self.method.is_none()
            && self.authority.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
            && self.port.is_none()
    }
}

/// Resolves a gateway reference: `mesh`, `name` (in `ns`) or `ns/name`.
pub fn gateway_ref(g: &str, ns: &str) -> String {
    if g == MESH_GATEWAY || g.contains('/') {
        g.to_owned()
    } else {
        format!("{ns}/{g}")
    }
}

/// Compiles a VirtualService. Anything the engine cannot enforce is an error in `report`
/// (fail closed: the snapshot is then rejected).
pub fn compile_vs(
    res: &Resource,
    spec: &VirtualServiceSpec,
    cluster_domain: &str,
    report: &mut Report,
) -> CompiledVs {
    let ns = res.namespace();
    let name = format!("{ns}/{}", res.name());
    let gateways = if spec.gateways.is_empty() {
        vec![MESH_GATEWAY.to_owned()]
    } else {
        spec.gateways.iter().map(|g| gateway_ref(g, ns)).collect()
    };
    let base = FieldPath::root().key("spec").key("http");
    let rules = spec
        .http
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            compile_rule(&name, ns, i, r, cluster_domain, &base.index(i), report).map(Arc::new)
        })
        .collect();
    CompiledVs {
        name,
        namespace: ns.to_owned(),
        hosts: spec
            .hosts
            .iter()
            .map(|h| HostPattern::new(&fqdn(h, ns, cluster_domain)))
            .collect(),
        gateways,
        export_to: if spec.export_to.is_empty() {
            vec!["*".to_owned()]
        } else {
            spec.export_to.clone()
        },
        rules,
        created: (
            res.meta.creation_timestamp.clone().unwrap_or_default(),
            res.seq,
        ),
    }
}

fn compile_rule(
    vs: &str,
    ns: &str,
    index: usize,
    r: &HttpRoute,
    domain: &str,
    path: &FieldPath,
    report: &mut Report,
) -> Option<CompiledRule> {
    let mut blocks = Vec::with_capacity(r.matches.len());
    for (i, m) in r.matches.iter().enumerate() {
        blocks.push(compile_block(
            i,
            m,
            ns,
            &path.key("match").index(i),
            report,
        )?);
    }
    let action = compile_action(r, ns, domain, path, report)?;
    Some(CompiledRule {
        virtual_service: vs.to_owned(),
        index,
        name: r.name.clone(),
        blocks,
        action,
    })
}

fn compile_block(
    index: usize,
    m: &HttpMatchRequest,
    ns: &str,
    path: &FieldPath,
    report: &mut Report,
) -> Option<MatchBlock> {
    let mut ok = true;
    let mut one = |sm: &Option<resource::StringMatch>, field: &str, fold: bool| {
        sm.as_ref()
            .and_then(|sm| match StrMatcher::compile(sm, fold) {
                Ok(c) => Some(c),
                Err(e) => {
                    report.error(&path.key(field), e.to_string());
                    ok = false;
                    None
                }
            })
    };
    let ignore_uri_case = m.ignore_uri_case.unwrap_or(false);
    let mut block = MatchBlock {
        index,
        name: m.name.clone(),
        uri: one(&m.uri, "uri", ignore_uri_case),
        ignore_uri_case,
        scheme: one(&m.scheme, "scheme", false),
        method: one(&m.method, "method", false),
        authority: one(&m.authority, "authority", false),
        port: m.port.filter(|p| *p != 0),
        source_labels: m.source_labels.clone(),
        source_namespace: m.source_namespace.clone(),
        gateways: m.gateways.iter().map(|g| gateway_ref(g, ns)).collect(),
        ..MatchBlock::default()
    };
    for (field, map, invert) in [
        ("headers", &m.headers, false),
        ("withoutHeaders", &m.without_headers, true),
    ] {
        for (name, sm) in map {
            if name.starts_with("@request.auth.claims") {
                // JWT claims need RequestAuthentication, which mesh does not enforce yet: a
                // route that depends on one is rejected rather than matched on a header.
                report.error(
                    &path.key(field).key(name.clone()),
                    "JWT claim matches (@request.auth.claims) are not supported by mesh yet",
                );
                ok = false;
                continue;
            }
            match HeaderMatcher::compile(name, sm.as_ref(), invert) {
                Ok(h) => block.headers.push(h),
                Err(e) => {
                    report.error(&path.key(field).key(name.clone()), e.to_string());
                    ok = false;
                }
            }
        }
    }
    for (name, sm) in &m.query_params {
        match QueryMatcher::compile(name, sm.as_ref()) {
            Ok(q) => block.query.push(q),
            Err(e) => {
                report.error(&path.key("queryParams").key(name.clone()), e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(block)
}

fn compile_action(
    r: &HttpRoute,
    ns: &str,
    domain: &str,
    path: &FieldPath,
    report: &mut Report,
) -> Option<Action> {
    if r.delegate.is_some() {
        report.error(
            &path.key("delegate"),
            "VirtualService delegation is not supported by mesh yet",
        );
        return None;
    }
    if let Some(d) = &r.direct_response {
        let body = d.body.as_ref().and_then(|b| match (&b.string, &b.bytes) {
            (Some(s), _) => Some(s.clone().into_bytes()),
            (None, Some(b64)) => decode_base64(b64),
            _ => None,
        });
        return Some(Action::DirectResponse(DirectResponse {
            status: u16::try_from(d.status).unwrap_or(500),
            body,
        }));
    }
    if let Some(rd) = &r.redirect {
        let port = match (rd.port, rd.derive_port) {
            (Some(p), _) if p != 0 => u16::try_from(p).ok().map(RedirectPort::Fixed),
            (_, Some(RedirectPortSelection::FromProtocolDefault)) => {
                Some(RedirectPort::ProtocolDefault)
            }
            (_, Some(RedirectPortSelection::FromRequestPort)) => Some(RedirectPort::RequestPort),
            _ => None,
        };
        return Some(Action::Redirect(Redirect {
            uri: rd.uri.clone(),
            prefix_rewrite: rd.prefix_rewrite.clone(),
            authority: rd.authority.clone(),
            scheme: rd.scheme.clone(),
            port,
            status: rd
                .redirect_code
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(301),
        }));
    }
    let dests: Vec<(RouteDestination, u64)> = r
        .route
        .iter()
        .filter_map(|d| {
            let dest = d.destination.as_ref()?;
            let w = u64::try_from(d.weight.unwrap_or(0)).unwrap_or(0);
            Some((
                RouteDestination {
                    weight: w,
                    headers: header_ops(d.headers.as_ref()),
                    ..destination(dest, ns, domain)
                },
                w,
            ))
        })
        .collect();
    let Some(destinations) = WeightedSet::istio(dests) else {
        report.error(
            &path.key("route"),
            "the route has no destination with a positive weight",
        );
        return None;
    };
    let mut mirrors: Vec<Mirror> = Vec::new();
    if let Some(m) = &r.mirror {
        let pm = match (&r.mirror_percentage, r.mirror_percent) {
            (Some(p), _) => per_million(p.value),
            (None, Some(p)) => per_million(f64::from(p)),
            (None, None) => 1_000_000,
        };
        let d = destination(m, ns, domain);
        mirrors.push(Mirror {
            host: d.host,
            subset: d.subset,
            port: d.port,
            per_million: pm,
        });
    }
    for m in &r.mirrors {
        if let Some(dest) = &m.destination {
            let d = destination(dest, ns, domain);
            mirrors.push(Mirror {
                host: d.host,
                subset: d.subset,
                port: d.port,
                per_million: m.percentage.map_or(1_000_000, |p| per_million(p.value)),
            });
        }
    }
    let rewrite = match &r.rewrite {
        None => None,
        Some(rw) => Some(Rewrite {
            uri: rw.uri.clone(),
            uri_regex: match &rw.uri_regex_rewrite {
                Some(rr) => match (&rr.pattern, &rr.rewrite) {
                    (Some(p), Some(sub)) => match crate::pattern::compile(p, p) {
                        Ok(re) => Some((RegexHolder(re), envoy_substitution(sub))),
                        Err(e) => {
                            report
                                .error(&path.key("rewrite").key("uriRegexRewrite"), e.to_string());
                            return None;
                        }
                    },
                    _ => None,
                },
                None => None,
            },
            authority: rw.authority.clone(),
        }),
    };
    Some(Action::Forward(Box::new(Forward {
        destinations,
        timeout: r.timeout.filter(|t| !t.is_zero()),
        retries: r
            .retries
            .as_ref()
            .map_or_else(RetryPolicy::istio_default, RetryPolicy::from_spec),
        fault: r.fault.as_ref().and_then(fault),
        mirrors,
        rewrite,
        headers: header_ops(r.headers.as_ref()),
        cors: r.cors_policy.clone(),
    })))
}

fn destination(d: &Destination, ns: &str, domain: &str) -> RouteDestination {
    RouteDestination {
        host: fqdn(&d.host, ns, domain),
        subset: d.subset.clone().filter(|s| !s.is_empty()),
        port: d
            .port
            .and_then(|p| u16::try_from(p.number).ok())
            .filter(|p| *p != 0),
        weight: 0,
        headers: HeaderOps::default(),
    }
}

fn header_ops(h: Option<&resource::Headers>) -> HeaderOps {
    let ops = |o: Option<&resource::HeaderOperations>| {
        o.map(|o| HeaderOperations {
            set: o.set.clone(),
            add: o.add.clone(),
            remove: o.remove.clone(),
        })
        .unwrap_or_default()
    };
    HeaderOps {
        request: ops(h.and_then(|h| h.request.as_ref())),
        response: ops(h.and_then(|h| h.response.as_ref())),
    }
}

/// Istio faults: each percentage defaults to 0%; an abort with no error type is dropped.
fn fault(f: &resource::HttpFaultInjection) -> Option<FaultPolicy> {
    let delay = f.delay.as_ref().and_then(|d| {
        Some(FaultDelay {
            fixed: d.fixed_delay?,
            per_million: match (&d.percentage, d.percent) {
                (Some(p), _) => per_million(p.value),
                (None, Some(p)) => per_million(p as f64),
                (None, None) => 0,
            },
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let error = match (a.http_status, &a.grpc_status) {
            (Some(s), _) => AbortError::Http(u16::try_from(s).ok()?),
            (None, Some(g)) => AbortError::Grpc(g.clone()),
            _ => return None,
        };
        Some(FaultAbort {
            error,
            per_million: a.percentage.map_or(0, |p| per_million(p.value)),
        })
    });
    (delay.is_some() || abort.is_some()).then_some(FaultPolicy { delay, abort })
}

/// Envoy/RE2 substitutions write groups as `\1`; the regex crate wants `${1}`.
fn envoy_substitution(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str("${");
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    out.push(*d);
                    chars.next();
                }
                out.push('}');
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// Standard base64 (validation has checked the alphabet).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf: u32 = 0;
    let mut bits = 0;
    for b in s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}
