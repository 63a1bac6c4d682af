use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn mirror(host: &str, per_million: u32) -> Mirror {
    Mirror {
        host: host.into(),
        subset: None,
        port: None,
        per_million,
    }
}

#[test]
fn default_full_percentage_always_mirrors_and_zero_never() {
    let p = MirrorPolicy::try_new(
        &[mirror("a", 1_000_000), mirror("b", 0)],
        HostRule::default(),
        DEFAULT_MAX_BODY,
    )
    .unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..1000 {
        let picked: Vec<&str> = p.pick(&mut rng).iter().map(|m| m.host.as_str()).collect();
        assert_eq!(picked, ["a"]);
    }
}

#[test]
fn partial_percentage_converges() {
    let p = MirrorPolicy::try_new(&[mirror("a", 250_000)], HostRule::Unchanged, 0).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let n = (0..40_000).filter(|_| !p.pick(&mut rng).is_empty()).count();
    assert!((9_500..10_500).contains(&n), "{n}");
}

#[test]
fn host_is_unchanged_since_istio_1_28_and_suffixed_before() {
    let new = MirrorPolicy::try_new(&[], HostRule::Unchanged, 0).unwrap();
    assert_eq!(new.authority("reviews.ns:9080"), "reviews.ns:9080");
    let old = MirrorPolicy::try_new(&[], HostRule::ShadowSuffix, 0).unwrap();
    assert_eq!(old.authority("reviews.ns:9080"), "reviews.ns-shadow:9080");
    assert_eq!(old.authority("reviews"), "reviews-shadow");
    assert_eq!(shadow_authority("[::1]:80"), "[::1]-shadow:80");
    assert_eq!(shadow_authority("[::1]"), "[::1]-shadow");
}

#[test]
fn bodies_are_copied_only_when_small_and_known() {
    let p = MirrorPolicy::try_new(&[], HostRule::Unchanged, 1024).unwrap();
    assert_eq!(p.body_plan(Some(0)), BodyPlan::Empty);
    assert_eq!(p.body_plan(Some(1024)), BodyPlan::Buffer(1024));
    assert_eq!(p.body_plan(Some(1025)), BodyPlan::Skip);
    assert_eq!(p.body_plan(None), BodyPlan::Skip);
}

#[test]
fn percentages_over_100_are_rejected() {
    assert_eq!(
        MirrorPolicy::try_new(&[mirror("a", 1_000_001)], HostRule::Unchanged, 0),
        Err(InvalidMirror::Percentage {
            host: "a".into(),
            per_million: 1_000_001
        })
    );
}
