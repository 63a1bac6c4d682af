//! One `http[]` rule (Istio `validateHTTPRoute`): its action (route, redirect, direct response
//! or delegate), rewrite, mirrors, and the sub-rules in the sibling modules (spec §1.6).

use crate::path::FieldPath;
use crate::resource::{
    Delegate, HttpBody, HttpDirectResponse, HttpMatchRequest, HttpRedirect, HttpRewrite, HttpRoute,
};
use crate::validate::Report;
use crate::validate::common::{
    duration, header_value, is_dns1123_label, is_dns1123_subdomain, percent, regex,
};

use super::Ctx;
use super::destination::{destination, http_destinations};
use super::headers;
use super::matches::{http_match, optional_port};
use super::names::base64_len;
use super::policy;

/// Direct response bodies above this are rejected (Istio: 1 MB).
const MAX_BODY: usize = 1024 * 1024;
/// Direct response bodies above this draw a warning (Istio: 100 KB).
const WARN_BODY: usize = 100 * 1024;

/// Validates one `http[]` rule.
pub(super) fn http_route(r: &mut Report, path: &FieldPath, h: &HttpRoute, ctx: &Ctx) {
    actions(r, path, h, ctx);
    for (i, m) in h.matches.iter().enumerate() {
        http_match(r, &path.key("match").index(i), m, ctx);
    }
    http_destinations(r, &path.key("route"), &h.route);
    if let Some(x) = &h.redirect {
        redirect(r, &path.key("redirect"), x, &h.matches);
    }
    if let Some(x) = &h.direct_response {
        direct_response(r, &path.key("directResponse"), x);
    }
    if let Some(x) = &h.delegate {
        delegate(r, &path.key("delegate"), x);
    }
    if let Some(x) = &h.rewrite {
        rewrite(r, &path.key("rewrite"), x);
    }
    if let Some(x) = &h.headers {
        headers::operations(r, &path.key("headers"), x);
    }
    let authority = h.rewrite.as_ref().and_then(|w| w.authority.as_deref());
    headers::authority_once(r, path, authority, h.headers.as_ref());
    if let Some(t) = &h.timeout {
        duration(r, &path.key("timeout"), t);
    }
    if let Some(x) = &h.retries {
        policy::retries(r, &path.key("retries"), x, h.timeout);
    }
    if let Some(x) = &h.fault {
        policy::fault(r, &path.key("fault"), x);
    }
    if let Some(x) = &h.cors_policy {
        policy::cors(r, &path.key("corsPolicy"), x);
    }
    mirrors(r, path, h);
}

// === actions ===

/// Istio `validateHTTPRouteConflict`: exactly one of route, redirect, directResponse or
/// delegate; redirect and directResponse answer without forwarding, so fault and rewrite
/// cannot apply to them.
fn actions(r: &mut Report, path: &FieldPath, h: &HttpRoute, ctx: &Ctx) {
    if h.delegate.is_some() {
        root_rule(r, path, h, ctx);
        return;
    }
    let route = !h.route.is_empty();
    let action = match (h.redirect.is_some(), h.direct_response.is_some()) {
        (true, _) => "redirect",
        (false, true) => "direct_response",
        (false, false) => {
            if !route {
                r.error(
                    path,
                    "HTTP route, redirect or direct_response is required: add a route, redirect, \
                     directResponse or delegate",
                );
            }
            return;
        }
    };
    let others = [
        ("route", route),
        ("fault", h.fault.is_some()),
        ("rewrite", h.rewrite.is_some()),
    ];
    for (other, set) in others {
        if set {
            r.error(
                &path.key(other),
                format!("HTTP route cannot contain both {other} and {action}"),
            );
        }
    }
    if h.redirect.is_some() && h.direct_response.is_some() {
        r.error(
            &path.key("directResponse"),
            "HTTP route cannot contain both direct_response and redirect",
        );
    }
}

/// Istio: a rule with `delegate` (a root rule) carries no other action; a delegate VS cannot
/// delegate again.
fn root_rule(r: &mut Report, path: &FieldPath, h: &HttpRoute, ctx: &Ctx) {
    if ctx.delegate {
        r.error(
            &path.key("delegate"),
            "delegate HTTP route cannot contain delegate: a virtual service without hosts is \
             itself a delegate",
        );
    }
    let others = [
        ("route", !h.route.is_empty()),
        ("redirect", h.redirect.is_some()),
        ("directResponse", h.direct_response.is_some()),
    ];
    for (key, set) in others {
        if set {
            r.error(
                &path.key(key),
                format!("root HTTP route must not specify {key}: it delegates to another virtual service"),
            );
        }
    }
}

