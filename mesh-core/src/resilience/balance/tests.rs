use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderValue, Uri};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::model::destination::{DestinationPolicy, HashKey, HashPolicy};
use crate::resource::Duration;

fn rng() -> StdRng {
    StdRng::seed_from_u64(42)
}

fn hosts(weights: &[u32]) -> Hosts {
    Hosts::try_new(
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("10.0.0.{i}:80"), *w)),
    )
    .unwrap()
}

fn index(p: Pick) -> usize {
    match p {
        Pick::Host { index, .. } => index,
        Pick::OriginalDestination => panic!("expected a host"),
    }
}

fn counts(b: &mut Balancer, h: &Hosts, picks: usize, r: &mut StdRng) -> Vec<usize> {
    let mut c = vec![0; h.len()];
    for _ in 0..picks {
        c[index(b.pick(h, None, r).unwrap())] += 1;
    }
    c
}

fn ring(min: u64) -> LoadBalancer {
    LoadBalancer::ConsistentHash(HashPolicy {
        key: HashKey::Header("x-user".into()),
        algorithm: HashAlgorithm::RingHash {
            minimum_ring_size: min,
        },
    })
}

fn maglev(size: u64) -> LoadBalancer {
    LoadBalancer::ConsistentHash(HashPolicy {
        key: HashKey::Header("x-user".into()),
        algorithm: HashAlgorithm::Maglev { table_size: size },
    })
}

#[test]
fn default_is_least_request_p2c_favouring_idle_hosts() {
    let lb = DestinationPolicy::defaults().load_balancer;
    assert_eq!(lb, LoadBalancer::LeastRequest);
    let mut b = Balancer::try_new(&lb, 50).unwrap();
    let mut h = hosts(&[1, 1]);
    for _ in 0..10 {
        h.start_request(0);
    }
    // Host 0 wins only when both independent draws land on it: 1/4 of the time.
    let c = counts(&mut b, &h, 4000, &mut rng());
    assert!((800..1200).contains(&c[0]), "{c:?}");
}

#[test]
fn round_robin_rotates_and_honours_weights() {
    let mut b = Balancer::try_new(&LoadBalancer::RoundRobin, 50).unwrap();
    let h = hosts(&[1, 1, 1]);
    let order: Vec<usize> = (0..6)
        .map(|_| index(b.pick(&h, None, &mut rng()).unwrap()))
        .collect();
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);

    let mut b = Balancer::try_new(&LoadBalancer::RoundRobin, 50).unwrap();
    let h = hosts(&[3, 1]);
    let order: Vec<usize> = (0..4)
        .map(|_| index(b.pick(&h, None, &mut rng()).unwrap()))
        .collect();
    // Smooth: the light host is not starved to the end of the cycle.
    assert_eq!(order, vec![0, 0, 1, 0]);
}

#[test]
fn ejected_hosts_are_skipped() {
    for lb in [
        LoadBalancer::RoundRobin,
        LoadBalancer::LeastRequest,
        LoadBalancer::Random,
        ring(1024),
        maglev(65537),
    ] {
        let mut b = Balancer::try_new(&lb, 0).unwrap();
        let mut h = hosts(&[1, 1, 1, 1]);
        h.set_healthy(2, false);
        let mut r = rng();
        for k in 0..500u64 {
            let p = b.pick(&h, Some(super::hash::fmix64(k)), &mut r).unwrap();
            assert_ne!(index(p), 2, "{lb:?}");
            assert!(matches!(p, Pick::Host { panic: false, .. }));
        }
    }
}

#[test]
fn all_ejected_without_panic_is_no_healthy_upstream() {
    let mut b = Balancer::try_new(&LoadBalancer::RoundRobin, 0).unwrap();
    let mut h = hosts(&[1, 1]);
    h.set_healthy(0, false);
    h.set_healthy(1, false);
    assert_eq!(b.pick(&h, None, &mut rng()), Err(NoHealthyUpstream));
    let empty = hosts(&[]);
    assert_eq!(b.pick(&empty, None, &mut rng()), Err(NoHealthyUpstream));
}

