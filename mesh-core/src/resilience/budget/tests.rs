use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::resource::Duration as ResDuration;

const TTL: Duration = Duration::from_secs(10);

fn budget(ratio_ppm: u64, min: u64) -> (RetryBudget, Instant) {
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    (RetryBudget::from_ppm(ratio_ppm, min, TTL, t0).unwrap(), t0)
}

fn drain(b: &RetryBudget, now: Instant) -> u64 {
    let mut n = 0;
    while b.withdraw(now) {
        n += 1;
    }
    n
}

#[test]
fn ratio_point_six_is_exact_where_tower_allows_every_retry() {
    // tower's TpsBudget: withdraw = trunc(1 / 0.6) = 1, so 1000 deposits allow 1000 retries.
    let (b, t0) = budget(600_000, 0);
    assert_eq!(b.tokens(), (3, 5));
    for _ in 0..1000 {
        b.deposit(t0);
    }
    assert_eq!(b.available(t0), 600);
    assert_eq!(drain(&b, t0), 600);
}

#[test]
fn reserve_is_min_per_second_times_ttl() {
    let (b, t0) = budget(600_000, 10);
    assert_eq!(b.reserve(), 10 * 10 * 5);
    for _ in 0..1000 {
        b.deposit(t0);
    }
    assert_eq!(drain(&b, t0), 600 + 100);
}

#[test]
fn linkerd_defaults_admit_one_hundred_cold_retries() {
    // Spec worked example 1: r = 0.2, m = 10, T = 10s: 100 retries from the reserve.
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    let b = RetryBudget::try_new(&RetryBudgetSettings::default(), t0).unwrap();
    assert_eq!(b.tokens(), (1, 5));
    assert_eq!(drain(&b, t0), 100);
}

#[test]
fn ratios_reduce_to_lowest_terms() {
    for (ppm, tokens) in [
        (200_000, (1, 5)),
        (300_000, (3, 10)),
        (700_000, (7, 10)),
        (1_000_000, (1, 1)),
        (2_500_000, (5, 2)),
        (0, (0, 1)),
        (1, (1, 1_000_000)),
    ] {
        let (b, _) = budget(ppm, 0);
        assert_eq!(b.tokens(), tokens, "{ppm}");
    }
}

#[test]
fn zero_ratio_only_spends_the_reserve() {
    let (b, t0) = budget(0, 2);
    for _ in 0..100 {
        b.deposit(t0);
    }
    assert_eq!(drain(&b, t0), 20);
}

#[test]
fn invalid_settings_are_rejected_as_linkerd_does() {
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    let mk = |r: f64, m: u32, ttl_ms: u64| {
        RetryBudget::try_new(
            &RetryBudgetSettings {
                retry_ratio: r,
                min_retries_per_second: m,
                ttl: ResDuration::from_millis(ttl_ms),
            },
            t0,
        )
        .map(|_| ())
    };
    assert_eq!(mk(-0.1, 1, 10_000), Err(InvalidBudget::Ratio));
    assert_eq!(mk(1000.5, 1, 10_000), Err(InvalidBudget::Ratio));
    assert_eq!(mk(f64::NAN, 1, 10_000), Err(InvalidBudget::Ratio));
    assert_eq!(mk(0.2, 1, 999), Err(InvalidBudget::Ttl));
    assert_eq!(mk(0.2, 1, 60_001), Err(InvalidBudget::Ttl));
    assert_eq!(mk(0.2, u32::MAX, 10_000), Err(InvalidBudget::MinRetries));
    assert_eq!(mk(1000.0, i32::MAX as u32, 60_000), Ok(()));
    assert_eq!(mk(0.2, 0, 1000), Ok(()));
}

#[test]
fn deposits_age_out_after_the_ttl() {
    let (b, t0) = budget(1_000_000, 0);
    for _ in 0..10 {
        b.deposit(t0);
    }
    assert_eq!(b.available(t0 + Duration::from_millis(9_999)), 10);
    assert_eq!(b.available(t0 + TTL), 0, "the first slot left the window");
}

#[test]
fn withdrawals_age_out_and_the_reserve_refills() {
    let (b, t0) = budget(200_000, 1);
    assert_eq!(drain(&b, t0), 10);
    assert_eq!(drain(&b, t0 + Duration::from_secs(5)), 0);
    assert_eq!(drain(&b, t0 + TTL), 10);
}

