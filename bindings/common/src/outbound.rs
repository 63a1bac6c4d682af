//! The outbound side for the bindings' HTTP clients (the Python `httpx` transport, Node's
//! `meshFetch`): host values in, [`mesh_core::client`] decisions out. Time is read from the
//! monotonic clock here, at the boundary; every decision is the engine's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Method, Request, Uri};
use mesh_core::client::{Begin, Call, Client, InvalidPolicy, LocalResponse, Next};
use mesh_core::resilience::Outcome;
use mesh_core::resilience::retry::TryDeadline;
use mesh_core::{Mesh, Workload};

use crate::request::workload;

/// Why an outbound step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// `workload` is not `NS/NAME`.
    #[error("workload {0:?}: expected NS/NAME")]
    Workload(String),
    /// The method is not an HTTP token.
    #[error("invalid method {0:?}")]
    Method(String),
    /// The URL is not an absolute `http://` or `https://` URL.
    #[error("invalid URL {0:?}: expected http://host[:port]/path")]
    Url(String),
    /// A header name or value that cannot be sent.
    #[error("invalid header {0:?}")]
    Header(String),
    /// An attempt's outcome that is neither a status nor a known error kind.
    #[error(
        "outcome: give a status (100..=599) or an error kind (connect-failure, reset, \
         refused-stream, timeout), got {0}"
    )]
    Outcome(String),
    /// A policy on the request's path the engines cannot enforce.
    #[error(transparent)]
    Policy(#[from] InvalidPolicy),
}

/// The outbound clients of one mesh, one per (workload, labels), built on first use and
/// shared, so balancers, outlier detectors and budgets see every call of the process.
#[derive(Debug)]
pub struct Clients {
    mesh: Arc<Mesh>,
    seed: u64,
    clients: Mutex<HashMap<ClientKey, Arc<Client>>>,
}

/// A client workload: `NS/NAME` and its labels.
type ClientKey = (String, BTreeMap<String, String>);

/// What the host does first.
#[derive(Debug)]
pub enum Step {
    /// Wait `delay`, then answer `response` without sending.
    Respond {
        /// The fault delay.
        delay: Option<Duration>,
        /// The answer.
        response: LocalResponse,
    },
    /// Wait the call's fault delay, then send its attempts.
    Send(OutboundCall),
}

/// One call in flight (see [`mesh_core::client::Call`]).
#[derive(Debug)]
pub struct OutboundCall {
    call: Box<Call>,
    /// The URL of the attempt to send now: the endpoint's address and the rewritten path.
    url: String,
    /// The headers to send, the rewritten `host` first.
    headers: Vec<(String, String)>,
}

/// What the host does after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Return the attempt's response (after [`OutboundCall::edit_response`]).
    Done,
    /// Wait `delay`, then send again to the call's (new) `url`.
    Retry(Duration),
    /// Answer this instead.
    Respond(LocalResponse),
}

/// How long the attempt starting now may take, and whether its expiry is the route timeout
/// (then call [`OutboundCall::timed_out`]) or the per-try timeout (report `timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptTimeout {
    /// Time left.
    pub after: Duration,
    /// The route deadline, not the per-try timeout.
    pub route: bool,
}

// === impl Clients ===

impl Clients {
    /// Clients over `mesh`, seeded from `seed` (each client's seed mixes in its workload).
    pub fn new(mesh: Arc<Mesh>, seed: u64) -> Self {
        Clients {
            mesh,
            seed,
            clients: Mutex::default(),
        }
    }

