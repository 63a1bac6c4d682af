use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

#[test]
fn a_single_istio_destination_gets_everything_even_at_weight_zero() {
    let s = WeightedSet::istio(vec![("a", 0)]).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s.pick(&mut StdRng::seed_from_u64(1)).1, &"a");
}

#[test]
fn zero_weights_are_dropped_among_several() {
    let s = WeightedSet::istio(vec![("a", 0), ("b", 5)]).unwrap();
    assert_eq!(s.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec!["b"]);
    assert!(WeightedSet::istio(vec![("a", 0), ("b", 0)]).is_none());
    // Linkerd drops a lone zero too (the caller falls back to the apex).
    assert!(WeightedSet::linkerd(vec![("a", 0)]).is_none());
}

#[test]
fn draws_map_onto_cumulative_ranges() {
    let s = WeightedSet::istio(vec![("v1", 90), ("v2", 10)]).unwrap();
    assert_eq!(s.at(0).1, &"v1");
    assert_eq!(s.at(89).1, &"v1");
    assert_eq!(s.at(90).1, &"v2");
    assert_eq!(s.at(99).1, &"v2");
    assert_eq!(s.share_permille(0), 900);
}

#[test]
fn huge_weights_do_not_overflow() {
    let s = WeightedSet::istio(vec![("a", u64::MAX), ("b", u64::MAX)]).unwrap();
    let _ = s.pick(&mut StdRng::seed_from_u64(7));
    assert_eq!(s.total(), u64::MAX);
}

proptest::proptest! {
    /// Picks converge to the weights (seeded; 20 000 draws, 2 points of tolerance).
    #[test]
    fn picks_converge_to_weights(weights in proptest::collection::vec(1u64..1000, 2..6), seed in 0u64..1000) {
        let s = WeightedSet::istio(weights.iter().copied().enumerate().collect()).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0u32; weights.len()];
        let n = 20_000;
        for _ in 0..n {
            counts[s.pick(&mut rng).0] += 1;
        }
        let total: u64 = weights.iter().sum();
        for (i, w) in weights.iter().enumerate() {
            let expected = *w as f64 / total as f64;
            let got = f64::from(counts[i]) / f64::from(n);
            proptest::prop_assert!((expected - got).abs() < 0.02, "{i}: {expected} vs {got}");
        }
    }
}