#[test]
fn panic_mode_balances_over_all_hosts() {
    // 1 of 4 healthy = 25% < 50%: panic, ejected hosts are used.
    let mut b = Balancer::try_new(&LoadBalancer::RoundRobin, 50).unwrap();
    let mut h = hosts(&[1, 1, 1, 1]);
    for i in 1..4 {
        h.set_healthy(i, false);
    }
    let picks: Vec<Pick> = (0..4)
        .map(|_| b.pick(&h, None, &mut rng()).unwrap())
        .collect();
    assert_eq!(
        picks,
        (0..4)
            .map(|index| Pick::Host { index, panic: true })
            .collect::<Vec<_>>()
    );
}

#[test]
fn panic_threshold_quirks() {
    // 1.4 × 80% >= 100: never in panic, even with a threshold of 100.
    assert!(!in_panic(4, 5, 100));
    // 3 of 5 = 60%: 1.4 × 60 = 84 < 100, so 60 < 70 panics and 60 < 60 does not.
    assert!(in_panic(3, 5, 70));
    assert!(!in_panic(3, 5, 60));
    // Istio's default minHealthPercent 0 never panics.
    assert!(!in_panic(0, 5, 0));
    assert_eq!(panic_threshold(None), 50);
    let o = crate::model::destination::OutlierSettings::defaults();
    assert_eq!(panic_threshold(Some(&o)), 0);
}

#[test]
fn passthrough_forwards_to_the_original_destination() {
    let mut b = Balancer::try_new(&LoadBalancer::Passthrough, 50).unwrap();
    assert_eq!(
        b.pick(&hosts(&[1]), None, &mut rng()),
        Ok(Pick::OriginalDestination)
    );
}

#[test]
fn random_is_uniform_over_healthy_hosts_ignoring_weights() {
    let mut b = Balancer::try_new(&LoadBalancer::Random, 0).unwrap();
    let h = hosts(&[1, 9]);
    let c = counts(&mut b, &h, 4000, &mut rng());
    assert!((1800..2200).contains(&c[0]), "{c:?}");
}

#[test]
fn weighted_least_request_divides_weight_by_active_plus_one() {
    let mut b = Balancer::try_new(&LoadBalancer::LeastRequest, 50).unwrap();
    let mut h = hosts(&[2, 1]);
    let c = counts(&mut b, &h, 300, &mut rng());
    assert_eq!(c, vec![200, 100]);
    // Host 0 with 3 in flight: 2/4 against 1/1 -> host 1 gets two thirds.
    for _ in 0..3 {
        h.start_request(0);
    }
    let c = counts(&mut b, &h, 300, &mut rng());
    assert!((95..=105).contains(&c[0]), "{c:?}");
}

#[test]
fn consistent_hash_is_sticky_and_mostly_stable_on_ejection() {
    for lb in [ring(1024), maglev(65537)] {
        let mut b = Balancer::try_new(&lb, 0).unwrap();
        let mut h = hosts(&[1, 1, 1, 1, 1]);
        let keys: Vec<u64> = (0..2000u64).map(|k| hash_bytes(&k.to_le_bytes())).collect();
        let before: Vec<usize> = keys
            .iter()
            .map(|k| index(b.pick(&h, Some(*k), &mut rng()).unwrap()))
            .collect();
        let again: Vec<usize> = keys
            .iter()
            .map(|k| index(b.pick(&h, Some(*k), &mut rng()).unwrap()))
            .collect();
        assert_eq!(before, again, "{lb:?}");
        let mut per_host = [0usize; 5];
        for i in &before {
            per_host[*i] += 1;
        }
        assert!(
            per_host.iter().all(|c| (250..550).contains(c)),
            "{lb:?} {per_host:?}"
        );

        h.set_healthy(3, false);
        let after: Vec<usize> = keys
            .iter()
            .map(|k| index(b.pick(&h, Some(*k), &mut rng()).unwrap()))
            .collect();
        let kept = before.iter().filter(|i| **i != 3).count();
        let same = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| **a != 3 && a == b)
            .count();
        assert!(after.iter().all(|i| *i != 3));
        // The table is rebuilt over the 4 survivors (Envoy does the same), and the ring's
        // scale grows from 205 to 256 points per host, so a few keys move between survivors.
        assert!(same * 100 >= kept * 85, "{lb:?}: {same}/{kept}");
    }
}

