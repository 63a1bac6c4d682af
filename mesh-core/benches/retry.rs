//! Retry engines: the Linkerd budget (deposit + withdraw, alone and from two threads), the
//! Istio retry decision and the fault decision.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::resilience::Outcome;
use mesh_core::resilience::budget::RetryBudget;
use mesh_core::resilience::fault::FaultInjector;
use mesh_core::resilience::retry::{IstioRetry, ResponseHints, RetryState, Unlimited};
use mesh_core::resource::Duration as ResDuration;
use mesh_core::route::action::{AbortError, FaultAbort, FaultDelay, FaultPolicy};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn budget(c: &mut Criterion) {
    let t0 = origin();
    let b = RetryBudget::from_ppm(200_000, 10, Duration::from_secs(10), t0).unwrap();
    // Time advances by 1µs per iteration so slot rotation is part of the measurement.
    let mut tick = 0u64;
    c.bench_function("budget/deposit+withdraw/uncontended", |bench| {
        bench.iter(|| {
            tick += 1_000;
            let now = t0 + Duration::from_nanos(tick);
            b.deposit(black_box(now));
            black_box(b.withdraw(now))
        })
    });

    let shared = Arc::new(RetryBudget::from_ppm(200_000, 10, Duration::from_secs(10), t0).unwrap());
    c.bench_function("budget/deposit+withdraw/2-threads", |bench| {
        bench.iter_custom(|iters| {
            let barrier = Arc::new(Barrier::new(2));
            let run = |b: Arc<RetryBudget>, barrier: Arc<Barrier>| {
                move || {
                    barrier.wait();
                    let start = clock();
                    for i in 0..iters {
                        let now = t0 + Duration::from_nanos(i * 1_000);
                        b.deposit(now);
                        black_box(b.withdraw(now));
                    }
                    clock() - start
                }
            };
            let other = std::thread::spawn(run(shared.clone(), barrier.clone()));
            let mine = run(shared.clone(), barrier)();
            let theirs = other.join().unwrap();
            mine.max(theirs)
        })
    });
}

fn retry_decision(c: &mut Criterion) {
    let p = IstioRetry::istio_default();
    let mut rng = StdRng::seed_from_u64(1);
    let outcomes = [
        Outcome::Response {
            status: 503,
            grpc_status: None,
        },
        Outcome::ConnectFailure,
        Outcome::Response {
            status: 200,
            grpc_status: Some(14),
        },
    ];
    let mut i = 0usize;
    c.bench_function("retry/decide", |bench| {
        bench.iter(|| {
            i = (i + 1) % outcomes.len();
            let mut state = RetryState::<()>::new();
            black_box(p.decide(
                &mut state,
                black_box(&outcomes[i]),
                ResponseHints::default(),
                &Unlimited,
                &mut rng,
            ))
        })
    });
    c.bench_function("retry/is_retryable", |bench| {
        bench.iter(|| {
            i = (i + 1) % outcomes.len();
            black_box(p.conditions.is_retryable(black_box(&outcomes[i])))
        })
    });
}

fn fault_decision(c: &mut Criterion) {
    let f = FaultInjector::try_new(&FaultPolicy {
        delay: Some(FaultDelay {
            fixed: ResDuration::from_millis(5),
            per_million: 100_000,
        }),
        abort: Some(FaultAbort {
            error: AbortError::Http(503),
            per_million: 10_000,
        }),
    })
    .unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    c.bench_function("fault/decide", |bench| {
        bench.iter(|| black_box(f.decide(&mut rng)))
    });
}

/// Benchmarks measure wall time; the engines themselves never read the clock.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

fn origin() -> Instant {
    clock()
}

criterion_group!(benches, budget, retry_decision, fault_decision);
criterion_main!(benches);
