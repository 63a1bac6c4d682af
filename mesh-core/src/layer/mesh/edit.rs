//! What the router answers itself (404 `NR`, 503 `NC`, redirects, direct responses) and the
//! request and response edits of a matched route (spec §1.6): rewrite, then header operations.

use bytes::Bytes;
use http::header::{HOST, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};

use crate::layer::timeout::ResponseFlag;
use crate::route::MatchBlock;
use crate::route::action::{DirectResponse, HeaderOperations, Rewrite};

/// Envoy's `NR`: no route matched on a virtual host (404, empty body).
pub const NO_ROUTE: &str = "NR";
/// Envoy's `NC`: the destination names an undefined subset (503, empty body).
pub const NO_CLUSTER: &str = "NC";

/// A local reply with an empty body and a response flag.
pub(crate) fn flagged<B: Default>(status: StatusCode, flag: &'static str) -> Response<B> {
    let mut rsp = Response::new(B::default());
    *rsp.status_mut() = status;
    rsp.extensions_mut().insert(ResponseFlag(flag));
    rsp
}

/// A redirect: the status and the `Location`.
pub(crate) fn redirect<B: Default>(status: u16, location: &str) -> Response<B> {
    let mut rsp = Response::new(B::default());
    *rsp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(location) {
        rsp.headers_mut().insert(LOCATION, v);
    }
    rsp
}

/// A VirtualService `directResponse`.
pub(crate) fn direct<B: From<Bytes>>(d: &DirectResponse) -> Response<B> {
    let body = d
        .body
        .as_deref()
        .map_or_else(Bytes::new, Bytes::copy_from_slice);
    let mut rsp = Response::new(B::from(body));
    *rsp.status_mut() = StatusCode::from_u16(d.status).unwrap_or(StatusCode::OK);
    rsp
}

/// True when the operations change nothing (the common case: no allocation then).
pub(crate) fn is_empty(ops: &HeaderOperations) -> bool {
    ops.set.is_empty() && ops.add.is_empty() && ops.remove.is_empty()
}

/// Istio's header operations: `set` overwrites, `add` appends, `remove` deletes. Names and
/// values were validated with the resource; `host` is never written (it is the authority).
pub(crate) fn apply_headers(headers: &mut HeaderMap, ops: &HeaderOperations) {
    if is_empty(ops) {
        return;
    }
    let pairs = |m: &'_ std::collections::BTreeMap<String, String>| {
        m.iter()
            .filter_map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
                let value = HeaderValue::from_str(v).ok()?;
                (name != HOST).then_some((name, value))
            })
            .collect::<Vec<_>>()
    };
    for (name, value) in pairs(&ops.set) {
        headers.insert(name, value);
    }
    for (name, value) in pairs(&ops.add) {
        headers.append(name, value);
    }
    for name in &ops.remove {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(name);
        }
    }
}

/// Applies `rewrite.uri` / `uriRegexRewrite` (query kept) and `rewrite.authority`.
pub(crate) fn apply_rewrite<B>(
    req: &mut Request<B>,
    rewrite: &Rewrite,
    block: Option<&MatchBlock>,
) {
    let mut parts = req.uri().clone().into_parts();
    if rewrite.uri.is_some() || rewrite.uri_regex.is_some() {
        let path = rewrite.apply_path(block, req.uri().path());
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
        }
    }
    if let Some(authority) = &rewrite.authority {
        if let Ok(v) = HeaderValue::from_str(authority) {
            req.headers_mut().insert(HOST, v);
        }
        if parts.authority.is_some()
            && let Ok(a) = authority.parse()
        {
            parts.authority = Some(a);
        }
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}
