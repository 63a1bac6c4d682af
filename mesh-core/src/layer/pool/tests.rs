use http::{Request, Response, StatusCode};
use tokio_test::{assert_pending, assert_ready_ok};
use tower_test::mock;

use super::*;
use crate::model::destination::DestinationPolicy;
use std::task::Poll;

use crate::resilience::pool::{Limit, UpstreamProtocol};

type Mock = mock::Mock<Request<String>, Response<String>>;
type Handle = mock::Handle<Request<String>, Response<String>>;

fn breaker(requests: u32, pending: u32) -> CircuitBreaker {
    let mut p = DestinationPolicy::defaults().connection_pool;
    p.http2_max_requests = requests;
    p.http1_max_pending_requests = pending;
    CircuitBreaker::new(&p)
}

fn svc(b: &CircuitBreaker) -> (mock::Spawn<PoolLimit<Mock>>, Handle) {
    mock::spawn_layer(PoolLimitLayer::new(b.clone()))
}

fn req() -> Request<String> {
    Request::new("hi".to_owned())
}

fn assert_overloaded(resp: &Response<PermitBody<String>>, limit: Limit) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[X_ENVOY_OVERLOADED], "true");
    assert_eq!(
        resp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag::UpstreamOverflow)
    );
    assert_eq!(
        resp.extensions().get::<Overflow>().map(|o| o.limit),
        Some(limit)
    );
}

#[tokio::test(start_paused = true)]
async fn max_requests_overflow_is_an_immediate_503_without_calling_upstream() {
    let b = breaker(1, 10);
    let (mut s1, mut handle) = svc(&b);
    let mut s2 = s1.clone();

    assert_ready_ok!(s1.poll_ready());
    let first = s1.call(req());
    let (_, send) = handle.next_request().await.unwrap();

    // The second caller is ready at once and gets the local reply.
    assert_ready_ok!(s2.poll_ready());
    let resp = s2.call(req()).await.unwrap();
    assert_overloaded(&resp, Limit::Requests);
    assert_pending!(handle.poll_request());
    assert_eq!(b.stats().request_overflow, 1);

    // When the first response arrives its permit is released.
    send.send_response(Response::new("ok".to_owned()));
    let first = first.await.unwrap();
    assert_eq!(first.body().get_ref(), "ok");
    // Still active until the response body is done with.
    assert_eq!(b.in_use(Limit::Requests), 1);
    drop(first);
    assert_eq!(b.in_use(Limit::Requests), 0);
    assert_ready_ok!(s2.poll_ready());
    let again = s2.call(req());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new("ok".to_owned()));
    assert_eq!(again.await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn pending_requests_beyond_the_limit_overflow() {
    let b = breaker(10, 1);
    let (mut s1, mut handle) = svc(&b);
    let mut s2 = s1.clone();
    // The upstream has no free connection: callers wait as pending requests.
    handle.allow(0);
    assert_pending!(s1.poll_ready());
    assert_eq!(b.in_use(Limit::PendingRequests), 1);
    assert_ready_ok!(s2.poll_ready());
    assert_overloaded(&s2.call(req()).await.unwrap(), Limit::PendingRequests);
    assert_eq!(b.stats().pending_overflow, 1);
    // Pending requests are not active requests.
    assert_eq!(b.in_use(Limit::Requests), 0);

    // A connection frees up: the waiting caller proceeds and stops being pending.
    handle.allow(1);
    assert_ready_ok!(s1.poll_ready());
    assert_eq!(b.in_use(Limit::PendingRequests), 0);
    let fut = s1.call(req());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new(String::new()));
    drop(fut.await.unwrap());
    assert_eq!(b.in_use(Limit::Requests), 0);
}

#[tokio::test(start_paused = true)]
async fn clones_start_unreserved_and_dropping_releases() {
    let b = breaker(1, 1);
    let (mut s1, _handle) = svc(&b);
    assert_ready_ok!(s1.poll_ready());
    assert_eq!(b.in_use(Limit::Requests), 1);
    let s2 = s1.clone();
    assert_eq!(b.in_use(Limit::Requests), 1);
    drop(s1);
    assert_eq!(b.in_use(Limit::Requests), 0);
    drop(s2);
}

#[tokio::test(start_paused = true)]
async fn call_without_poll_ready_is_an_error() {
    let b = breaker(1, 1);
    let (mut s, mut handle) = svc(&b);
    let err = s.call(req()).await.unwrap_err();
    assert_eq!(err.downcast_ref::<NotReady>(), Some(&NotReady));
    assert_pending!(handle.poll_request());
}

