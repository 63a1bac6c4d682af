//! VirtualService HTTP route selection (spec §1): pure functions of a compiled route
//! configuration and a request.

pub mod action;
pub mod compile;
pub mod matcher;
pub mod table;
pub mod vhost;

use http::HeaderMap;

pub use self::action::Action;
pub use self::compile::{CompiledRule, CompiledVs, MatchBlock};
pub use self::table::{RouteEntry, RouteTable};
pub use self::vhost::{VirtualHost, VirtualHosts};

/// The facts of a request that routing reads.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    /// `:method`, as sent (case-sensitive).
    pub method: &'a str,
    /// `:scheme` (`http` or `https`).
    pub scheme: &'a str,
    /// `:authority` / `Host` as sent, port included.
    pub authority: &'a str,
    /// Path without query or fragment.
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// The listener port (authority port, else 80/443 by scheme).
    pub port: u16,
}

// === impl RouteRequest ===

impl<'a> RouteRequest<'a> {
    /// Reads an `http::Request`: authority from the URI (absolute form, HTTP/2) else `Host`.
    pub fn from_http<B>(req: &'a http::Request<B>) -> Self {
        let uri = req.uri();
        let scheme = uri.scheme_str().unwrap_or("http");
        let authority = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or("");
        RouteRequest {
            method: req.method().as_str(),
            scheme,
            authority,
            path: uri.path(),
            query: uri.query(),
            headers: req.headers(),
            port: port_of(authority, scheme),
        }
    }
}

/// The port of an authority, else the scheme's default.
pub fn port_of(authority: &str, scheme: &str) -> u16 {
    crate::model::host::split_authority(authority).1.unwrap_or(
        if scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            80
        },
    )
}

/// What routing decided for a request at one listener.
#[derive(Clone, Copy, Debug)]
pub enum Decision<'a> {
    /// A route matched.
    Route {
        /// The virtual host.
        vhost: &'a VirtualHost,
        /// The route.
        entry: &'a RouteEntry,
    },
    /// A VirtualService owns the host but no route matched, or a gateway has no virtual host
    /// for it: 404 (Envoy `NR`).
    NotFound {
        /// The virtual host, when one owns the host.
        vhost: Option<&'a VirtualHost>,
    },
    /// A gateway server with `httpsRedirect`: 301 to https.
    HttpsRedirect {
        /// The virtual host.
        vhost: &'a VirtualHost,
    },
    /// No VirtualService claims the host (sidecar): the default route to the service itself.
    Default,
}

#[cfg(test)]
mod tests;
