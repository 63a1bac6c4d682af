//! Envoy `retry_on` tokens (spec §5.1) parsed once into a typed set, and the decision whether one
//! attempt's [`Outcome`] is retryable under it.

use crate::resilience::Outcome;

/// One `retryOn` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RetryOn {
    /// `5xx`: status 500-599, and every reset, connect failure or per-try timeout.
    FiveXx,
    /// `gateway-error`: 502, 503, 504, and every reset, connect failure or per-try timeout.
    GatewayError,
    /// `reset`: any reset, including a per-try timeout (a local reset).
    Reset,
    /// `reset-before-request`: a reset before any byte of the request was sent.
    ResetBeforeRequest,
    /// `connect-failure`: connection refused, unreachable, or connect timeout.
    ConnectFailure,
    /// `envoy-ratelimited`: a response carrying `x-envoy-ratelimited`.
    EnvoyRateLimited,
    /// `retriable-4xx`: status 409 only.
    Retriable4xx,
    /// `refused-stream`: an HTTP/2 `REFUSED_STREAM` reset.
    RefusedStream,
    /// `retriable-status-codes`: status in the configured list.
    RetriableStatusCodes,
    /// `retriable-headers`: Istio cannot configure the header matchers, so it never matches.
    RetriableHeaders,
    /// `http3-post-connect-failure`: HTTP/3 only; this library has no HTTP/3, so it never
    /// matches.
    Http3PostConnectFailure,
    /// `cancelled`: `grpc-status` 1 in the response headers.
    Cancelled,
    /// `deadline-exceeded`: `grpc-status` 4.
    DeadlineExceeded,
    /// `internal`: `grpc-status` 13.
    Internal,
    /// `resource-exhausted`: `grpc-status` 8.
    ResourceExhausted,
    /// `unavailable`: `grpc-status` 14.
    Unavailable,
}

/// Every token with its Envoy name.
const TOKENS: [(&str, RetryOn); 16] = [
    ("5xx", RetryOn::FiveXx),
    ("gateway-error", RetryOn::GatewayError),
    ("reset", RetryOn::Reset),
    ("reset-before-request", RetryOn::ResetBeforeRequest),
    ("connect-failure", RetryOn::ConnectFailure),
    ("envoy-ratelimited", RetryOn::EnvoyRateLimited),
    ("retriable-4xx", RetryOn::Retriable4xx),
    ("refused-stream", RetryOn::RefusedStream),
    ("retriable-status-codes", RetryOn::RetriableStatusCodes),
    ("retriable-headers", RetryOn::RetriableHeaders),
    (
        "http3-post-connect-failure",
        RetryOn::Http3PostConnectFailure,
    ),
    ("cancelled", RetryOn::Cancelled),
    ("deadline-exceeded", RetryOn::DeadlineExceeded),
    ("internal", RetryOn::Internal),
    ("resource-exhausted", RetryOn::ResourceExhausted),
    ("unavailable", RetryOn::Unavailable),
];

/// A `retryOn` token this library does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown retryOn token {0:?}")]
pub struct UnknownRetryOn(pub String);

// === impl RetryOn ===

impl RetryOn {
    /// Parses one Envoy token (exact spelling, no trimming).
    pub fn parse(token: &str) -> Result<Self, UnknownRetryOn> {
        TOKENS
            .iter()
            .find(|(name, _)| *name == token)
            .map(|(_, on)| *on)
            .ok_or_else(|| UnknownRetryOn(token.to_owned()))
    }

    /// The Envoy name.
    pub fn as_str(self) -> &'static str {
        TOKENS[self as usize].0
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`RetryOn`] conditions plus the retriable status codes: what one route retries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RetryConditions {
    bits: u32,
    codes: Vec<u16>,
}

/// What the response said beside its status, when it matters for retries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResponseHints {
    /// The response carries `x-envoy-ratelimited`: retried only with `envoy-ratelimited`.
    pub envoy_ratelimited: bool,
    /// The downstream request was TLS early data: 425 is then never retried.
    pub early_data: bool,
}

// === impl RetryConditions ===

impl RetryConditions {
    /// A set from conditions and the codes `retriable-status-codes` uses.
    pub fn new(
        on: impl IntoIterator<Item = RetryOn>,
        codes: impl IntoIterator<Item = u16>,
    ) -> Self {
        let bits = on.into_iter().fold(0, |b, c| b | c.bit());
        let mut codes: Vec<u16> = codes.into_iter().collect();
        codes.sort_unstable();
        codes.dedup();
        RetryConditions { bits, codes }
    }

