//! Seeded property tests.

use proptest::prelude::{ProptestConfig, prop_assert, proptest};
use proptest::test_runner::RngSeed;

use super::*;
use crate::model::host::split_authority;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        rng_seed: RngSeed::Fixed(0x5eed_6a7e),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any SNI and Host: no panic, and a request proceeds only on the server its Host selects
    /// (never the SIMPLE wildcard for the MUTUAL admin host).
    #[test]
    fn sni_and_host_never_panic_and_admin_stays_mutual(
        sni in "[a-zA-Z0-9.*_:\\[\\] -]{0,80}|\\PC{0,20}",
        host in "(admin|guest|x)\\.example\\.com(:[0-9]{1,5})?|\\PC{0,20}",
    ) {
        let g = relaxed_sni();
        if let Ok(conn) = g.accept(443, tls(Some(&sni))) {
            let v = g.request(&conn, &host, "/");
            let admin = split_authority(&host).0 == "admin.example.com";
            if let RequestVerdict::Proceed { server } = v {
                prop_assert!(admin == (server == 1), "{host} on {server}");
            }
        }
    }
}
