use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;

use super::*;
use crate::model::destination::DestinationPolicy;

fn limits(requests: u32, pending: u32, connections: u32, retries: u32) -> CircuitBreaker {
    let mut p = DestinationPolicy::defaults().connection_pool;
    p.http2_max_requests = requests;
    p.http1_max_pending_requests = pending;
    p.max_connections = connections;
    p.max_retries = retries;
    CircuitBreaker::new(&p)
}

#[test]
fn istio_defaults_are_two_to_the_32_minus_one() {
    let cb = CircuitBreaker::new(&DestinationPolicy::defaults().connection_pool);
    for l in [
        Limit::Connections,
        Limit::PendingRequests,
        Limit::Requests,
        Limit::Retries,
    ] {
        assert_eq!(cb.max(l), u32::MAX);
    }
    assert_eq!(
        cb.max(Limit::Requests),
        CircuitBreaker::unlimited().max(Limit::Requests)
    );
}

#[test]
fn overflow_is_immediate_and_dropping_releases() {
    let cb = limits(2, 1, 1, 1);
    let a = cb.try_acquire_request().unwrap();
    let b = cb.try_acquire_request().unwrap();
    assert_eq!(
        cb.try_acquire_request().unwrap_err(),
        Overflow {
            limit: Limit::Requests,
            max: 2
        }
    );
    drop(a);
    let c = cb.try_acquire_request().unwrap();
    assert_eq!(cb.in_use(Limit::Requests), 2);
    drop((b, c));
    assert_eq!(cb.in_use(Limit::Requests), 0);
    assert_eq!(cb.stats().request_overflow, 1);
}

#[test]
fn limits_are_independent_and_shared_by_clones() {
    let cb = limits(1, 1, 1, 1);
    let clone = cb.clone();
    let _r = cb.try_acquire_request().unwrap();
    let _p = cb.try_acquire_pending().unwrap();
    let _c = cb.try_acquire_connection().unwrap();
    let _t = cb.try_acquire_retry().unwrap();
    assert!(clone.try_acquire_request().is_err());
    assert!(clone.try_acquire_pending().is_err());
    assert!(clone.try_acquire_connection().is_err());
    assert_eq!(clone.try_acquire_retry().unwrap_err().limit, Limit::Retries);
    let s = clone.stats();
    assert_eq!(
        (s.requests, s.pending, s.connections, s.retries),
        (1, 1, 1, 1)
    );
    assert_eq!(
        (
            s.request_overflow,
            s.pending_overflow,
            s.connection_overflow,
            s.retry_overflow
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn check_takes_nothing_and_counts_refusals() {
    let cb = limits(1, 1, 1, 1);
    assert_eq!(cb.check(Limit::Requests), Ok(()));
    assert_eq!(cb.in_use(Limit::Requests), 0);
    let _p = cb.try_acquire_request().unwrap();
    assert_eq!(
        cb.check(Limit::Requests),
        Err(Overflow {
            limit: Limit::Requests,
            max: 1
        })
    );
    assert_eq!(cb.stats().request_overflow, 1);
}

#[test]
fn max_requests_per_connection_closes_after_the_last() {
    let mut p = DestinationPolicy::defaults().connection_pool;
    p.max_requests_per_connection = 1;
    let cb = CircuitBreaker::new(&p);
    let mut conn = cb.try_acquire_connection().unwrap();
    // 1 disables keep-alive.
    assert_eq!(conn.record_request(), Reuse::Close);

    p.max_requests_per_connection = 3;
    let cb = CircuitBreaker::new(&p);
    let mut conn = cb.try_acquire_connection().unwrap();
    assert_eq!(conn.record_request(), Reuse::KeepAlive);
    assert_eq!(conn.record_request(), Reuse::KeepAlive);
    assert_eq!(conn.record_request(), Reuse::Close);
    assert_eq!(conn.requests_served(), 3);

    // 0 is unlimited.
    let cb = CircuitBreaker::unlimited();
    let mut conn = cb.try_acquire_connection().unwrap();
    for _ in 0..1000 {
        assert_eq!(conn.record_request(), Reuse::KeepAlive);
    }
}

#[test]
fn concurrent_acquirers_never_exceed_the_limit() {
    let cb = limits(3, 1, 1, 1);
    let peak = Arc::new(AtomicU32::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            let cb = cb.clone();
            let peak = Arc::clone(&peak);
            s.spawn(move || {
                for _ in 0..20_000 {
                    if let Ok(p) = cb.try_acquire_request() {
                        peak.fetch_max(cb.in_use(Limit::Requests), Ordering::Relaxed);
                        drop(p);
                    }
                }
            });
        }
    });
    assert!(peak.load(Ordering::Relaxed) <= 3);
    assert_eq!(cb.in_use(Limit::Requests), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// Any interleaving of acquires and releases: in-use never exceeds max, and equals the
    /// number of live permits.
    #[test]
    fn in_use_tracks_live_permits(max in 1u32..8, ops in prop::collection::vec(any::<bool>(), 1..200)) {
        let cb = limits(max, 1, 1, 1);
        let mut live = Vec::new();
        for acquire in ops {
            if acquire {
                match cb.try_acquire_request() {
                    Ok(p) => live.push(p),
                    Err(e) => prop_assert_eq!(live.len() as u32, e.max),
                }
            } else {
                live.pop();
            }
            prop_assert_eq!(cb.in_use(Limit::Requests), live.len() as u32);
            prop_assert!(live.len() as u32 <= max);
        }
    }
}

#[test]
fn the_upstream_protocol_follows_h2_upgrade_and_the_port_protocol() {
    use super::UpstreamProtocol::{Http1, Http2};
    let mut p = DestinationPolicy::defaults().connection_pool;
    assert_eq!(UpstreamProtocol::of(&p, None), Http1);
    assert_eq!(UpstreamProtocol::of(&p, Some("HTTP")), Http1);
    assert_eq!(UpstreamProtocol::of(&p, Some("http2")), Http2);
    assert_eq!(UpstreamProtocol::of(&p, Some("GRPC")), Http2);
    assert_eq!(UpstreamProtocol::of(&p, Some("GRPC-Web")), Http1);
    p.h2_upgrade = true;
    assert_eq!(UpstreamProtocol::of(&p, Some("HTTP")), Http2);
    p.h2_upgrade = false;
    p.use_client_protocol = true;
    assert_eq!(UpstreamProtocol::of(&p, Some("HTTP2")), Http1);
}

#[test]
fn recorded_overflows_are_counted_per_limit() {
    let cb = CircuitBreaker::unlimited();
    let o = cb.record_overflow(Limit::Connections);
    assert_eq!(o.limit, Limit::Connections);
    assert_eq!(o.max, UNLIMITED);
    let s = cb.stats();
    assert_eq!((s.connection_overflow, s.pending_overflow), (1, 0));
    assert_eq!(s.connections, 0, "nothing was taken");
}
