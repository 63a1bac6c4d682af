//! Connection-pool limits, i.e. Envoy's cluster circuit breakers as Istio installs them
//! (spec §3.4): `maxConnections`, `http1MaxPendingRequests`, `http2MaxRequests`,
//! `maxRequestsPerConnection` and `maxRetries`, as RAII permits over shared atomics.
//!
//! Every limit is cluster-wide for one client (not per host). Acquisition is a single
//! compare-and-swap loop that never overshoots; dropping a permit releases it. Overflow is
//! reported as [`Overflow`]; the layer turns it into Envoy's immediate 503 with
//! `x-envoy-overloaded: true` and the `UO` response flag.
//!
//! Which limit queues a request depends on the cluster's [`UpstreamProtocol`]: an HTTP/1.1
//! connection carries one request at a time, so at most `maxConnections` requests are in
//! flight and the next ones wait as pending (up to `http1MaxPendingRequests`); an HTTP/2
//! connection multiplexes, so only `http2MaxRequests` caps the requests in flight. Both
//! protocols count active requests against `http2MaxRequests`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::model::destination::{PoolSettings, UNLIMITED};

/// One of the circuit-breaker limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `tcp.maxConnections` (`max_connections`).
    Connections,
    /// `http.http1MaxPendingRequests` (`max_pending_requests`).
    PendingRequests,
    /// `http.http2MaxRequests` (`max_requests`).
    Requests,
    /// `http.maxRetries` (`max_retries`).
    Retries,
}

/// How a cluster talks to its endpoints, which decides how requests queue (Envoy's HTTP/1
/// and HTTP/2 connection pools).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpstreamProtocol {
    /// HTTP/1.1, Envoy's default: one request per connection at a time, so `maxConnections`
    /// bounds the requests in flight and the next ones wait as pending requests.
    #[default]
    Http1,
    /// HTTP/2: requests multiplex over the connections; `http2MaxRequests` bounds them.
    Http2,
}

/// A limit was reached: the attempt is refused at once (Envoy `UO`, or for retries
/// `upstream_rq_retry_overflow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open: {limit:?} limit of {max} reached")]
pub struct Overflow {
    /// Which limit.
    pub limit: Limit,
    /// Its configured maximum.
    pub max: u32,
}

/// Counters of one circuit breaker, for metrics (Envoy `upstream_cx_overflow`,
/// `upstream_rq_pending_overflow`, `upstream_rq_retry_overflow`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub connections: u32,
    /// Requests waiting for a connection.
    pub pending: u32,
    /// Requests in flight.
    pub requests: u32,
    /// Retries in flight.
    pub retries: u32,
    /// Refusals of `maxConnections`.
    pub connection_overflow: u64,
    /// Refusals of `http1MaxPendingRequests`.
    pub pending_overflow: u64,
    /// Refusals of `http2MaxRequests`.
    pub request_overflow: u64,
    /// Refusals of `maxRetries`.
    pub retry_overflow: u64,
}

/// One counted resource: current use, maximum, refusals.
#[derive(Debug)]
struct Gauge {
    current: AtomicU32,
    max: u32,
    overflow: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    connections: Gauge,
    pending: Gauge,
    requests: Gauge,
    retries: Gauge,
    max_requests_per_connection: u32,
}

/// The circuit breakers of one cluster. Clones share the counters.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

/// Holds one unit of a limit until dropped.
#[must_use = "dropping a permit releases it at once"]
pub struct Permit {
    inner: Arc<Inner>,
    limit: Limit,
}

/// An open connection's permit, which also counts the requests it served against
/// `maxRequestsPerConnection`.
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct ConnectionPermit {
    permit: Permit,
    served: u32,
}

/// Whether a connection may carry another request after this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Keep it open for more requests.
    KeepAlive,
    /// This was its last request (`maxRequestsPerConnection` reached; `1` disables
    /// keep-alive): close it afterwards.
    Close,
}

// === impl UpstreamProtocol ===

impl UpstreamProtocol {
    /// The protocol Istio configures for a cluster: HTTP/2 when the DestinationRule sets
    /// `h2UpgradePolicy: UPGRADE` or the service port's protocol is `HTTP2` or `GRPC`
    /// (case-insensitive), else HTTP/1.1. `useClientProtocol` follows each downstream
    /// request's protocol, which a cluster-wide gate cannot know in advance: it is counted
    /// as HTTP/1.1, the stricter of the two.
    pub fn of(settings: &PoolSettings, port_protocol: Option<&str>) -> Self {
        let h2_port = port_protocol
            .is_some_and(|p| p.eq_ignore_ascii_case("HTTP2") || p.eq_ignore_ascii_case("GRPC"));
        if settings.h2_upgrade || (h2_port && !settings.use_client_protocol) {
            UpstreamProtocol::Http2
        } else {
            UpstreamProtocol::Http1
        }
    }
}

// === impl Gauge ===

