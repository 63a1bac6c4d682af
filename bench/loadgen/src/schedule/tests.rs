use std::time::Duration;

use super::{InvalidSchedule, Schedule};

#[test]
fn requests_are_spaced_one_over_the_rate() {
    let s = Schedule::try_new(2000, Duration::from_secs(1)).unwrap();
    assert_eq!(s.offset(0), Duration::ZERO);
    assert_eq!(s.offset(1), Duration::from_micros(500));
    assert_eq!(s.offset(3), Duration::from_micros(1500));
    assert_eq!(s.offset(2000), Duration::from_secs(1));
}

#[test]
fn offsets_do_not_drift_at_rates_that_do_not_divide_a_second() {
    // 3 req/s: 333_333_333.33 ns apart; request 3_000 is due at exactly 1_000 s.
    let s = Schedule::try_new(3, Duration::from_secs(2000)).unwrap();
    assert_eq!(s.offset(1), Duration::from_nanos(333_333_333));
    assert_eq!(s.offset(3_000), Duration::from_secs(1000));
}

#[test]
fn the_window_holds_rate_times_duration_requests() {
    let s = Schedule::try_new(2000, Duration::from_secs(4)).unwrap();
    assert_eq!(s.len(), 8000);
    assert!(s.offset(s.len() - 1) < s.duration());
    assert!(s.offset(s.len()) >= s.duration());
    // A window that is not a whole number of intervals still counts the last one inside it.
    let s = Schedule::try_new(3, Duration::from_millis(1500)).unwrap();
    assert_eq!(s.len(), 5); // at 0, 0.33, 0.67, 1.0, 1.33 s
    assert!(!s.is_empty());
}

#[test]
fn zero_rate_or_duration_is_refused() {
    assert_eq!(
        Schedule::try_new(0, Duration::from_secs(1)),
        Err(InvalidSchedule::ZeroRate)
    );
    assert_eq!(
        Schedule::try_new(10, Duration::ZERO),
        Err(InvalidSchedule::ZeroDuration)
    );
}