#[test]
fn ring_honours_minimum_size_and_weights() {
    let h = hosts(&[1, 3]);
    let r = hash::Ring::build(&h, Candidates::All(2), 1024);
    assert!(r.len() >= 1024);
    let mut b = Balancer::try_new(&ring(1024), 0).unwrap();
    let mut c = [0usize; 2];
    for k in 0..8000u64 {
        c[index(
            b.pick(&h, Some(hash_bytes(&k.to_le_bytes())), &mut rng())
                .unwrap(),
        )] += 1;
    }
    assert!((1600..2400).contains(&c[0]), "{c:?}");
    let mut b = Balancer::try_new(&maglev(65537), 0).unwrap();
    let mut c = [0usize; 2];
    for k in 0..8000u64 {
        c[index(
            b.pick(&h, Some(hash_bytes(&k.to_le_bytes())), &mut rng())
                .unwrap(),
        )] += 1;
    }
    assert!((1600..2400).contains(&c[0]), "{c:?}");
}

#[test]
fn missing_hash_input_gets_a_random_host() {
    let mut b = Balancer::try_new(&maglev(65537), 0).unwrap();
    let h = hosts(&[1, 1, 1]);
    let c = counts(&mut b, &h, 3000, &mut rng());
    assert!(c.iter().all(|c| (850..1150).contains(c)), "{c:?}");
}

#[test]
fn hash_inputs_from_the_request() {
    let mut r = rng();
    let uri: Uri = "/p?a=1&user=bob&b".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-user", HeaderValue::from_static("alice"));
    headers.append("cookie", HeaderValue::from_static("a=b; session=\"xyz\""));
    let ip = Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));

    let h = |k: HashKey, r: &mut StdRng| hash_input(&k, &uri, &headers, ip, r);
    assert_eq!(
        h(HashKey::Header("x-user".into()), &mut r),
        HashInput::Key(hash_bytes(b"alice"))
    );
    assert_eq!(
        h(HashKey::Header("x-none".into()), &mut r),
        HashInput::Missing
    );
    assert_eq!(
        h(HashKey::QueryParameter("user".into()), &mut r),
        HashInput::Key(hash_bytes(b"bob"))
    );
    assert_eq!(
        h(HashKey::QueryParameter("zz".into()), &mut r),
        HashInput::Missing
    );
    assert_eq!(
        h(HashKey::SourceIp, &mut r),
        HashInput::Key(hash_bytes(b"10.1.2.3"))
    );
    assert_eq!(
        hash_input(&HashKey::SourceIp, &uri, &headers, None, &mut r),
        HashInput::Missing
    );
    let cookie = |name: &str, ttl: Option<Duration>| HashKey::Cookie {
        name: name.into(),
        path: Some("/".into()),
        ttl,
    };
    assert_eq!(
        h(cookie("session", None), &mut r),
        HashInput::Key(hash_bytes(b"xyz"))
    );
    assert_eq!(h(cookie("other", None), &mut r), HashInput::Missing);

    let HashInput::NewCookie { hash, set_cookie } =
        h(cookie("other", Some(Duration::from_secs(60))), &mut r)
    else {
        panic!("expected a generated cookie");
    };
    let set = set_cookie.to_str().unwrap();
    assert!(
        set.starts_with("other=") && set.contains("; Max-Age=60; Path=/"),
        "{set}"
    );
    let value = &set["other=".len()..set.find(';').unwrap()];
    assert_eq!(hash, hash_bytes(value.as_bytes()));
    // ttl 0s: a session cookie, no Max-Age.
    let HashInput::NewCookie { set_cookie, .. } = h(cookie("other", Some(Duration::ZERO)), &mut r)
    else {
        panic!("expected a generated cookie");
    };
    assert!(!set_cookie.to_str().unwrap().contains("Max-Age"));
}

