use std::time::{Duration, Instant};

use super::{Recorder, percentile};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn percentiles_are_exact_nearest_rank_samples() {
    let sorted: Vec<Duration> = (1..=100).map(ms).collect();
    assert_eq!(percentile(&sorted, 500), Some(ms(50)));
    assert_eq!(percentile(&sorted, 900), Some(ms(90)));
    assert_eq!(percentile(&sorted, 990), Some(ms(99)));
    assert_eq!(percentile(&sorted, 1000), Some(ms(100)));
    assert_eq!(percentile(&sorted, 0), Some(ms(1)));
    // Few samples: p99 of 3 is the largest, p50 of 4 the second.
    assert_eq!(percentile(&[ms(1), ms(2), ms(9)], 990), Some(ms(9)));
    assert_eq!(percentile(&[ms(1), ms(2), ms(3), ms(4)], 500), Some(ms(2)));
    assert_eq!(percentile(&[], 500), None);
}

/// One connection, 1,000 req/s, every answer takes 0.5 ms except the first, which stalls 100 ms.
/// The worker can only send when its connection is free; the recorder must charge the stall to
/// every request that was due while it lasted.
#[test]
fn a_stall_is_charged_to_every_request_it_delayed() {
    let t0 = Instant::now();
    let due = 1000u64;
    let mut rec = Recorder::new(t0 + Duration::from_secs(10), due as usize);
    let mut naive = Vec::new();
    let mut free = t0;
    for i in 0..due {
        let scheduled = t0 + ms(i);
        let sent = scheduled.max(free);
        let done = sent
            + if i == 0 {
                ms(100)
            } else {
                Duration::from_micros(500)
            };
        free = done;
        rec.response(scheduled, done, true);
        naive.push(done - sent);
    }
    let report = rec.report(due, Duration::from_secs(1));
    naive.sort_unstable();
    // Measured from when a connection was free, only 1 request in 1,000 looks slow...
    assert_eq!(percentile(&naive, 990), Some(Duration::from_micros(500)));
    // ...but ~100 requests were due during the stall and waited for it.
    let p90 = report.p90_ms.unwrap();
    let p99 = report.p99_ms.unwrap();
    assert!(
        p90 > 5.0,
        "p90 {p90} ms should include the queueing behind the stall"
    );
    assert!(
        p99 > 90.0,
        "p99 {p99} ms should be close to the 100 ms stall"
    );
    assert_eq!(report.requests, due);
    assert_eq!(report.errors, 0);
    assert_eq!(report.pending, 0);
}

#[test]
fn errors_count_non_2xx_and_transport_failures_but_not_their_latency() {
    let t0 = Instant::now();
    let mut rec = Recorder::new(t0 + Duration::from_secs(1), 4);
    rec.response(t0, t0 + ms(2), true);
    rec.response(t0, t0 + ms(500), false);
    rec.transport_error(t0 + ms(3));
    let r = rec.report(4, Duration::from_secs(1));
    assert_eq!(r.requests, 2);
    assert_eq!(r.errors, 2);
    assert_eq!(r.pending, 1);
    assert_eq!(r.p99_ms, Some(2.0));
    assert_eq!(r.rps, 2.0);
}

#[test]
fn what_finishes_after_the_window_is_pending_not_an_error() {
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(1);
    let mut rec = Recorder::new(end, 3);
    rec.response(t0, t0 + ms(1), true);
    rec.response(t0 + ms(999), end + ms(5), true);
    rec.transport_error(end + ms(1));
    let r = rec.report(3, Duration::from_secs(1));
    assert_eq!((r.requests, r.errors, r.pending), (1, 0, 2));
    assert_eq!(r.p50_ms, Some(1.0));
}

#[test]
fn no_answers_means_no_percentiles() {
    let t0 = Instant::now();
    let r = Recorder::new(t0, 0).report(10, Duration::from_secs(2));
    assert_eq!((r.requests, r.pending, r.p50_ms), (0, 10, None));
}
