use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::task::Poll;

use tokio_test::{assert_pending, assert_ready_ok, task};
use tower_test::mock;

use super::*;
use crate::model::destination::{HashAlgorithm, HashPolicy};
use crate::resilience::pool::Overflow;
use crate::resource::Duration as Cfg;

type Mock = mock::Mock<Request<String>, Response<String>>;
type Handle = mock::Handle<Request<String>, Response<String>>;
type Svc = mock::Spawn<Balance<String, Mock>>;

fn cluster(n: usize, config: &BalanceConfig) -> (Svc, Vec<Handle>) {
    let mut handles = Vec::new();
    let endpoints = (0..n)
        .map(|i| {
            let (m, h) = mock::pair();
            handles.push(h);
            (format!("10.0.0.{i}:8080"), 1, m)
        })
        .collect();
    let b = Balance::try_new(endpoints, config, &mut StdRng::seed_from_u64(9)).unwrap();
    (mock::Spawn::new(b), handles)
}

fn outlier(consecutive_5xx: u32, max_pct: u32, min_health: u32) -> Option<OutlierSettings> {
    Some(OutlierSettings {
        consecutive_5xx,
        interval: Cfg::from_secs(10),
        base_ejection_time: Cfg::from_secs(30),
        max_ejection_percent: max_pct,
        min_health_percent: min_health,
        ..OutlierSettings::defaults()
    })
}

enum Reply {
    Status(u16),
    Error,
}

/// Sends one request; the endpoint that receives it answers `reply(index)`. Returns the
/// endpoint index (None when the layer answered itself) and the result.
fn send(
    svc: &mut Svc,
    handles: &mut [Handle],
    req: Request<String>,
    reply: impl Fn(usize) -> Reply,
) -> (Option<usize>, Result<Response<String>, BoxError>) {
    assert_ready_ok!(svc.poll_ready());
    let mut fut = task::spawn(svc.call(req));
    if let Poll::Ready(out) = fut.poll() {
        return (None, out);
    }
    for (i, h) in handles.iter_mut().enumerate() {
        if let Poll::Ready(Some((_, send))) = h.poll_request() {
            match reply(i) {
                Reply::Status(s) => {
                    let mut r = Response::new(String::new());
                    *r.status_mut() = StatusCode::from_u16(s).unwrap();
                    send.send_response(r);
                }
                Reply::Error => send.send_error(std::io::Error::other("connection refused")),
            }
            let Poll::Ready(out) = fut.poll() else {
                panic!("response not delivered");
            };
            return (Some(i), out);
        }
    }
    panic!("no endpoint received the request");
}

fn get() -> Request<String> {
    Request::new(String::new())
}

fn ok(_: usize) -> Reply {
    Reply::Status(200)
}

#[tokio::test(start_paused = true)]
async fn round_robin_spreads_requests() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, None);
    let (mut svc, mut h) = cluster(3, &config);
    let order: Vec<_> = (0..6)
        .map(|_| send(&mut svc, &mut h, get(), ok).0)
        .collect();
    assert_eq!(order, [0, 1, 2, 0, 1, 2].map(Some));
}

#[tokio::test(start_paused = true)]
async fn failing_endpoint_is_ejected_then_returns() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(3, 50, 0));
    let (mut svc, mut h) = cluster(2, &config);
    let bad = |i: usize| Reply::Status(if i == 0 { 503 } else { 200 });
    // Round robin alternates: endpoint 0 fails on its third request.
    for _ in 0..6 {
        let _ = send(&mut svc, &mut h, get(), bad);
    }
    assert!(svc.get_ref().is_ejected(0));
    let stats = svc.get_ref().outlier_stats().unwrap();
    assert_eq!(stats.ejections_enforced_total, 1);
    for _ in 0..5 {
        assert_eq!(send(&mut svc, &mut h, get(), bad).0, Some(1));
    }
    // Ejected for 30 s; back at the first tick after (t = 40 s, ticks every 10 s).
    tokio::time::advance(Duration::from_secs(35)).await;
    assert!(svc.get_ref().is_ejected(0));
    tokio::time::advance(Duration::from_secs(5)).await;
    let seen: Vec<_> = (0..2)
        .map(|_| send(&mut svc, &mut h, get(), ok).0)
        .collect();
    assert!(seen.contains(&Some(0)), "{seen:?}");
    assert!(!svc.get_ref().is_ejected(0));
}

#[tokio::test(start_paused = true)]
async fn endpoint_errors_count_as_connect_failures() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(2, 100, 0));
    let (mut svc, mut h) = cluster(2, &config);
    let fail0 = |i: usize| {
        if i == 0 {
            Reply::Error
        } else {
            Reply::Status(200)
        }
    };
    for _ in 0..4 {
        let _ = send(&mut svc, &mut h, get(), fail0);
    }
    assert!(svc.get_ref().is_ejected(0));
}

