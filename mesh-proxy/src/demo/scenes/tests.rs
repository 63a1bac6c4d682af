use std::time::Duration;

use super::*;

#[test]
fn the_tolerance_is_five_points_or_three_standard_errors() {
    // 10% over 1,000 draws: 3 SE = 2.8 points, so 5 points.
    assert_eq!(tolerance(100, 1000), 50);
    // 10% over 100 draws: 3 SE = 9 points.
    assert_eq!(tolerance(100, 100), 90);
    assert!(within(150, 100, 1000));
    assert!(!within(151, 100, 1000));
}

#[test]
fn permille_rounds_and_survives_zero() {
    assert_eq!(permille(1, 3), 333);
    assert_eq!(permille(2, 3), 667);
    assert_eq!(permille(5, 0), 0);
    assert_eq!(pct(103), "10.3%");
}

#[test]
fn sizes_grow_with_the_duration_within_bounds() {
    let short = Sizes::for_duration(Duration::from_secs(3));
    let default = Sizes::for_duration(Duration::from_secs(10));
    assert_eq!(short.canary, 400);
    assert_eq!(default.canary, 1000);
    assert!(Sizes::for_duration(Duration::from_secs(3600)).canary <= 4000);
}

#[tokio::test]
async fn drive_sends_each_request_once() {
    let seen = drive(100, 7, |i| async move { i }).await;
    let mut seen = seen;
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}
