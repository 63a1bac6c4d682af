//! Circuit-breaker permit acquire + release, uncontended and from two threads.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::model::destination::DestinationPolicy;
use mesh_core::resilience::pool::CircuitBreaker;

fn permits(c: &mut Criterion) {
    let mut settings = DestinationPolicy::defaults().connection_pool;
    settings.http2_max_requests = 1024;
    let cb = CircuitBreaker::new(&settings);
    c.bench_function("pool/request_permit_acquire_release", |b| {
        b.iter(|| drop(black_box(cb.try_acquire_request())))
    });
    c.bench_function("pool/retry_permit_acquire_release", |b| {
        b.iter(|| drop(black_box(cb.try_acquire_retry())))
    });

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let other = cb.clone();
        let stop = &stop;
        s.spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(black_box(other.try_acquire_request()));
            }
        });
        c.bench_function("pool/request_permit_2_threads", |b| {
            b.iter(|| drop(black_box(cb.try_acquire_request())))
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

criterion_group!(benches, permits);
criterion_main!(benches);
