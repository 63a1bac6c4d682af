//! Seeded property tests of the composition.

use proptest::prelude::{ProptestConfig, prop_assert_eq, proptest};
use proptest::test_runner::RngSeed;

use super::*;

fn policy(
    name: &str,
    selector: bool,
    mode: Option<MtlsMode>,
    port: Option<u16>,
) -> PeerAuthnPolicy {
    PeerAuthnPolicy {
        name: format!("prod/{name}"),
        namespace: "prod".into(),
        selector: if selector {
            [("app".to_owned(), "a".to_owned())].into()
        } else {
            Default::default()
        },
        mode,
        ports: port
            .map(|p| (p, Some(MtlsMode::Disable)))
            .into_iter()
            .collect(),
    }
}

fn any_mode(i: u8) -> Option<MtlsMode> {
    [
        None,
        Some(MtlsMode::Disable),
        Some(MtlsMode::Permissive),
        Some(MtlsMode::Strict),
    ][usize::from(i % 4)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        rng_seed: RngSeed::Fixed(0x5eed_9a01),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Appending newer policies never changes what the oldest policy of a scope decided
    /// (oldest wins): modes, port modes and winners stay; the newcomer is reported as ignored.
    #[test]
    fn newer_policies_never_override_an_older_one_in_its_scope(
        specs in proptest::collection::vec((proptest::bool::ANY, 0u8..4, proptest::option::of(1u16..4)), 1..8),
        extra in (proptest::bool::ANY, 0u8..4),
    ) {
        let mut policies: Vec<PeerAuthnPolicy> = specs
            .iter()
            .enumerate()
            .map(|(i, (sel, m, port))| {
                policy(&format!("p{i}"), *sel, any_mode(*m), port.filter(|_| *sel))
            })
            .collect();
        let w = workload("prod/x", "app=a");
        let before = PeerAuthentications::new("istio-system", policies.clone()).for_workload(&w);
        policies.push(policy("newest", extra.0, any_mode(extra.1), None));
        let after = PeerAuthentications::new("istio-system", policies).for_workload(&w);
        let scope = if extra.0 { Scope::Workload } else { Scope::Namespace };
        if before.winners.contains_key(&scope) {
            prop_assert_eq!(&before, &WorkloadMtls {
                ignored: before.ignored.clone(),
                ..after.clone()
            });
            prop_assert_eq!(after.ignored.last().map(|i| i.policy.as_str()), Some("prod/newest"));
        }
    }
}
