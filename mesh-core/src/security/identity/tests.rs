use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    string::Ia5String,
};

use super::*;

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

// === SPIFFE ID parsing ===

#[test]
fn parses_an_istio_identity_and_prints_the_principal() {
    let i = id("spiffe://cluster.local/ns/prod/sa/frontend");
    assert_eq!(i.trust_domain(), "cluster.local");
    assert_eq!(i.namespace(), "prod");
    assert_eq!(i.service_account(), "frontend");
    assert_eq!(i.principal(), "cluster.local/ns/prod/sa/frontend");
    assert_eq!(i.to_string(), "spiffe://cluster.local/ns/prod/sa/frontend");
    assert_eq!(SpiffeId::from_principal(&i.principal()), Ok(i.clone()));
    assert_eq!(SpiffeId::new("cluster.local", "prod", "frontend"), Ok(i));
}

#[test]
fn bad_ids_are_rejected_with_the_reason() {
    use InvalidSpiffeId as E;
    let long_td = format!("spiffe://{}/ns/a/sa/b", "a".repeat(256));
    let long_id = format!("spiffe://td/ns/a/sa/{}", "b".repeat(2048));
    let cases: Vec<(&str, E)> = vec![
        // security.md C-23
        ("spiffe:///ns/x/sa/y", E::EmptyTrustDomain),
        ("spiffe://TD/ns/x/sa/y", E::TrustDomain("TD".into())),
        ("spiffe://td/ns/x/sa/y?a=b", E::QueryOrFragment),
        ("spiffe://td/ns/x/sa/y#frag", E::QueryOrFragment),
        (
            "spiffe://td:8443/ns/x/sa/y",
            E::TrustDomain("td:8443".into()),
        ),
        (
            "spiffe://user@td/ns/x/sa/y",
            E::TrustDomain("user@td".into()),
        ),
        ("spiffe://t%64/ns/x/sa/y", E::TrustDomain("t%64".into())),
        (
            "SPIFFE://td/ns/x/sa/y",
            E::Scheme("SPIFFE://td/ns/x/sa/y".into()),
        ),
        (
            "https://td/ns/x/sa/y",
            E::Scheme("https://td/ns/x/sa/y".into()),
        ),
        ("td/ns/x/sa/y", E::Scheme("td/ns/x/sa/y".into())),
        // CVE-2025-66220 / CVE-2026-47778: NUL is never truncated away
        ("spiffe://td/ns/x/sa/y\0.evil", E::Nul),
        // Segments
        ("spiffe://td/ns//sa/y", E::Segment(String::new())),
        ("spiffe://td/ns/x/sa/y/", E::Segment(String::new())),
        ("spiffe://td/ns/../sa/y", E::Segment("..".into())),
        ("spiffe://td/ns/./sa/y", E::Segment(".".into())),
        ("spiffe://td/ns/a%2Fb/sa/y", E::Segment("a%2Fb".into())),
        ("spiffe://td/ns/a b/sa/y", E::Segment("a b".into())),
        // Valid SPIFFE IDs that are not Istio workload identities
        ("spiffe://td", E::NotIstioPath(String::new())),
        ("spiffe://td/ns/x", E::NotIstioPath("/ns/x".into())),
        (
            "spiffe://td/sa/y/ns/x",
            E::NotIstioPath("/sa/y/ns/x".into()),
        ),
        (
            "spiffe://td/ns/x/sa/y/extra",
            E::NotIstioPath("/ns/x/sa/y/extra".into()),
        ),
        (long_td.as_str(), E::TrustDomainTooLong(256)),
        (long_id.as_str(), E::TooLong(long_id.len())),
    ];
    for (input, want) in cases {
        assert_eq!(SpiffeId::parse(input), Err(want), "{input:?}");
    }
}

#[test]
fn principal_form_has_no_scheme() {
    assert_eq!(
        SpiffeId::from_principal("spiffe://td/ns/x/sa/y"),
        Err(InvalidSpiffeId::TrustDomain("spiffe:".into()))
    );
    assert!(SpiffeId::from_principal("td/ns/x/sa/y").is_ok());
}

#[test]
fn segments_keep_their_case_and_allowed_punctuation() {
    let i = id("spiffe://example.org/ns/my-ns_1/sa/Svc.Account");
    assert_eq!(i.service_account(), "Svc.Account");
}

// === Trust domains ===