#[test]
fn an_idle_gap_longer_than_the_tag_range_forgets_old_slots() {
    let (b, t0) = budget(1_000_000, 0);
    for _ in 0..7 {
        b.deposit(t0);
    }
    // 2^24 slots of 1s later the tags wrap to the same value: the tokens must still be gone.
    let later = t0 + Duration::from_secs(1 << 24);
    assert_eq!(b.available(later), 0);
    b.deposit(later);
    assert_eq!(b.available(later), 1);
}

#[test]
fn concurrent_withdrawals_never_overdraw() {
    let (b, t0) = budget(500_000, 0);
    for _ in 0..10_000 {
        b.deposit(t0);
    }
    let b = Arc::new(b);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                for _ in 0..5_000 {
                    if b.withdraw(t0) {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 5_000);
}

#[test]
fn concurrent_withdrawals_straddling_a_slot_boundary_never_overdraw() {
    let (b, t0) = budget(1_000_000, 0);
    for _ in 0..2_000 {
        b.deposit(t0);
    }
    let b = Arc::new(b);
    let slot = TTL / SLOTS as u32;
    let handles: Vec<_> = (0..4u32)
        .map(|k| {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                for i in 0..2_000u32 {
                    // Callers disagree on the time around the first slot boundary.
                    let now = t0 + slot * ((i + k) % 2) - Duration::from_nanos(u64::from(k));
                    if b.withdraw(now) {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 2_000, "every token spent once, none twice");
}

#[test]
fn budget_is_shareable() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<RetryBudget>();
}

#[derive(Clone, Debug)]
enum Op {
    Deposit,
    Withdraw,
}

fn ops() -> impl Strategy<Value = Vec<(u64, Op)>> {
    prop::collection::vec(
        (
            0u64..400,
            prop_oneof![Just(Op::Deposit), Just(Op::Withdraw)],
        ),
        1..600,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed), ..ProptestConfig::default() })]

    /// Over any sequence, the retries of the window ending at any retry stay within
    /// `ratio x deposits in that window + min x ttl`, and over the whole run within
    /// `ratio x requests + min x ttl x windows`.
    #[test]
    fn never_admits_more_than_ratio_times_requests_plus_reserve(
        ratio_ppm in 0u64..=3_000_000,
        min in 0u64..5,
        gaps in ops(),
    ) {
        let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
        let b = RetryBudget::from_ppm(ratio_ppm, min, TTL, t0).unwrap();
        let slot_ms = TTL.as_millis() as u64 / SLOTS;
        let mut now_ms = 0u64;
        let mut per_slot: Vec<(u64, u64, u64)> = Vec::new(); // (slot, deposits, retries)
        for (gap, op) in gaps {
            now_ms += gap * 7;
            let slot = now_ms / slot_ms;
            if per_slot.last().is_none_or(|l| l.0 != slot) {
                per_slot.push((slot, 0, 0));
            }
            let now = t0 + Duration::from_millis(now_ms);
            let last = per_slot.last_mut().unwrap();
            match op {
                Op::Deposit => { b.deposit(now); last.1 += 1; }
                Op::Withdraw => if b.withdraw(now) { last.2 += 1; },
            }
        }
        let secs = TTL.as_secs();
        for (i, &(end, _, retried)) in per_slot.iter().enumerate() {
            if retried == 0 {
                continue;
            }
            let window = per_slot[..=i].iter().filter(|s| s.0 + SLOTS > end);
            let (d, r) = window.fold((0, 0), |(d, r), s| (d + s.1, r + s.2));
            // Integer form of r <= ratio x d + min x ttl.
            prop_assert!(
                u128::from(r) * 1_000_000
                    <= u128::from(ratio_ppm) * u128::from(d)
                        + u128::from(min * secs) * 1_000_000,
                "window ending {end}: {r} retries for {d} deposits"
            );
        }
        let total_d: u64 = per_slot.iter().map(|s| s.1).sum();
        let total_r: u64 = per_slot.iter().map(|s| s.2).sum();
        let windows = now_ms / TTL.as_millis() as u64 + 1;
        prop_assert!(
            u128::from(total_r) * 1_000_000
                <= u128::from(ratio_ppm) * u128::from(total_d)
                    + u128::from(min * secs * windows) * 1_000_000
        );
    }
}