#[test]
fn multi_valued_headers_hash_independently_of_order() {
    let mut r = rng();
    let key = HashKey::Header("x-user".into());
    let uri = Uri::from_static("/");
    let mut ab = HeaderMap::new();
    ab.append("x-user", HeaderValue::from_static("a"));
    ab.append("x-user", HeaderValue::from_static("b"));
    let mut ba = HeaderMap::new();
    ba.append("x-user", HeaderValue::from_static("b"));
    ba.append("x-user", HeaderValue::from_static("a"));
    let h1 = hash_input(&key, &uri, &ab, None, &mut r);
    assert_eq!(h1, hash_input(&key, &uri, &ba, None, &mut r));
    assert_ne!(h1, HashInput::Key(hash_bytes(b"a")));
}

#[test]
fn a_balancer_moved_to_another_host_table_rebuilds_its_hash_table() {
    let mut b = Balancer::try_new(&maglev(65537), 0).unwrap();
    let big = hosts(&[1; 8]);
    let small = Hosts::try_new([("other:80", 1)]).unwrap();
    for k in 0..64u64 {
        b.pick(&big, Some(hash_bytes(&k.to_le_bytes())), &mut rng())
            .unwrap();
        let p = b.pick(&small, Some(hash_bytes(&k.to_le_bytes())), &mut rng());
        assert_eq!(
            p,
            Ok(Pick::Host {
                index: 0,
                panic: false
            })
        );
    }
}

#[test]
fn invalid_configuration_is_rejected() {
    assert_eq!(
        Balancer::try_new(&maglev(65536), 0).unwrap_err(),
        InvalidBalancer::TableSize(65536)
    );
    assert_eq!(
        Balancer::try_new(&maglev(5_000_011), 0).unwrap_err(),
        InvalidBalancer::TableSize(5_000_011)
    );
    assert_eq!(
        Balancer::try_new(&ring(0), 0).unwrap_err(),
        InvalidBalancer::RingSize(0)
    );
    assert_eq!(
        Balancer::try_new(&LoadBalancer::Random, 101).unwrap_err(),
        InvalidBalancer::PanicThreshold(101)
    );
    assert_eq!(
        Hosts::try_new([("a", 1), ("b", 0)]).unwrap_err(),
        InvalidBalancer::ZeroWeight("b".into())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(3), ..ProptestConfig::default() })]

    /// Over each full cycle of Σw picks, weighted round robin gives host i exactly w_i picks.
    #[test]
    fn round_robin_is_exactly_fair_per_cycle(weights in prop::collection::vec(1u32..6, 1..8), cycles in 1usize..4) {
        let mut b = Balancer::try_new(&LoadBalancer::RoundRobin, 0).unwrap();
        let h = hosts(&weights);
        let total: u32 = weights.iter().sum();
        let c = counts(&mut b, &h, total as usize * cycles, &mut rng());
        for (i, w) in weights.iter().enumerate() {
            prop_assert_eq!(c[i], *w as usize * cycles);
        }
    }

    /// The integer panic rule equals Envoy's floating-point one.
    #[test]
    fn panic_rule_matches_envoy_arithmetic(total in 1usize..200, healthy_frac in 0.0f64..=1.0, threshold in 0u32..=100) {
        let healthy = ((total as f64) * healthy_frac) as usize;
        let h = 100.0 * healthy as f64 / total as f64;
        let normalized = (1.4 * h).min(100.0);
        let envoy = normalized < 100.0 && h < f64::from(threshold);
        prop_assert_eq!(in_panic(healthy, total, threshold), envoy);
    }

    /// P2C with equal load picks each host about 1/n of the time (seeded draws).
    #[test]
    fn p2c_is_fair_within_tolerance(n in 2usize..10, seed in any::<u64>()) {
        let mut b = Balancer::try_new(&LoadBalancer::LeastRequest, 0).unwrap();
        let h = hosts(&vec![1; n]);
        let picks = 2000 * n;
        let c = counts(&mut b, &h, picks, &mut StdRng::seed_from_u64(seed));
        for x in c {
            // Binomial sd is about sqrt(2000) ≈ 45; allow 20% (400, about 9 sd).
            prop_assert!((1600..=2400).contains(&x), "{}", x);
        }
    }
}