impl Gauge {
    fn new(max: u32) -> Self {
        Gauge {
            current: AtomicU32::new(0),
            max,
            overflow: AtomicU64::new(0),
        }
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        let mut cur = self.current.load(Ordering::Relaxed);
        loop {
            if cur >= self.max {
                self.overflow.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            match self.current.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    #[inline]
    fn release(&self) {
        self.current.fetch_sub(1, Ordering::Release);
    }
}

// === impl CircuitBreaker ===

impl CircuitBreaker {
    /// Circuit breakers with the limits of `settings` (already defaulted by the model: unset
    /// and zero counters are `2^32-1`, a zero `maxRequestsPerConnection` is unlimited).
    pub fn new(settings: &PoolSettings) -> Self {
        let max = |v: u32| if v == 0 { UNLIMITED } else { v };
        CircuitBreaker {
            inner: Arc::new(Inner {
                connections: Gauge::new(max(settings.max_connections)),
                pending: Gauge::new(max(settings.http1_max_pending_requests)),
                requests: Gauge::new(max(settings.http2_max_requests)),
                retries: Gauge::new(max(settings.max_retries)),
                max_requests_per_connection: settings.max_requests_per_connection,
            }),
        }
    }

    /// Istio's thresholds without a DestinationRule: every counter `2^32-1`.
    pub fn unlimited() -> Self {
        Self::new(&PoolSettings {
            max_connections: UNLIMITED,
            connect_timeout: crate::resource::Duration::from_secs(10),
            http1_max_pending_requests: UNLIMITED,
            http2_max_requests: UNLIMITED,
            max_requests_per_connection: 0,
            max_retries: UNLIMITED,
            idle_timeout: crate::resource::Duration::from_secs(3600),
            h2_upgrade: false,
            use_client_protocol: false,
        })
    }

    fn gauge(&self, limit: Limit) -> &Gauge {
        self.inner.gauge(limit)
    }

    /// Acquires one unit of `limit`, or reports the overflow.
    #[inline]
    pub fn try_acquire(&self, limit: Limit) -> Result<Permit, Overflow> {
        let g = self.gauge(limit);
        if g.try_acquire() {
            Ok(Permit {
                inner: Arc::clone(&self.inner),
                limit,
            })
        } else {
            Err(Overflow { limit, max: g.max })
        }
    }

    /// Whether `limit` has room now, without taking it (Envoy `canCreate`); a refusal counts
    /// as an overflow.
    pub fn check(&self, limit: Limit) -> Result<(), Overflow> {
        let g = self.gauge(limit);
        if g.current.load(Ordering::Relaxed) < g.max {
            Ok(())
        } else {
            g.overflow.fetch_add(1, Ordering::Relaxed);
            Err(Overflow { limit, max: g.max })
        }
    }

    /// Counts a refusal of `limit` decided elsewhere (the layer's connection queue found no
    /// free connection) and returns it as an overflow.
    pub fn record_overflow(&self, limit: Limit) -> Overflow {
        let g = self.gauge(limit);
        g.overflow.fetch_add(1, Ordering::Relaxed);
        Overflow { limit, max: g.max }
    }

    /// An active request (`http2MaxRequests`, HTTP/1 and HTTP/2 alike).
    pub fn try_acquire_request(&self) -> Result<Permit, Overflow> {
        self.try_acquire(Limit::Requests)
    }

    /// A request waiting for a connection (`http1MaxPendingRequests`).
    pub fn try_acquire_pending(&self) -> Result<Permit, Overflow> {
        self.try_acquire(Limit::PendingRequests)
    }

    /// A retry in flight (`maxRetries`): on overflow the retry is not attempted and the failed
    /// response is returned as is.
    pub fn try_acquire_retry(&self) -> Result<Permit, Overflow> {
        self.try_acquire(Limit::Retries)
    }

    /// A new upstream connection (`maxConnections`).
    pub fn try_acquire_connection(&self) -> Result<ConnectionPermit, Overflow> {
        Ok(ConnectionPermit {
            permit: self.try_acquire(Limit::Connections)?,
            served: 0,
        })
    }

    /// The configured maximum of `limit`.
    pub fn max(&self, limit: Limit) -> u32 {
        self.gauge(limit).max
    }

    /// Units of `limit` in use.
    pub fn in_use(&self, limit: Limit) -> u32 {
        self.gauge(limit).current.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PoolStats {
        let i = &self.inner;
        let cur = |g: &Gauge| g.current.load(Ordering::Relaxed);
        let over = |g: &Gauge| g.overflow.load(Ordering::Relaxed);
        PoolStats {
            connections: cur(&i.connections),
            pending: cur(&i.pending),
            requests: cur(&i.requests),
            retries: cur(&i.retries),
            connection_overflow: over(&i.connections),
            pending_overflow: over(&i.pending),
            request_overflow: over(&i.requests),
            retry_overflow: over(&i.retries),
        }
    }
}

// === impl Inner ===

impl Inner {
    fn gauge(&self, limit: Limit) -> &Gauge {
        match limit {
            Limit::Connections => &self.connections,
            Limit::PendingRequests => &self.pending,
            Limit::Requests => &self.requests,
            Limit::Retries => &self.retries,
        }
    }
}

// === impl Permit ===

impl Permit {
    /// The limit this permit counts against.
    pub fn limit(&self) -> Limit {
        self.limit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.gauge(self.limit).release();
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("limit", &self.limit)
            .finish()
    }
}

// === impl ConnectionPermit ===

impl ConnectionPermit {
    /// Counts one request on this connection and says whether it may be reused afterwards
    /// (`maxRequestsPerConnection`; 0 is unlimited).
    pub fn record_request(&mut self) -> Reuse {
        self.served = self.served.saturating_add(1);
        let max = self.permit.inner.max_requests_per_connection;
        if max != 0 && self.served >= max {
            Reuse::Close
        } else {
            Reuse::KeepAlive
        }
    }

    /// Requests this connection has carried.
    pub fn requests_served(&self) -> u32 {
        self.served
    }
}

#[cfg(test)]
mod tests;
