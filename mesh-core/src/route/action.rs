//! What a matched route does, with Istio's defaults made explicit (spec §1.6, §1.7, §5.1).

use std::collections::BTreeMap;

use crate::resource::{self, Duration, HttpRetry};
use crate::split::WeightedSet;

/// The action of a route.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Forward to weighted destinations.
    Forward(Box<Forward>),
    /// Respond with a redirect.
    Redirect(Redirect),
    /// Respond directly.
    DirectResponse(DirectResponse),
}

/// Forwarding and the policies around it.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// Where to send (Istio weight rules applied).
    pub destinations: WeightedSet<RouteDestination>,
    /// Whole-request timeout; `None` is disabled (Istio's default).
    pub timeout: Option<Duration>,
    /// Retries (the mesh default when the route has none).
    pub retries: RetryPolicy,
    /// Fault injection.
    pub fault: Option<FaultPolicy>,
    /// Mirrors.
    pub mirrors: Vec<Mirror>,
    /// Rewrite.
    pub rewrite: Option<Rewrite>,
    /// Route-level header operations.
    pub headers: HeaderOps,
    /// CORS, when configured.
    pub cors: Option<resource::CorsPolicy>,
}

/// A destination with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteDestination {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Weight as configured (0 when unset).
    pub weight: u64,
    /// Header operations when picked.
    pub headers: HeaderOps,
}

/// Request and response header operations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// On the request.
    pub request: HeaderOperations,
    /// On the response.
    pub response: HeaderOperations,
}

/// `set` / `add` / `remove`, sorted by header name as Istio emits them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderOperations {
    /// Overwrite or add.
    pub set: BTreeMap<String, String>,
    /// Append.
    pub add: BTreeMap<String, String>,
    /// Remove.
    pub remove: Vec<String>,
}

/// The retry policy of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries allowed (tries = attempts + 1); 0 disables.
    pub attempts: u32,
    /// Timeout of each try.
    pub per_try_timeout: Option<Duration>,
    /// Conditions (`retriable-status-codes` appended when codes are given).
    pub retry_on: Vec<String>,
    /// Status codes that are retried.
    pub retriable_status_codes: Vec<u16>,
    /// Base backoff (Envoy 25 ms); the cap is ten times this.
    pub backoff_base: Duration,
    /// Avoid the previously tried host.
    pub retry_ignore_previous_hosts: bool,
    /// Retry in other localities.
    pub retry_remote_localities: bool,
    /// True when no `retries` block was given and the mesh default applies.
    pub is_default: bool,
}

/// The tokens of Istio's default retry policy (since 1.6).
pub const DEFAULT_RETRY_ON: [&str; 5] = [
    "connect-failure",
    "refused-stream",
    "unavailable",
    "cancelled",
    "retriable-status-codes",
];

// === impl RetryPolicy ===

impl RetryPolicy {
    /// Istio's built-in default: 2 retries on connect-failure, refused-stream, unavailable,
    /// cancelled, retriable-status-codes (no codes, so that token is inert).
    pub fn istio_default() -> Self {
        RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: DEFAULT_RETRY_ON.iter().map(|s| (*s).to_owned()).collect(),
            retriable_status_codes: Vec::new(),
            backoff_base: Duration::from_millis(25),
            retry_ignore_previous_hosts: true,
            retry_remote_localities: false,
            is_default: true,
        }
    }

    /// From a route's `retries`: `attempts` absent or <= 0 disables; a `retryOn` replaces the
    /// default list, numeric tokens become status codes and `retriable-status-codes` is
    /// appended.
    pub fn from_spec(r: &HttpRetry) -> Self {
        let attempts = r
            .attempts
            .filter(|a| *a > 0)
            .map_or(0, |a| u32::try_from(a).unwrap_or(u32::MAX));
        let mut retry_on = Vec::new();
        let mut codes = Vec::new();
        match &r.retry_on {
            Some(list) => {
                for tok in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    match tok.parse::<u16>() {
                        Ok(code) => codes.push(code),
                        Err(_) => {
                            if !retry_on.iter().any(|t| t == tok) {
                                retry_on.push(tok.to_owned());
                            }
                        }
                    }
                }
                if !codes.is_empty() && !retry_on.iter().any(|t| t == "retriable-status-codes") {
                    retry_on.push("retriable-status-codes".to_owned());
                }
            }
            None => retry_on = DEFAULT_RETRY_ON.iter().map(|s| (*s).to_owned()).collect(),
        }
        RetryPolicy {
            attempts,
            per_try_timeout: r.per_try_timeout,
            retry_on,
            retriable_status_codes: codes,
            backoff_base: r.backoff.unwrap_or(Duration::from_millis(25)),
            retry_ignore_previous_hosts: r.retry_ignore_previous_hosts.unwrap_or(true),
            retry_remote_localities: r.retry_remote_localities.unwrap_or(false),
            is_default: false,
        }
    }
}

/// Fault injection with per-million precision (Istio: `value × 10000`, truncated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPolicy {
    /// Delay.
    pub delay: Option<FaultDelay>,
    /// Abort.
    pub abort: Option<FaultAbort>,
}

/// A delay fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultDelay {
    /// How long.
    pub fixed: Duration,
    /// Share of requests, per million.
    pub per_million: u32,
}