    /// The client of `workload` (`NS/NAME`) with `labels`.
    pub fn get(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Arc<Client>, OutboundError> {
        let key = (name.to_owned(), labels.clone());
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let w: Workload =
            workload(name, labels).map_err(|_| OutboundError::Workload(name.to_owned()))?;
        let seed = self.seed ^ (clients.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let client = Arc::new(Client::new(self.mesh.clone(), w, seed));
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Routes a request from `client`: `body_len` is the body's length when the host holds it
/// (replayable; `Some(0)` without a body), `None` for a stream (never retried).
pub fn begin(
    client: &Client,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body_len: Option<u64>,
) -> Result<Step, OutboundError> {
    let req = request(method, url, headers)?;
    Ok(match client.begin(req, body_len, Instant::now())? {
        Begin::Respond { delay, response } => Step::Respond { delay, response },
        Begin::Send(call) => {
            let mut out = OutboundCall {
                call,
                url: String::new(),
                headers: Vec::new(),
            };
            out.refresh();
            Step::Send(out)
        }
    })
}

/// The `http::Request` of host values: an absolute URL, headers by name (repeats kept).
fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
) -> Result<Request<()>, OutboundError> {
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| OutboundError::Method(method.into()))?;
    let uri: Uri = url.parse().map_err(|_| OutboundError::Url(url.into()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(OutboundError::Url(url.into()));
    }
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    for (k, v) in headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| OutboundError::Header(k.clone()))?;
        let value = HeaderValue::from_str(v).map_err(|_| OutboundError::Header(k.clone()))?;
        req.headers_mut().append(name, value);
    }
    Ok(req)
}

/// An attempt's outcome from host values: a status (with the `grpc-status` header, if any), or
/// an error kind.
pub fn outcome(
    status: Option<u32>,
    grpc_status: Option<u32>,
    error: Option<&str>,
) -> Result<Outcome, OutboundError> {
    match (status, error) {
        (Some(s), None) if (100..=599).contains(&s) => Ok(Outcome::Response {
            status: s as u16,
            grpc_status: grpc_status.and_then(|g| u8::try_from(g).ok()),
        }),
        (None, Some("connect-failure")) => Ok(Outcome::ConnectFailure),
        (None, Some("reset")) => Ok(Outcome::Reset {
            before_request: false,
        }),
        (None, Some("refused-stream")) => Ok(Outcome::RefusedStream),
        (None, Some("timeout")) => Ok(Outcome::PerTryTimeout),
        (s, e) => Err(OutboundError::Outcome(format!("status {s:?}, error {e:?}"))),
    }
}

// === impl Step ===

impl Step {
    /// The step as a host holds it: the fault delay to wait first, then the local answer or
    /// the call to send (exactly one of the two).
    pub fn into_parts(
        self,
    ) -> (
        Option<Duration>,
        Option<LocalResponse>,
        Option<OutboundCall>,
    ) {
        match self {
            Step::Respond { delay, response } => (delay, Some(response), None),
            Step::Send(call) => (call.delay(), None, Some(call)),
        }
    }
}

// === impl OutboundCall ===

impl OutboundCall {
    /// Where to send the attempt: `scheme://address:port/path?query` of the endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.call.request().method().as_str()
    }

    /// The headers to send (`host` is the rewritten authority).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The endpoint of the attempt to send now.
    pub fn endpoint(&self) -> &mesh_core::client::Endpoint {
        self.call.endpoint()
    }

    /// The fault delay before the first attempt.
    pub fn delay(&self) -> Option<Duration> {
        self.call.delay()
    }

    /// The route timeout (every attempt and backoff).
    pub fn timeout(&self) -> Option<Duration> {
        self.call.timeout()
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.call.retries()
    }

    /// How long the attempt starting now may take (`None`: no timeout).
    pub fn attempt_timeout(&self) -> Option<AttemptTimeout> {
        let now = Instant::now();
        let (at, route) = match self.call.try_deadline(now) {
            TryDeadline::PerTry(at) => (at, false),
            TryDeadline::Route(at) => (at, true),
            TryDeadline::None => return None,
        };
        Some(AttemptTimeout {
            after: at.saturating_duration_since(now),
            route,
        })
    }

    /// Reports the attempt's outcome; see [`outcome`] for the host values.
    pub fn finish(
        &mut self,
        status: Option<u32>,
        grpc_status: Option<u32>,
        error: Option<&str>,
    ) -> Result<After, OutboundError> {
        let outcome = outcome(status, grpc_status, error)?;
        Ok(match self.call.finish(outcome, Instant::now()) {
            Next::Done => After::Done,
            Next::Retry { delay, .. } => {
                self.refresh();
                After::Retry(delay)
            }
            Next::Respond(r) => After::Respond(r),
        })
    }

    /// The route timeout fired: Envoy's 504 `UT` answer.
    pub fn timed_out(&mut self) -> LocalResponse {
        self.call.timed_out()
    }

    /// The response headers after the route's and destination's header operations.
    pub fn edit_response(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                map.append(n, v);
            }
        }
        self.call.edit_response(&mut map);
        map.iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect()
    }

    /// Recomputes the URL and headers for the current endpoint.
    fn refresh(&mut self) {
        let req = self.call.request();
        let ep = self.call.endpoint();
        let scheme = req.uri().scheme_str().unwrap_or("http");
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let addr = if ep.address.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{}]", ep.address)
        } else {
            ep.address.clone()
        };
        self.url = format!("{scheme}://{addr}:{}{pq}", ep.port);
        // The authority the route leaves (rewritten or not) goes in `host`.
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        let mut headers = vec![("host".to_owned(), host)];
        for (k, v) in req.headers() {
            if k != http::header::HOST {
                headers.push((
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                ));
            }
        }
        self.headers = headers;
    }
}
