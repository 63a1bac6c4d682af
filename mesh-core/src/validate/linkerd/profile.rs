//! ServiceProfile routes (semantics.md §9.2–§9.3): Linkerd `profiles.Validate`, plus the
//! conditions linkerd2-proxy drops without a word (an unparsable regex drops the route, a
//! half-open status range drops the response class).

use crate::path::FieldPath;
use crate::pattern::{self, MAX_REGEX_LEN};
use crate::resource::{RequestMatch, ResponseClass, ResponseMatch, RouteSpec, ServiceProfileSpec};
use crate::validate::Report;
use crate::validate::common::is_tchar;

use super::{budget, split};

/// Linkerd `minStatus` / `maxStatus`.
const STATUS: std::ops::RangeInclusive<u32> = 100..=599;

/// Validates a ServiceProfile spec.
pub fn validate(spec: &ServiceProfileSpec, path: &FieldPath, r: &mut Report) {
    for (i, route) in spec.routes.iter().enumerate() {
        self::route(route, &path.key("routes").index(i), r);
    }
    if let Some(b) = &spec.retry_budget {
        budget::retry_budget(b, &path.key("retryBudget"), r);
    }
    split::dst_overrides(&spec.dst_overrides, &path.key("dstOverrides"), r);
    for (i, p) in spec.opaque_ports.iter().enumerate() {
        if !(1..=65535).contains(p) {
            r.error(
                &path.key("opaquePorts").index(i),
                format!("opaque port {p} must be in 1..=65535"),
            );
        }
    }
}

/// Linkerd: a route has a name and a condition; its timeout, if any, is positive.
fn route(route: &RouteSpec, path: &FieldPath, r: &mut Report) {
    if route.name.is_empty() {
        r.error(
            &path.key("name"),
            "route name is required (it labels the route's metrics)",
        );
    }
    match &route.condition {
        None => r.error(
            &path.key("condition"),
            "route has no condition; set one such as {pathRegex: /api/.*, method: GET}",
        ),
        Some(c) => request_match(c, &path.key("condition"), r),
    }
    for (j, rc) in route.response_classes.iter().enumerate() {
        response_class(rc, &path.key("responseClasses").index(j), r);
    }
    if route.timeout.is_some_and(|t| t.is_zero()) {
        r.error(
            &path.key("timeout"),
            "timeout must be greater than 0 (remove it for no timeout)",
        );
    }
}

/// Linkerd `ValidateRequestMatch`: at least one field, children non-null, recursively.
fn request_match(m: &RequestMatch, path: &FieldPath, r: &mut Report) {
    let set = m.all.is_some()
        || m.any.is_some()
        || m.not.is_some()
        || m.path_regex.is_some()
        || m.method.is_some();
    if !set {
        r.error(
            path,
            "a request match must have at least one of pathRegex, method, all, any or not",
        );
    }
    children(
        [("all", &m.all), ("any", &m.any)],
        "request",
        path,
        r,
        request_match,
    );
    if m.any.as_ref().is_some_and(Vec::is_empty) {
        r.warn(&path.key("any"), "an empty any matches no request");
    }
    if let Some(not) = &m.not {
        request_match(not, &path.key("not"), r);
    }
    if let Some(re) = &m.path_regex {
        path_regex(r, &path.key("pathRegex"), re);
    }
    if let Some(method) = &m.method {
        self::method(r, &path.key("method"), method);
    }
}

/// §9.2: the proxy trims the regex, adds `^`/`$` where missing, and compiles it with the Rust
/// `regex` crate; one that does not compile drops the route.
pub(super) fn path_regex(r: &mut Report, path: &FieldPath, re: &str) {
    let trimmed = re.trim();
    if trimmed.is_empty() {
        r.error(path, "pathRegex must not be empty");
        return;
    }
    let len = trimmed.chars().count();
    if len > MAX_REGEX_LEN {
        r.error(
            path,
            format!("pathRegex is {len} characters long; the limit is {MAX_REGEX_LEN}"),
        );
        return;
    }
    let anchored = anchor(trimmed);
    if let Err(e) = pattern::compile(trimmed, &anchored) {
        r.error(path, e.to_string());
    } else if anchored != trimmed && has_top_level_alternation(trimmed) {
        r.warn(
            path,
            format!(
                "pathRegex {trimmed:?} is anchored as {anchored:?}: the alternation is not \
                 grouped, so it means \"starts with the first branch or ends with the last\"; \
                 write ^({trimmed})$"
            ),
        );
    }
}