#[tokio::test(start_paused = true)]
async fn all_ejected_without_panic_answers_no_healthy_upstream() {
    let config = BalanceConfig::new(LoadBalancer::LeastRequest, outlier(1, 100, 0));
    let (mut svc, mut h) = cluster(2, &config);
    let fail = |_: usize| Reply::Status(500);
    while !(svc.get_ref().is_ejected(0) && svc.get_ref().is_ejected(1)) {
        let _ = send(&mut svc, &mut h, get(), fail);
    }
    let (to, resp) = send(&mut svc, &mut h, get(), fail);
    let resp = resp.unwrap();
    assert_eq!(to, None);
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag::NoHealthyUpstream)
    );
}

#[tokio::test(start_paused = true)]
async fn panic_mode_still_serves_from_ejected_hosts() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(1, 100, 50));
    let (mut svc, mut h) = cluster(2, &config);
    let fail = |_: usize| Reply::Status(500);
    let _ = send(&mut svc, &mut h, get(), fail);
    let _ = send(&mut svc, &mut h, get(), fail);
    assert!(svc.get_ref().is_ejected(0) && svc.get_ref().is_ejected(1));
    // 0% healthy < 50%: panic, every host is used.
    let (to, resp) = send(&mut svc, &mut h, get(), ok);
    assert!(to.is_some());
    assert_eq!(resp.unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn overflow_responses_are_not_outlier_failures() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(1, 100, 0));
    let (mut svc, mut h) = cluster(1, &config);
    assert_ready_ok!(svc.poll_ready());
    let mut fut = task::spawn(svc.call(get()));
    assert_pending!(fut.poll());
    let Poll::Ready(Some((_, reply))) = h[0].poll_request() else {
        panic!("no request");
    };
    reply.send_response(crate::layer::pool::overloaded(Overflow {
        limit: crate::resilience::pool::Limit::Requests,
        max: 1,
    }));
    assert!(fut.poll().is_ready());
    assert!(!svc.get_ref().is_ejected(0));
}