#[tokio::test(start_paused = true)]
async fn upstream_errors_pass_through_and_release() {
    let b = breaker(1, 1);
    let (mut s, mut handle) = svc(&b);
    assert_ready_ok!(s.poll_ready());
    let fut = s.call(req());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error(std::io::Error::other("boom"));
    assert!(fut.await.is_err());
    assert_eq!(b.in_use(Limit::Requests), 0);
}

#[tokio::test(start_paused = true)]
async fn the_request_stays_active_until_the_body_ends() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    let b = breaker(1, 1);
    let (mut s, mut handle) = mock::spawn_layer::<Request<String>, Response<Full<Bytes>>, _>(
        PoolLimitLayer::new(b.clone()),
    );
    assert_ready_ok!(s.poll_ready());
    let fut = s.call(req());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new(Full::new(Bytes::from_static(b"payload"))));
    let resp = fut.await.unwrap();
    assert!(resp.body().holds_permit());
    assert_eq!(b.in_use(Limit::Requests), 1);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"payload");
    assert_eq!(b.in_use(Limit::Requests), 0);
}

#[tokio::test(start_paused = true)]
async fn pending_requests_hold_no_request_slot_until_connected() {
    // Envoy: both wait as pending; the second to get a connection finds the request limit
    // taken and overflows then.
    let b = breaker(1, 10);
    let (mut s1, mut handle) = svc(&b);
    let mut s2 = s1.clone();
    handle.allow(0);
    assert_pending!(s1.poll_ready());
    assert_pending!(s2.poll_ready());
    assert_eq!(b.in_use(Limit::PendingRequests), 2);
    handle.allow(2);
    assert_ready_ok!(s1.poll_ready());
    assert_eq!(b.in_use(Limit::Requests), 1);
    assert_ready_ok!(s2.poll_ready());
    assert_overloaded(&s2.call(req()).await.unwrap(), Limit::Requests);
    assert_eq!(b.in_use(Limit::PendingRequests), 0);
    let fut = s1.call(req());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new(String::new()));
    drop(fut.await.unwrap());
    assert_eq!(b.in_use(Limit::Requests), 0);
}

// === HTTP/1 clusters: one request per connection ===

fn http1_breaker(connections: u32, pending: u32, requests: u32) -> CircuitBreaker {
    let mut p = DestinationPolicy::defaults().connection_pool;
    p.max_connections = connections;
    p.http1_max_pending_requests = pending;
    p.http2_max_requests = requests;
    CircuitBreaker::new(&p)
}

fn http1(b: &CircuitBreaker) -> (mock::Spawn<PoolLimit<Mock>>, Handle) {
    mock::spawn_layer(PoolLimitLayer::with_protocol(
        b.clone(),
        UpstreamProtocol::Http1,
    ))
}

