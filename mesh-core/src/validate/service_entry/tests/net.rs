//! The address parsers, by table and by property.

use proptest::prelude::*;

use crate::validate::service_entry::net::{check_fqdn, check_ip_or_cidr, check_unix_path};

#[test]
fn address_parsers() {
    for ok in [
        "10.0.0.1",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "::/0",
        "2001:db8::/128",
        "::ffff:1.2.3.4",
    ] {
        assert_eq!(check_ip_or_cidr(ok), Ok(()), "{ok}");
    }
    for bad in [
        "10.0.0.0/33",
        "1.2.3",
        "::ffff:1.2.3.4/200",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10/8",
        "",
        "/8",
        "10.0.0.0/8/8",
    ] {
        assert!(check_ip_or_cidr(bad).is_err(), "{bad}");
    }
    for ok in ["a", "a.example.com", "a.example.com.", "x-1.y2"] {
        assert_eq!(check_fqdn(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "A.example.com",
        "a..b",
        "-a.com",
        "a.123",
        "a_b.com",
        "*.a.com",
    ] {
        assert!(check_fqdn(bad).is_err(), "{bad}");
    }
    assert!(check_unix_path("/run/a.sock").is_ok());
    assert!(check_unix_path("@abstract").is_ok());
    for bad in ["", "run/a.sock", "/run/"] {
        assert!(check_unix_path(bad).is_err(), "{bad}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No input makes the address parsers panic.
    #[test]
    fn address_parsers_never_panic(s in "[0-9a-fA-F:./%@a-z_*-]{0,48}") {
        let _ = check_ip_or_cidr(&s);
        let _ = check_fqdn(&s);
        let _ = check_unix_path(&s);
    }
}