    /// Parses Envoy tokens; numeric tokens become retriable status codes (and imply
    /// `retriable-status-codes`, as Istio appends it).
    pub fn parse<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownRetryOn> {
        let mut on = Vec::new();
        let mut codes = Vec::new();
        for tok in tokens {
            match tok.parse::<u16>() {
                Ok(code) => {
                    codes.push(code);
                    on.push(RetryOn::RetriableStatusCodes);
                }
                Err(_) => on.push(RetryOn::parse(tok)?),
            }
        }
        Ok(Self::new(on, codes))
    }

    /// Whether the set holds a condition.
    pub const fn contains(&self, on: RetryOn) -> bool {
        self.bits & on.bit() != 0
    }

    /// The retriable status codes, sorted.
    pub fn codes(&self) -> &[u16] {
        &self.codes
    }

    /// True when no condition can ever match.
    pub fn is_empty(&self) -> bool {
        self.bits & !(RetryOn::RetriableHeaders.bit() | RetryOn::Http3PostConnectFailure.bit()) == 0
    }

    /// Whether an attempt that ended with `outcome` may be retried (attempt counts, permits and
    /// the route timeout are checked elsewhere), for a response without
    /// `x-envoy-ratelimited`.
    pub fn is_retryable(&self, outcome: &Outcome) -> bool {
        self.is_retryable_with(outcome, ResponseHints::default())
    }

    /// As [`Self::is_retryable`], with the response's hints.
    pub fn is_retryable_with(&self, outcome: &Outcome, hints: ResponseHints) -> bool {
        match *outcome {
            Outcome::Response {
                status,
                grpc_status,
            } => self.retry_response(status, grpc_status, hints),
            Outcome::Overflow => false,
            Outcome::ConnectFailure => {
                // Envoy: connect failures are retried on `connect-failure`, otherwise they
                // fall through to the reset rules (nothing was sent yet).
                self.contains(RetryOn::ConnectFailure) || self.any_reset(true)
            }
            Outcome::Reset { before_request } => self.any_reset(before_request),
            Outcome::RefusedStream => {
                self.contains(RetryOn::RefusedStream) || self.any_reset(false)
            }
            // A per-try timeout is a local reset after the request was sent.
            Outcome::PerTryTimeout => self.any_reset(false),
        }
    }

    fn any_reset(&self, before_request: bool) -> bool {
        (before_request && self.contains(RetryOn::ResetBeforeRequest))
            || self.contains(RetryOn::Reset)
            || self.contains(RetryOn::FiveXx)
            || self.contains(RetryOn::GatewayError)
    }

    /// Envoy `wouldRetryFromHeaders`, in its order.
    fn retry_response(&self, status: u16, grpc: Option<u8>, hints: ResponseHints) -> bool {
        if hints.envoy_ratelimited {
            return self.contains(RetryOn::EnvoyRateLimited);
        }
        if self.contains(RetryOn::FiveXx) && (500..=599).contains(&status) {
            return true;
        }
        if self.contains(RetryOn::GatewayError) && matches!(status, 502..=504) {
            return true;
        }
        if self.contains(RetryOn::Retriable4xx) && status == 409 {
            return true;
        }
        if self.contains(RetryOn::RetriableStatusCodes)
            && self.codes.binary_search(&status).is_ok()
            && !(status == 425 && hints.early_data)
        {
            return true;
        }
        let Some(code) = grpc else { return false };
        let on = match code {
            1 => RetryOn::Cancelled,
            4 => RetryOn::DeadlineExceeded,
            8 => RetryOn::ResourceExhausted,
            13 => RetryOn::Internal,
            14 => RetryOn::Unavailable,
            _ => return false,
        };
        self.contains(on)
    }

    /// The conditions in the set, in Envoy's token order.
    pub fn iter(&self) -> impl Iterator<Item = RetryOn> + '_ {
        TOKENS
            .iter()
            .map(|(_, on)| *on)
            .filter(|on| self.contains(*on))
    }
}

/// The token table, for tests.
#[cfg(test)]
pub(super) fn tests_tokens() -> [(&'static str, RetryOn); 16] {
    TOKENS
}