/// Linkerd's textual anchoring.
fn anchor(re: &str) -> String {
    let head = if re.starts_with('^') { "" } else { "^" };
    let tail = if re.ends_with('$') { "" } else { "$" };
    format!("{head}{re}{tail}")
}

/// True when `re` has a `|` outside any group or character class.
fn has_top_level_alternation(re: &str) -> bool {
    let (mut depth, mut class) = (0usize, false);
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => class = true,
            ']' => class = false,
            '(' if !class => depth += 1,
            ')' if !class => depth = depth.saturating_sub(1),
            '|' if !class && depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// §9.2 `method`: non-empty, a method token (the controller upper-cases it).
fn method(r: &mut Report, path: &FieldPath, m: &str) {
    if m.is_empty() {
        r.error(path, "method must not be empty");
    } else if !m.bytes().all(is_tchar) {
        r.error(
            path,
            format!("method {m:?} is not an HTTP method token (such as GET or POST)"),
        );
    }
}

/// Linkerd: a response class needs a condition.
fn response_class(rc: &ResponseClass, path: &FieldPath, r: &mut Report) {
    match &rc.condition {
        None => r.error(
            &path.key("condition"),
            "response class has no condition; set one such as {status: {min: 500, max: 599}}",
        ),
        Some(c) => response_match(c, &path.key("condition"), r),
    }
}

/// Linkerd `ValidateResponseMatch`: at least one field, children non-null, sane status ranges.
fn response_match(m: &ResponseMatch, path: &FieldPath, r: &mut Report) {
    if m.all.is_none() && m.any.is_none() && m.not.is_none() && m.status.is_none() {
        r.error(
            path,
            "a response match must have at least one of status, all, any or not",
        );
    }
    children(
        [("all", &m.all), ("any", &m.any)],
        "response",
        path,
        r,
        response_match,
    );
    if let Some(not) = &m.not {
        response_match(not, &path.key("not"), r);
    }
    if let Some(s) = &m.status {
        status(
            r,
            &path.key("status"),
            s.min.unwrap_or(0),
            s.max.unwrap_or(0),
        );
    }
}

/// §9.3: bounds in `100..=599` when non-zero and `max >= min`. A missing bound (0) is accepted
/// by the controller, but the proxy then drops the whole class (doc/code divergence).
fn status(r: &mut Report, path: &FieldPath, min: u32, max: u32) {
    let mut ok = true;
    for (name, v) in [("min", min), ("max", max)] {
        if v != 0 && !STATUS.contains(&v) {
            ok = false;
            r.error(
                &path.key(name),
                format!("status {name} {v} must be in 100..=599"),
            );
        }
    }
    if !ok {
        return;
    }
    if min != 0 && max != 0 && max < min {
        r.error(
            path,
            format!("status range max {max} is smaller than min {min}"),
        );
    }
    one_sided(r, path, min, max);
}

/// §9.3 doc/code divergence: a range missing a bound.
fn one_sided(r: &mut Report, path: &FieldPath, min: u32, max: u32) {
    let (which, code) = match (min, max) {
        (0, 0) => {
            return r.warn(
                path,
                "status range has neither min nor max: linkerd2-proxy reads a missing bound as \
                 0 and drops the whole response class (default classification applies)",
            );
        }
        (m, 0) => ("min", m),
        (0, m) => ("max", m),
        _ => return,
    };
    r.warn(
        path,
        format!(
            "status range has only {which} ({code}): the Linkerd docs say it matches that \
             single code, but linkerd2-proxy reads the missing bound as 0 and drops the whole \
             response class (default classification applies); write min: {code}, max: {code}"
        ),
    );
}

/// The `all` / `any` children of a match: none may be null, each is checked recursively.
type Children<'a, T> = [(&'static str, &'a Option<Vec<Option<T>>>); 2];

fn children<T>(
    lists: Children<'_, T>,
    what: &str,
    path: &FieldPath,
    r: &mut Report,
    check: fn(&T, &FieldPath, &mut Report),
) {
    for (name, list) in lists {
        for (k, child) in list.iter().flatten().enumerate() {
            let at = path.key(name).index(k);
            match child {
                None => r.error(
                    &at,
                    format!("null condition in {name}: write a {what} match"),
                ),
                Some(c) => check(c, &at, r),
            }
        }
    }
}
