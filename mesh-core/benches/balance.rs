//! Load-balancer picks and outlier-detector costs (issue 3 targets: outcome record <= 30 ns,
//! interval sweep over 100 endpoints <= 5 us, P2C pick over 100 endpoints <= 50 ns, ring-hash
//! pick <= 100 ns).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::model::destination::{
    HashAlgorithm, HashKey, HashPolicy, LoadBalancer, OutlierSettings,
};
use mesh_core::resilience::Outcome;
use mesh_core::resilience::balance::{Balancer, Hosts, hash_bytes};
use mesh_core::resilience::outlier::OutlierDetector;
use rand::SeedableRng;
use rand::rngs::StdRng;

const N: usize = 100;

fn hosts() -> Hosts {
    let mut h = Hosts::try_new((0..N).map(|i| (format!("10.0.{}.{}:8080", i / 256, i % 256), 1)))
        .expect("valid hosts");
    for i in 0..N {
        for _ in 0..(i % 7) {
            h.start_request(i);
        }
    }
    h
}

fn hash_lb(algorithm: HashAlgorithm) -> LoadBalancer {
    LoadBalancer::ConsistentHash(HashPolicy {
        key: HashKey::Header("x-user".into()),
        algorithm,
    })
}

fn picks(c: &mut Criterion) {
    let h = hosts();
    let mut rng = StdRng::seed_from_u64(1);
    let keys: Vec<u64> = (0..1024u64).map(|k| hash_bytes(&k.to_le_bytes())).collect();

    let mut p2c = Balancer::try_new(&LoadBalancer::LeastRequest, 50).expect("valid");
    c.bench_function("balance/p2c_pick_100", |b| {
        b.iter(|| black_box(p2c.pick(black_box(&h), None, &mut rng)))
    });

    let mut rr = Balancer::try_new(&LoadBalancer::RoundRobin, 50).expect("valid");
    c.bench_function("balance/round_robin_pick_100", |b| {
        b.iter(|| black_box(rr.pick(black_box(&h), None, &mut rng)))
    });

    for (name, lb) in [
        (
            "balance/ring_hash_pick_100",
            hash_lb(HashAlgorithm::RingHash {
                minimum_ring_size: 1024,
            }),
        ),
        (
            "balance/maglev_pick_100",
            hash_lb(HashAlgorithm::Maglev { table_size: 65537 }),
        ),
    ] {
        let mut bal = Balancer::try_new(&lb, 50).expect("valid");
        let mut k = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) & 1023;
                black_box(bal.pick(black_box(&h), Some(keys[k]), &mut rng))
            })
        });
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin; time is passed in from here on
fn outlier(c: &mut Criterion) {
    let t0 = Instant::now();
    let settings = OutlierSettings {
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&settings, N, t0).expect("valid");
    let ok = Outcome::Response {
        status: 200,
        grpc_status: None,
    };
    let err = Outcome::Response {
        status: 503,
        grpc_status: None,
    };
    let mut i = 0usize;
    c.bench_function("outlier/record", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            // Alternate failures and successes so no host is ever ejected.
            let o = if i & 1 == 0 { ok } else { err };
            black_box(d.record(black_box(i), o, t0))
        })
    });

    // Ten hosts ejected, ninety healthy (a few recently un-ejected, so decay runs too).
    let mut d = OutlierDetector::try_new(&settings, N, t0).expect("valid");
    for h in 0..20 {
        for _ in 0..5 {
            d.record(h, err, t0);
        }
    }
    d.advance(t0 + Duration::from_secs(30), |_| {});
    for h in 0..10 {
        for _ in 0..5 {
            d.record(h, err, t0 + Duration::from_secs(31));
        }
    }
    let now = t0 + Duration::from_secs(35);
    c.bench_function("outlier/sweep_100", |b| {
        b.iter(|| {
            d.sweep(black_box(now), |h| {
                black_box(h);
            })
        })
    });
}

criterion_group!(benches, picks, outlier);
criterion_main!(benches);