/// Answers the next request the upstream receives with `200 ok`.
async fn answer(handle: &mut Handle) {
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(Response::new("ok".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn http1_burst_queues_beyond_max_connections_and_refuses_beyond_pending() {
    // The shipped circuit-breaker example: 50 connections, 100 pending, 100 requests.
    let b = http1_breaker(50, 100, 100);
    let (s, mut handle) = http1(&b);
    let (mut running, mut queued, mut refused) = (Vec::new(), Vec::new(), 0);
    for _ in 0..250 {
        let mut s = s.clone();
        match s.poll_ready() {
            Poll::Ready(Ok(())) => {
                let fut = s.call(req());
                if b.in_use(Limit::Connections) as usize > running.len() {
                    running.push(fut);
                } else {
                    assert_overloaded(&fut.await.unwrap(), Limit::PendingRequests);
                    refused += 1;
                }
            }
            Poll::Pending => queued.push(s),
            Poll::Ready(Err(e)) => panic!("{e}"),
        }
    }
    // 50 reach the upstream at once, 100 wait (not refused), 100 get UO.
    assert_eq!((running.len(), queued.len(), refused), (50, 100, 100));
    let stats = b.stats();
    assert_eq!(
        (stats.connections, stats.pending, stats.requests),
        (50, 100, 50)
    );
    assert_eq!((stats.pending_overflow, stats.request_overflow), (100, 0));
    assert_eq!(stats.connection_overflow, 200);
    for _ in 0..50 {
        answer(&mut handle).await;
    }
    assert_pending!(handle.poll_request());

    // The first 50 complete: their connections go to the first 50 waiters.
    let mut ok = 0;
    for fut in running.drain(..) {
        assert_eq!(fut.await.unwrap().status(), StatusCode::OK);
        ok += 1;
    }
    // A fresh task budget (tokio's cooperative scheduling would otherwise defer some wakers).
    tokio::task::yield_now().await;
    let mut still = Vec::new();
    for mut s in queued.drain(..) {
        match s.poll_ready() {
            Poll::Ready(Ok(())) => running.push(s.call(req())),
            Poll::Pending => still.push(s),
            Poll::Ready(Err(e)) => panic!("{e}"),
        }
    }
    assert_eq!((running.len(), still.len()), (50, 50));
    assert_eq!(b.in_use(Limit::PendingRequests), 50);
    for _ in 0..50 {
        answer(&mut handle).await;
    }
    for fut in running.drain(..) {
        assert_eq!(fut.await.unwrap().status(), StatusCode::OK);
        ok += 1;
    }
    // And the last 50.
    tokio::task::yield_now().await;
    for mut s in still {
        assert_ready_ok!(s.poll_ready());
        running.push(s.call(req()));
    }
    for _ in 0..50 {
        answer(&mut handle).await;
    }
    for fut in running {
        assert_eq!(fut.await.unwrap().status(), StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 150);
    assert_eq!(b.stats().pending_overflow, 100);
    assert_eq!(
        (b.in_use(Limit::Connections), b.in_use(Limit::Requests)),
        (0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn http1_waiters_get_connections_in_arrival_order() {
    let b = http1_breaker(1, 10, 100);
    let (mut s1, mut handle) = http1(&b);
    let (mut s2, mut s3) = (s1.clone(), s1.clone());
    assert_ready_ok!(s1.poll_ready());
    let first = s1.call(req());
    assert_pending!(s2.poll_ready());
    assert_pending!(s3.poll_ready());
    answer(&mut handle).await;
    let body = first.await.unwrap();
    // Still busy until the response body is done with.
    assert_pending!(s2.poll_ready());
    drop(body);
    assert!(s2.is_woken());
    // The connection is s2's: neither the later waiter nor a new caller may take it.
    assert_pending!(s3.poll_ready());
    let mut late = s1.clone();
    assert_pending!(late.poll_ready());
    assert_eq!(b.in_use(Limit::PendingRequests), 3);
    assert_ready_ok!(s2.poll_ready());
    assert_eq!(
        b.in_use(Limit::PendingRequests),
        2,
        "s3 and the late caller"
    );
    let second = s2.call(req());
    answer(&mut handle).await;
    drop(second.await.unwrap());
    assert!(s3.is_woken());
    assert_ready_ok!(s3.poll_ready());
    assert_pending!(late.poll_ready());
}

#[tokio::test(start_paused = true)]
async fn http1_a_cancelled_waiter_leaves_the_queue() {
    let b = http1_breaker(1, 1, 100);
    let (mut s1, mut handle) = http1(&b);
    let mut s2 = s1.clone();
    assert_ready_ok!(s1.poll_ready());
    let first = s1.call(req());
    assert_pending!(s2.poll_ready());
    assert_eq!(b.in_use(Limit::PendingRequests), 1);
    drop(s2);
    assert_eq!(b.in_use(Limit::PendingRequests), 0);
    // Its pending slot is free again for a new waiter, which gets the connection next.
    let mut s3 = s1.clone();
    assert_pending!(s3.poll_ready());
    answer(&mut handle).await;
    drop(first.await.unwrap());
    assert_ready_ok!(s3.poll_ready());
    assert_eq!(b.in_use(Limit::Connections), 1);
}

#[tokio::test(start_paused = true)]
async fn http1_requests_are_still_capped_by_max_requests() {
    let b = http1_breaker(10, 10, 1);
    let (mut s1, _handle) = http1(&b);
    let mut s2 = s1.clone();
    assert_ready_ok!(s1.poll_ready());
    assert_ready_ok!(s2.poll_ready());
    assert_overloaded(&s2.call(req()).await.unwrap(), Limit::Requests);
    assert_eq!(b.stats().request_overflow, 1);
    // The refused request gave its connection back.
    assert_eq!(b.in_use(Limit::Connections), 1);
}

#[tokio::test(start_paused = true)]
async fn http2_clusters_do_not_queue_on_max_connections() {
    let b = http1_breaker(1, 1, 100);
    let (mut s1, _handle) = mock::spawn_layer::<Request<String>, Response<String>, _>(
        PoolLimitLayer::with_protocol(b.clone(), UpstreamProtocol::Http2),
    );
    let mut s2 = s1.clone();
    let mut s3 = s1.clone();
    assert_ready_ok!(s1.poll_ready());
    assert_ready_ok!(s2.poll_ready());
    assert_ready_ok!(s3.poll_ready());
    assert_eq!(b.in_use(Limit::Requests), 3);
    assert_eq!(b.stats().pending_overflow, 0);
}