/// `delegate`: the name of a VirtualService, optionally its namespace.
fn delegate(r: &mut Report, path: &FieldPath, d: &Delegate) {
    if d.name.is_empty() {
        r.error(&path.key("name"), "delegate name is required");
    } else if !is_dns1123_subdomain(&d.name) {
        r.error(
            &path.key("name"),
            format!(
                "delegate name {:?} is not a valid virtual service name",
                d.name
            ),
        );
    }
    if let Some(ns) = d.namespace.as_deref().filter(|ns| !is_dns1123_label(ns)) {
        r.error(
            &path.key("namespace"),
            format!("delegate namespace {ns:?} is not a valid namespace name (DNS-1123 label)"),
        );
    }
}

// === redirect and direct response ===

/// Istio `validateHTTPRedirect`, plus the exclusivity rules of §1.6.
fn redirect(r: &mut Report, path: &FieldPath, x: &HttpRedirect, matches: &[HttpMatchRequest]) {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let port = x.port.filter(|p| *p != 0);
    if !set(&x.uri)
        && !set(&x.prefix_rewrite)
        && !set(&x.authority)
        && !set(&x.scheme)
        && port.is_none()
        && x.derive_port.is_none()
    {
        r.error(
            path,
            "redirect must specify uri, prefixRewrite, authority, scheme, port or derivePort",
        );
    }
    if x.uri.is_some() && x.prefix_rewrite.is_some() {
        r.error(
            &path.key("prefixRewrite"),
            "redirect may set only one of uri and prefixRewrite",
        );
    }
    if x.prefix_rewrite.is_some() {
        prefix_rewrite_needs_prefix(r, &path.key("prefixRewrite"), matches);
    }
    optional_port(r, &path.key("port"), x.port);
    if port.is_some() && x.derive_port.is_some() {
        r.error(
            &path.key("derivePort"),
            "redirect may set only one of port and derivePort",
        );
    }
    if let Some(s) = x
        .scheme
        .as_deref()
        .filter(|s| !matches!(*s, "" | "http" | "https"))
    {
        r.error(
            &path.key("scheme"),
            format!("invalid redirect scheme {s:?}, must be \"http\" or \"https\""),
        );
    }
    redirect_code(r, &path.key("redirectCode"), x.redirect_code);
    // The values end up in the Location header.
    for (key, value) in [
        ("uri", &x.uri),
        ("prefixRewrite", &x.prefix_rewrite),
        ("authority", &x.authority),
    ] {
        if let Some(v) = value {
            header_value(r, &path.key(key), v);
        }
    }
}

/// §1.6: `prefixRewrite` replaces the matched prefix, so every URI match must be a prefix.
fn prefix_rewrite_needs_prefix(r: &mut Report, path: &FieldPath, matches: &[HttpMatchRequest]) {
    let offending = matches.iter().position(|m| {
        m.uri
            .as_ref()
            .is_some_and(|u| u.prefix.is_none() && (u.exact.is_some() || u.regex.is_some()))
    });
    if let Some(i) = offending {
        r.error(
            path,
            format!(
                "prefixRewrite replaces the matched prefix, so every uri match of the rule must \
                 be a prefix match; match[{i}].uri is not"
            ),
        );
    }
}

/// Istio: a set (non-zero) code is 3xx; Envoy only implements 301, 302, 303, 307 and 308.
fn redirect_code(r: &mut Report, path: &FieldPath, code: Option<u32>) {
    let Some(code) = code.filter(|c| *c != 0) else {
        return;
    };
    if !(300..=399).contains(&code) {
        r.error(
            path,
            format!("{code} is not a valid redirect code, must be 3xx (301, 302, 303, 307 or 308)"),
        );
    } else if !matches!(code, 301 | 302 | 303 | 307 | 308) {
        r.warn(
            path,
            format!(
                "redirect code {code} passes Istio validation but Envoy supports only 301, 302, \
                 303, 307 and 308: the route gets no action and cannot be used"
            ),
        );
    }
}

/// Istio `validateHTTPDirectResponse`. Quirk kept: 600 is accepted although the message says
/// 200-599.
fn direct_response(r: &mut Report, path: &FieldPath, d: &HttpDirectResponse) {
    if !(200..=600).contains(&d.status) {
        r.error(
            &path.key("status"),
            format!("HTTP status {} must be in the range 200-599", d.status),
        );
    }
    if let Some(b) = &d.body {
        body(r, &path.key("body"), b);
    }
}