/// An abort fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultAbort {
    /// What to answer.
    pub error: AbortError,
    /// Share of requests, per million.
    pub per_million: u32,
}

/// The error an abort returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbortError {
    /// An HTTP status.
    Http(u16),
    /// A gRPC status name (`UNAVAILABLE`).
    Grpc(String),
}

/// Percentage to per-million, truncated (`0.1` -> 1000). Out-of-range values clamp
/// (validation rejects them).
pub fn per_million(percent: f64) -> u32 {
    let v = (percent * 10_000.0).trunc();
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= 1_000_000.0 {
        1_000_000
    } else {
        v as u32
    }
}

/// A mirror destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Share of requests mirrored, per million (default 100%).
    pub per_million: u32,
}

/// A rewrite applied before forwarding.
#[derive(Clone, Debug, PartialEq)]
pub struct Rewrite {
    /// Replaces the matched prefix (Envoy `prefix_rewrite`).
    pub uri: Option<String>,
    /// Regex substitution of the path.
    pub uri_regex: Option<(RegexHolder, String)>,
    /// Replaces the authority.
    pub authority: Option<String>,
}

/// A compiled regex compared by its pattern.
#[derive(Clone, Debug)]
pub struct RegexHolder(pub regex::Regex);

impl PartialEq for RegexHolder {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// A redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// Replacement path.
    pub uri: Option<String>,
    /// Replacement of the matched prefix.
    pub prefix_rewrite: Option<String>,
    /// Replacement host.
    pub authority: Option<String>,
    /// Replacement scheme.
    pub scheme: Option<String>,
    /// Replacement port.
    pub port: Option<RedirectPort>,
    /// Status (default 301).
    pub status: u16,
}

/// Where a redirect's port comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectPort {
    /// A fixed port.
    Fixed(u16),
    /// 80 for http, 443 for https.
    ProtocolDefault,
    /// The port the request came in on.
    RequestPort,
}

/// A direct response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectResponse {
    /// Status.
    pub status: u16,
    /// Body bytes.
    pub body: Option<Vec<u8>>,
}

/// The part of the path a match block matched, for `prefix_rewrite` semantics: the prefix for a
/// prefix match, the whole path for exact and regex matches, `/` when the block has no URI
/// condition (Istio's implicit prefix).
pub fn matched_prefix<'p>(block: Option<&super::MatchBlock>, path: &'p str) -> &'p str {
    use super::matcher::StrMatcher;
    match block.and_then(|b| b.uri.as_ref()) {
        Some(StrMatcher::Prefix(p)) => path.get(..p.len()).unwrap_or(path),
        Some(StrMatcher::Exact(_) | StrMatcher::Regex(_)) => path,
        Some(StrMatcher::Any) | None => path.get(..1).filter(|s| *s == "/").unwrap_or(""),
    }
}

// === impl Rewrite ===

impl Rewrite {
    /// The path after the rewrite (query untouched): `uri` replaces the matched prefix
    /// (`/users` with no URI match and `uri: /v2` gives `/v2users`, as in Istio); a regex
    /// rewrite substitutes every match.
    pub fn apply_path(&self, block: Option<&super::MatchBlock>, path: &str) -> String {
        if let Some(uri) = &self.uri {
            let prefix = matched_prefix(block, path);
            return format!("{uri}{}", &path[prefix.len()..]);
        }
        if let Some((re, sub)) = &self.uri_regex {
            return re.0.replace_all(path, sub.as_str()).into_owned();
        }
        path.to_owned()
    }
}

// === impl Redirect ===

impl Redirect {
    /// The `Location` of the redirect. Scheme, host and port default to the request's; an
    /// explicit `:80` with http or `:443` with https is omitted; the query is kept.
    pub fn location(
        &self,
        block: Option<&super::MatchBlock>,
        scheme: &str,
        authority: &str,
        path: &str,
        query: Option<&str>,
        listener_port: u16,
    ) -> String {
        let scheme = self
            .scheme
            .as_deref()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        let (req_host, req_port) = crate::model::host::split_authority(authority);
        let host = self
            .authority
            .as_deref()
            .map(|a| crate::model::host::split_authority(a).0)
            .unwrap_or(req_host)
            .into_owned();
        let port = match self.port {
            Some(RedirectPort::Fixed(p)) => Some(p),
            Some(RedirectPort::ProtocolDefault) => None,
            Some(RedirectPort::RequestPort) => Some(listener_port),
            // Without a port rule the request's explicit port is kept unless the scheme
            // changes, in which case it is dropped (Envoy's https_redirect).
            None if self.scheme.is_some() => None,
            None => req_port,
        };
        let port =
            port.filter(|p| !((*p == 80 && scheme == "http") || (*p == 443 && scheme == "https")));
        let new_path = match (&self.uri, &self.prefix_rewrite) {
            (Some(uri), _) => uri.clone(),
            (None, Some(pr)) => {
                let prefix = matched_prefix(block, path);
                format!("{pr}{}", &path[prefix.len()..])
            }
            (None, None) => path.to_owned(),
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let mut out = format!("{scheme}://{host}");
        if let Some(p) = port {
            out.push_str(&format!(":{p}"));
        }
        out.push_str(&new_path);
        if let Some(q) = query.filter(|_| !new_path.contains('?')) {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}