#[test]
fn aliases_are_trusted_and_others_are_not() {
    let td = TrustDomains::try_new("new.td", ["old.td", "new.td", "old.td"]).unwrap();
    assert_eq!(td.aliases(), ["old.td".to_owned()]);
    assert!(td.trusts(&id("spiffe://new.td/ns/a/sa/b")));
    assert!(td.trusts(&id("spiffe://old.td/ns/a/sa/b")));
    // ztunnel trust_domain_mismatch_rejected
    assert!(!td.trusts(&id("spiffe://clusterset.local/ns/a/sa/b")));
    assert_eq!(
        TrustDomains::try_new("Bad", []),
        Err(InvalidSpiffeId::TrustDomain("Bad".into()))
    );
    assert_eq!(
        TrustDomains::try_new("ok", [""]),
        Err(InvalidSpiffeId::EmptyTrustDomain)
    );
}

#[test]
fn a_policy_principal_matches_the_same_workload_in_an_alias_domain() {
    let td = TrustDomains::try_new("new.td", ["old.td"]).unwrap();
    let policy = id("spiffe://old.td/ns/foo/sa/bar");
    assert!(td.matches(&policy, &id("spiffe://new.td/ns/foo/sa/bar")));
    assert!(td.matches(&policy, &id("spiffe://old.td/ns/foo/sa/bar")));
    assert!(!td.matches(&policy, &id("spiffe://new.td/ns/foo/sa/other")));
    assert!(!td.matches(&policy, &id("spiffe://new.td/ns/other/sa/bar")));
    // Istio: cluster.local in a policy points at the local domain and its aliases.
    let placeholder = id("spiffe://cluster.local/ns/foo/sa/bar");
    assert!(td.matches(&placeholder, &id("spiffe://new.td/ns/foo/sa/bar")));
    assert_eq!(td.expand(&placeholder).len(), 2);
    // A principal in a foreign domain stands for itself only.
    let foreign = id("spiffe://partner.td/ns/foo/sa/bar");
    assert_eq!(td.expand(&foreign), vec![foreign.clone()]);
    assert!(!td.matches(&foreign, &id("spiffe://new.td/ns/foo/sa/bar")));
}

#[test]
fn without_aliases_only_the_exact_domain_matches() {
    let td = TrustDomains::try_new("corp.td", []).unwrap();
    let policy = id("spiffe://corp.td/ns/foo/sa/bar");
    assert!(td.matches(&policy, &id("spiffe://corp.td/ns/foo/sa/bar")));
    assert!(!td.matches(&policy, &id("spiffe://other.td/ns/foo/sa/bar")));
    assert_eq!(TrustDomains::default().local(), "cluster.local");
}

// === X509-SVIDs (rcgen) ===

fn cert(sans: Vec<SanType>, ca: bool, eku: Vec<ExtendedKeyUsagePurpose>) -> Vec<u8> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = sans;
    p.extended_key_usages = eku;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let key = KeyPair::generate().unwrap();
    p.self_signed(&key).unwrap().der().to_vec()
}

fn uri(s: &str) -> SanType {
    SanType::URI(Ia5String::try_from(s.to_owned()).unwrap())
}

fn client() -> Vec<ExtendedKeyUsagePurpose> {
    vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ]
}

#[test]
fn the_single_uri_san_is_the_identity() {
    let der = cert(
        vec![
            uri("spiffe://cluster.local/ns/prod/sa/api"),
            SanType::DnsName(Ia5String::try_from("api.prod.svc").unwrap()),
        ],
        false,
        client(),
    );
    let got = svid_from_der(&der, SvidRole::Client).unwrap();
    assert_eq!(got.principal(), "cluster.local/ns/prod/sa/api");
    assert_eq!(svid_from_der(&der, SvidRole::Server), Ok(got));
    // No EKU extension at all: any use is allowed (RFC 5280 §4.2.1.12).
    let bare = cert(vec![uri("spiffe://td/ns/a/sa/b")], false, vec![]);
    assert!(svid_from_der(&bare, SvidRole::Client).is_ok());
}

