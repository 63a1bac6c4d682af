//! The request as `explain` reads it: method, URL, headers.

use super::{ExplainError, ExplainRequest, ProxyScope, RequestView};

pub(super) struct ParsedRequest {
    method: String,
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
    pub(super) headers: http::HeaderMap,
}

impl ParsedRequest {
    /// The request as the proxy of `scope` sees it. The port is the listener's: at a sidecar
    /// the one the authority names (or the scheme's), at a gateway the Gateway server port
    /// whatever the authority says (as `MeshLayer::try_gateway` routes it).
    pub(super) fn view(&self, scope: &ProxyScope) -> RequestView {
        let host = crate::model::host::split_authority(&self.authority)
            .0
            .into_owned();
        RequestView {
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
            host,
            port: match scope {
                ProxyScope::Sidecar(_) => crate::route::port_of(&self.authority, &self.scheme),
                ProxyScope::Gateway { port, .. } => *port,
            },
            path: self.path.clone(),
            query: self.query.clone(),
        }
    }
}

pub(super) fn parse_request(req: &ExplainRequest) -> Result<ParsedRequest, ExplainError> {
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