/// At most one of string and bytes; bytes base64; the size limits of Istio.
fn body(r: &mut Report, path: &FieldPath, b: &HttpBody) {
    let size = match (&b.string, &b.bytes) {
        (Some(_), Some(_)) => {
            r.error(path, "body may set only one of string and bytes");
            return;
        }
        (Some(s), None) => s.len(),
        (None, Some(bytes)) => match base64_len(bytes) {
            Some(n) => n,
            None => {
                r.error(
                    &path.key("bytes"),
                    "body bytes must be base64 (for example aGVsbG8= for \"hello\"); use string \
                     for text",
                );
                return;
            }
        },
        (None, None) => 0,
    };
    if size > MAX_BODY {
        r.error(
            path,
            format!(
                "direct response body is {size} bytes; it must be at most 1 MiB ({MAX_BODY} \
                 bytes): large direct responses impact control plane performance"
            ),
        );
    } else if size > WARN_BODY {
        r.warn(
            path,
            format!(
                "direct response body is {size} bytes; bodies over 100 KiB may impact control \
                 plane performance"
            ),
        );
    }
}

// === rewrite ===

/// Istio `validateHTTPRewrite`: uri and uriRegexRewrite are exclusive; something must be set;
/// uriRegexRewrite needs both parts and a pattern that compiles.
fn rewrite(r: &mut Report, path: &FieldPath, w: &HttpRewrite) {
    let uri = w.uri.as_deref().filter(|u| !u.is_empty());
    let authority = w.authority.as_deref().filter(|a| !a.is_empty());
    if uri.is_some() && w.uri_regex_rewrite.is_some() {
        r.error(
            &path.key("uriRegexRewrite"),
            "rewrite may only contain one of uri or uriRegexRewrite",
        );
    }
    if uri.is_none() && w.uri_regex_rewrite.is_none() && authority.is_none() {
        r.error(
            path,
            "rewrite must specify at least one of uri, uriRegexRewrite or authority",
        );
    }
    if let Some(rr) = &w.uri_regex_rewrite {
        let p = path.key("uriRegexRewrite");
        let pattern = rr.pattern.as_deref().filter(|s| !s.is_empty());
        let replacement = rr.rewrite.as_deref().filter(|s| !s.is_empty());
        match (pattern, replacement) {
            (Some(pattern), Some(_)) => regex(r, &p.key("match"), pattern),
            _ => r.error(&p, "uriRegexRewrite requires both match and rewrite"),
        }
    }
    for (key, value) in [("uri", uri), ("authority", authority)] {
        if let Some(v) = value {
            header_value(r, &path.key(key), v);
        }
    }
}

// === mirrors ===

/// Istio: `mirror` and `mirrors` are exclusive; each mirror names a valid destination;
/// percentages within `[0, 100]`; `mirrorPercent` is deprecated.
fn mirrors(r: &mut Report, path: &FieldPath, h: &HttpRoute) {
    if h.mirror.is_some() && !h.mirrors.is_empty() {
        r.error(
            &path.key("mirrors"),
            "HTTP route cannot contain both mirror and mirrors",
        );
    }
    if let Some(d) = &h.mirror {
        destination(r, &path.key("mirror"), d);
    }
    for (i, m) in h.mirrors.iter().enumerate() {
        let p = path.key("mirrors").index(i);
        match &m.destination {
            Some(d) => destination(r, &p.key("destination"), d),
            None => r.error(&p, "destination is required for mirrors"),
        }
        if let Some(pc) = &m.percentage {
            percent(r, &p.key("percentage"), pc);
        }
    }
    if let Some(pc) = &h.mirror_percentage {
        percent(r, &path.key("mirrorPercentage"), pc);
    }
    if let Some(n) = h.mirror_percent {
        let p = path.key("mirrorPercent");
        if n > 100 {
            r.error(
                &p,
                format!("mirrorPercent must have a max value of 100 (it has {n})"),
            );
        }
        r.warn(
            &p,
            "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead",
        );
    }
    if h.mirror.is_none() {
        let unused = [
            ("mirrorPercentage", h.mirror_percentage.is_some()),
            ("mirrorPercent", h.mirror_percent.is_some()),
        ];
        for (key, set) in unused {
            if set {
                r.warn(
                    &path.key(key),
                    format!("{key} has no effect without mirror (each mirrors[] entry has its own percentage)"),
                );
            }
        }
    }
}
