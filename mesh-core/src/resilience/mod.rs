//! Resilience engines (spec §3–§5, §1.7): pure data plus functions of `now` and an injected RNG.
//! No tokio, no hyper, no sockets here; the tower layers in [`crate::layer`] drive them.

pub mod balance;
pub mod budget;
pub mod envoy_budget;
pub mod fault;
pub mod mirror;
pub mod outlier;
pub mod pool;
pub mod retry;

/// What happened to one upstream attempt, as every engine sees it (retry conditions, outlier
/// accounting, response classification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Response headers arrived from the upstream.
    Response {
        /// HTTP status.
        status: u16,
        /// `grpc-status` from the response headers (trailers-only gRPC responses), if any.
        grpc_status: Option<u8>,
    },
    /// The connection could not be established (refused, unreachable, connect timeout).
    ConnectFailure,
    /// The upstream reset the stream or closed the connection; `before_request` when no byte of
    /// the request had been sent.
    Reset {
        /// Nothing had been sent upstream yet.
        before_request: bool,
    },
    /// HTTP/2 `REFUSED_STREAM`.
    RefusedStream,
    /// The per-try timeout fired (a local reset).
    PerTryTimeout,
    /// The circuit breaker refused the attempt locally (never retried, not an upstream fault).
    Overflow,
}

/// Where an error came from, as data on every error the layers return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorOrigin {
    /// The upstream service or the network to it.
    Upstream,
    /// The client that sent the request.
    Downstream,
    /// This proxy's own policy (timeout, overflow, injected fault).
    Local,
}