#[tokio::test(start_paused = true)]
async fn consistent_hash_on_a_header_is_sticky() {
    let config = BalanceConfig::new(
        LoadBalancer::ConsistentHash(HashPolicy {
            key: HashKey::Header("x-user".into()),
            algorithm: HashAlgorithm::Maglev { table_size: 65537 },
        }),
        None,
    );
    let (mut svc, mut h) = cluster(4, &config);
    let user = |u: &str| {
        let mut r = get();
        r.headers_mut()
            .insert("x-user", HeaderValue::from_str(u).unwrap());
        r
    };
    for u in ["alice", "bob", "carol"] {
        let first = send(&mut svc, &mut h, user(u), ok).0;
        for _ in 0..5 {
            assert_eq!(send(&mut svc, &mut h, user(u), ok).0, first, "{u}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn generated_hash_cookie_is_set_on_the_response() {
    let config = BalanceConfig::new(
        LoadBalancer::ConsistentHash(HashPolicy {
            key: HashKey::Cookie {
                name: "sticky".into(),
                path: None,
                ttl: Some(Cfg::from_secs(10)),
            },
            algorithm: HashAlgorithm::RingHash {
                minimum_ring_size: 1024,
            },
        }),
        None,
    );
    let (mut svc, mut h) = cluster(3, &config);
    let (first, resp) = send(&mut svc, &mut h, get(), ok);
    let resp = resp.unwrap();
    let set = resp.headers()[http::header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("sticky="), "{set}");
    // Sending the cookie back lands on the same endpoint every time.
    for _ in 0..5 {
        let mut r = get();
        r.headers_mut().insert(
            http::header::COOKIE,
            HeaderValue::from_str(&cookie).unwrap(),
        );
        let (to, resp) = send(&mut svc, &mut h, r, ok);
        assert_eq!(to, first);
        assert!(
            resp.unwrap()
                .headers()
                .get(http::header::SET_COOKIE)
                .is_none()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn passthrough_goes_to_the_dialled_endpoint() {
    let config = BalanceConfig::new(LoadBalancer::Passthrough, None);
    let (mut svc, mut h) = cluster(3, &config);
    let mut r = get();
    r.extensions_mut()
        .insert(OriginalDestination("10.0.0.2:8080".to_owned()));
    assert_eq!(send(&mut svc, &mut h, r, ok).0, Some(2));
    // Unknown or missing original destination: nothing to send to.
    let (to, resp) = send(&mut svc, &mut h, get(), ok);
    assert_eq!(
        (to, resp.unwrap().status()),
        (None, StatusCode::SERVICE_UNAVAILABLE)
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_configuration_is_a_typed_error() {
    let config = BalanceConfig::new(LoadBalancer::Random, outlier(1, 101, 0));
    let err = Balance::<String, Mock>::try_new(Vec::new(), &config, &mut StdRng::seed_from_u64(1))
        .unwrap_err();
    assert!(matches!(err, InvalidBalance::Outlier(_)));
}

#[tokio::test(start_paused = true)]
async fn least_request_steers_away_from_busy_endpoints() {
    // Hundreds of mock round trips in one task: keep tokio's cooperative budget out of it.
    tokio::task::unconstrained(least_request_body()).await;
}

async fn least_request_body() {
    let config = BalanceConfig::new(LoadBalancer::LeastRequest, None);
    let (mut svc, mut h) = cluster(2, &config);
    // Three requests stay in flight on whichever endpoint takes them first.
    assert_ready_ok!(svc.poll_ready());
    let mut held = Vec::new();
    let mut busy = None;
    while held.len() < 3 {
        let mut fut = task::spawn(svc.call(get()));
        assert_pending!(fut.poll());
        let got = (0..2)
            .find(|i| matches!(h[*i].poll_request(), Poll::Ready(Some(_))))
            .unwrap();
        if busy.is_none() {
            busy = Some(got);
        }
        if Some(got) == busy {
            held.push(fut);
        }
    }
    let busy = busy.unwrap();
    // P2C only picks the busy endpoint when both draws land on it: about a quarter.
    let to_busy = (0..400)
        .filter(|_| send(&mut svc, &mut h, get(), ok).0 == Some(busy))
        .count();
    assert!((60..140).contains(&to_busy), "{to_busy}");
    drop(held);
    // With the in-flight requests gone the load evens out.
    let to_busy = (0..400)
        .filter(|_| send(&mut svc, &mut h, get(), ok).0 == Some(busy))
        .count();
    assert!((160..240).contains(&to_busy), "{to_busy}");
}

fn endpoints(keys: &[&str]) -> (Vec<(String, u32, Mock)>, Vec<Handle>) {
    let mut handles = Vec::new();
    let eps = keys
        .iter()
        .map(|k| {
            let (m, h) = mock::pair();
            handles.push(h);
            ((*k).to_owned(), 1, m)
        })
        .collect();
    (eps, handles)
}

#[tokio::test(start_paused = true)]
async fn endpoint_updates_keep_the_state_of_surviving_endpoints() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(1, 100, 0));
    let (mut svc, mut h) = cluster(3, &config);
    let fail0 = |i: usize| Reply::Status(if i == 0 { 500 } else { 200 });
    while !svc.get_ref().is_ejected(0) {
        let _ = send(&mut svc, &mut h, get(), fail0);
    }
    // Discovery: 10.0.0.1 leaves, 10.0.0.9 arrives, the order changes.
    let (eps, mut h) = endpoints(&["10.0.0.2:8080", "10.0.0.0:8080", "10.0.0.9:8080"]);
    svc.get_ref().update_endpoints(eps).unwrap();
    assert_eq!(
        svc.get_ref().keys(),
        ["10.0.0.2:8080", "10.0.0.0:8080", "10.0.0.9:8080"]
    );
    assert!(svc.get_ref().is_ejected(1) && !svc.get_ref().is_ejected(0));
    assert_eq!(svc.get_ref().outlier_stats().unwrap().ejections_active, 1);
    let mut seen: Vec<_> = (0..4)
        .map(|_| send(&mut svc, &mut h, get(), ok).0)
        .collect();
    seen.sort();
    // The ejected survivor gets nothing; the other two alternate.
    assert_eq!(seen, [0, 0, 2, 2].map(Some));
}

#[tokio::test(start_paused = true)]
async fn attempts_in_flight_across_an_update_count_for_the_right_endpoint() {
    let config = BalanceConfig::new(LoadBalancer::RoundRobin, outlier(1, 100, 0));
    let (mut svc, mut old) = cluster(2, &config);
    // A request goes to 10.0.0.0 (index 0) and is still in flight during the update.
    assert_ready_ok!(svc.poll_ready());
    let mut fut = task::spawn(svc.call(get()));
    assert_pending!(fut.poll());
    let Poll::Ready(Some((_, reply))) = old[0].poll_request() else {
        panic!("expected the request on endpoint 0");
    };
    let (eps, _new) = endpoints(&["10.0.0.1:8080", "10.0.0.0:8080"]);
    svc.get_ref().update_endpoints(eps).unwrap();
    // It fails: the ejection lands on 10.0.0.0, now index 1.
    let mut r = Response::new(String::new());
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    reply.send_response(r);
    assert!(fut.poll().is_ready());
    assert!(svc.get_ref().is_ejected(1));
    assert!(!svc.get_ref().is_ejected(0));
}
