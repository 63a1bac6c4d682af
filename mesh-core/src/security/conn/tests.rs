use super::*;

#[test]
fn principal_parts() {
    let id = PeerIdentity::from_spiffe_uri("spiffe://cluster.local/ns/foo/sa/bar").unwrap();
    assert_eq!(id.principal(), "cluster.local/ns/foo/sa/bar");
    assert_eq!(id.trust_domain(), "cluster.local");
    assert_eq!(id.namespace(), Some("foo"));
    assert_eq!(id.service_account(), Some("bar"));
    assert!(PeerIdentity::from_principal("/ns/foo").is_err());
    assert!(PeerIdentity::from_principal("td/ns/a\0b").is_err());
    assert!(PeerIdentity::from_spiffe_uri("https://td/ns/a").is_err());
}

#[test]
fn xff_picks_the_nth_from_the_right() {
    let xff = b"56.5.6.7, 72.9.5.6, 98.1.2.3".as_slice();
    assert_eq!(remote_ip_from_xff([xff], 2), "72.9.5.6".parse().ok());
    assert_eq!(remote_ip_from_xff([xff], 1), "98.1.2.3".parse().ok());
    // H-34: numTrustedProxies 0 ignores the header.
    assert_eq!(remote_ip_from_xff([b"10.0.0.1".as_slice()], 0), None);
    // H-35: shorter than N falls back to the peer.
    assert_eq!(remote_ip_from_xff([b"10.0.0.1".as_slice()], 2), None);
    // Repeated headers count as one list.
    let two = [b"10.0.0.1".as_slice(), b"198.51.100.7".as_slice()];
    assert_eq!(remote_ip_from_xff(two, 1), "198.51.100.7".parse().ok());
    // H-36: malformed entries never pick an address.
    for bad in ["a", "999.1.1.1", ",,,", "[::1]:80", "fe80::1%eth0"] {
        assert_eq!(remote_ip_from_xff([bad.as_bytes()], 1), None, "{bad}");
    }
    let long = "1.1.1.1,".repeat(10_000);
    assert_eq!(remote_ip_from_xff([long.as_bytes()], 1), None);
}