#[test]
fn certificates_that_are_not_svids_are_rejected() {
    let two = cert(
        vec![uri("spiffe://td/ns/a/sa/b"), uri("spiffe://td/ns/c/sa/d")],
        false,
        client(),
    );
    // SPIFFE X509-SVID §2 (T-07): more than one URI SAN.
    assert_eq!(
        svid_from_der(&two, SvidRole::Client),
        Err(InvalidSvid::MultipleUriSans(2))
    );
    let none = cert(
        vec![SanType::DnsName(
            Ia5String::try_from("a.example.com").unwrap(),
        )],
        false,
        client(),
    );
    assert_eq!(
        svid_from_der(&none, SvidRole::Client),
        Err(InvalidSvid::NoUriSan)
    );
    // T-07: a NUL inside the URI SAN.
    let nul = cert(vec![uri("spiffe://td/ns/a/sa/b\0x")], false, client());
    assert_eq!(
        svid_from_der(&nul, SvidRole::Client),
        Err(InvalidSvid::SpiffeId(InvalidSpiffeId::Nul))
    );
    let bad = cert(vec![uri("spiffe://TD/ns/a/sa/b")], false, client());
    assert!(matches!(
        svid_from_der(&bad, SvidRole::Client),
        Err(InvalidSvid::SpiffeId(InvalidSpiffeId::TrustDomain(_)))
    ));
    // T-10: a CA presented as a leaf.
    let ca = cert(vec![uri("spiffe://td/ns/a/sa/b")], true, client());
    assert_eq!(svid_from_der(&ca, SvidRole::Client), Err(InvalidSvid::IsCa));
    // T-08 (CVE-2022-21657): email-protection only.
    let email = cert(
        vec![uri("spiffe://td/ns/a/sa/b")],
        false,
        vec![ExtendedKeyUsagePurpose::EmailProtection],
    );
    assert_eq!(
        svid_from_der(&email, SvidRole::Client),
        Err(InvalidSvid::KeyUsage("clientAuth"))
    );
    let server_only = cert(
        vec![uri("spiffe://td/ns/a/sa/b")],
        false,
        vec![ExtendedKeyUsagePurpose::ServerAuth],
    );
    assert_eq!(
        svid_from_der(&server_only, SvidRole::Client),
        Err(InvalidSvid::KeyUsage("clientAuth"))
    );
    assert!(svid_from_der(&server_only, SvidRole::Server).is_ok());
}

#[test]
fn garbage_and_trailing_bytes_are_errors_not_panics() {
    assert!(matches!(
        svid_from_der(b"not a certificate", SvidRole::Client),
        Err(InvalidSvid::Der(_))
    ));
    assert!(matches!(
        svid_from_der(&[], SvidRole::Client),
        Err(InvalidSvid::Der(_))
    ));
    let mut der = cert(vec![uri("spiffe://td/ns/a/sa/b")], false, client());
    der.push(0);
    assert!(matches!(
        svid_from_der(&der, SvidRole::Client),
        Err(InvalidSvid::Der(_))
    ));
    let good = cert(vec![uri("spiffe://td/ns/a/sa/b")], false, client());
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(svid_from_der(&good[..cut], SvidRole::Client).is_err());
    }
}

// === Properties ===

use proptest::prelude::{ProptestConfig, prop_assert, prop_assert_eq, proptest};
use proptest::test_runner::RngSeed;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: RngSeed::Fixed(0x5eed_1d01),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every well-formed identity survives principal -> ID -> principal unchanged.
    #[test]
    fn well_formed_ids_round_trip(
        td in "[a-z0-9][a-z0-9.-]{0,30}",
        ns in "[a-z0-9][a-z0-9-]{0,20}",
        sa in "[A-Za-z0-9][A-Za-z0-9._-]{0,20}",
    ) {
        let id = SpiffeId::new(&td, &ns, &sa);
        prop_assert!(id.is_ok(), "{:?}", id);
        let id = id.unwrap();
        prop_assert_eq!(SpiffeId::parse(&id.to_string()), Ok(id.clone()));
        prop_assert_eq!(SpiffeId::from_principal(&id.principal()), Ok(id.clone()));
        prop_assert_eq!(id.trust_domain(), td.as_str());
        prop_assert_eq!(id.service_account(), sa.as_str());
    }

    /// No input, however odd, panics; whatever parses prints back to the same text.
    #[test]
    fn parsing_never_panics(s in "spiffe://[a-zA-Z0-9./%?#:@_ -]{0,60}|\\PC{0,40}") {
        if let Ok(id) = SpiffeId::parse(&s) {
            prop_assert_eq!(id.to_string(), s);
        }
    }
}
