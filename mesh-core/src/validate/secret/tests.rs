//! Each Secret rule with a bad input and its exact diagnostic; good Secrets are clean.

use proptest::prelude::*;

use super::pem::{blocks, decode_base64};
use crate::diag::Diagnostic;
use crate::{LoadOptions, Loaded};

const CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nAAECAwQF\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";
const EC_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAAA\n-----END EC PRIVATE KEY-----\n";
const CRL: &str = "-----BEGIN X509 CRL-----\nMIIBYDCBygIBATAN\n-----END X509 CRL-----\n";

/// Standard base64 with padding, to build `data` values.
fn b64(s: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Loads a Secret whose body (type, data, stringData) is `body`, starting on line 4.
fn load(body: &str) -> Vec<Diagnostic> {
    let text =
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: ns}}\n{body}\n");
    Loaded::from_str("t.yaml", &text, LoadOptions::default()).diagnostics
}

/// `Severity line:column path`, the exact head of a diagnostic.
fn head(d: &Diagnostic) -> String {
    format!("{:?} {}:{} {}", d.severity, d.line, d.column, d.path)
}

/// Asserts the diagnostics: one per expected `(head, message substring)`, in order.
fn expect(body: &str, want: &[(&str, &str)]) {
    let got = load(body);
    let lines: Vec<String> = got
        .iter()
        .map(|d| format!("{} {}", head(d), d.message))
        .collect();
    assert_eq!(got.len(), want.len(), "{body}\n{lines:#?}");
    for (d, (h, msg)) in got.iter().zip(want) {
        assert_eq!(head(d), *h, "{body}\n{lines:#?}");
        assert!(
            d.message.contains(msg),
            "{body}: {:?} lacks {msg:?}",
            d.message
        );
    }
}

/// A `kubernetes.io/tls` Secret with base64 `data` entries.
fn tls(entries: &[(&str, &str)]) -> String {
    let data: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("  {k}: {}", b64(v)))
        .collect();
    format!("type: kubernetes.io/tls\ndata:\n{}", data.join("\n"))
}

#[test]
fn tls_secrets() {
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let legacy_encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n";
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            tls(&[("tls.crt", CERT)]),
            &[(
                "Error 5:1 data[\"tls.key\"]",
                "a kubernetes.io/tls Secret needs tls.key in data or stringData",
            )],
        ),
        (
            "type: kubernetes.io/tls".into(),
            &[
                (
                    "Error 1:1 data[\"tls.crt\"]",
                    "needs tls.crt in data or stringData",
                ),
                (
                    "Error 1:1 data[\"tls.key\"]",
                    "needs tls.key in data or stringData",
                ),
            ],
        ),
        (
            format!(
                "type: kubernetes.io/tls\ndata: {{tls.crt: 'abc', tls.key: {}}}",
                b64(KEY)
            ),
            &[(
                "Error 5:17 data[\"tls.crt\"]",
                "data[\"tls.crt\"] is not valid base64: invalid base64: 3 characters is not a multiple of 4",
            )],
        ),
        (
            format!(
                "type: kubernetes.io/tls\ndata: {{tls.crt: 'ab$=', tls.key: {}}}",
                b64(KEY)
            ),
            &[("Error 5:17 data[\"tls.crt\"]", "unexpected '$' at offset 2")],
        ),
        (
            tls(&[("tls.crt", "hello"), ("tls.key", KEY)]),
            &[(
                "Error 6:12 data[\"tls.crt\"]",
                "tls.crt does not hold a PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            )],
        ),
        (
            tls(&[("tls.crt", CERT), ("tls.key", CERT)]),
            &[(
                "Error 7:12 data[\"tls.key\"]",
                "tls.key does not hold a PEM private key",
            )],
        ),
        (
            tls(&[("tls.crt", CERT), ("tls.key", encrypted)]),
            &[(
                "Error 7:12 data[\"tls.key\"]",
                "tls.key holds an encrypted private key",
            )],
        ),
        (
            tls(&[("tls.crt", CERT), ("tls.key", legacy_encrypted)]),
            &[(
                "Error 7:12 data[\"tls.key\"]",
                "tls.key holds an encrypted private key",
            )],
        ),
        (
            tls(&[
                ("tls.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n"),
                ("tls.key", KEY),
            ]),
            &[(
                "Error 6:12 data[\"tls.crt\"]",
                "tls.crt is not valid PEM: PEM block BEGIN CERTIFICATE has no END line",
            )],
        ),
        (
            tls(&[
                (
                    "tls.crt",
                    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n",
                ),
                ("tls.key", KEY),
            ]),
            &[(
                "Error 6:12 data[\"tls.crt\"]",
                "PEM block BEGIN CERTIFICATE is closed by END PRIVATE KEY",
            )],
        ),
        (
            tls(&[
                (
                    "tls.crt",
                    "-----BEGIN CERTIFICATE-----\nMI$B\n-----END CERTIFICATE-----\n",
                ),
                ("tls.key", KEY),
            ]),
            &[(
                "Error 6:12 data[\"tls.crt\"]",
                "PEM block CERTIFICATE: invalid base64",
            )],
        ),
        (
            tls(&[("tls.crt", CERT), ("tls.key", KEY), ("ca.crl", CERT)]),
            &[(
                "Error 8:11 data[\"ca.crl\"]",
                "ca.crl does not hold a PEM certificate revocation list",
            )],
        ),
        (
            format!("type: kubernetes.io/tls\nstringData: {{tls.crt: hello, tls.key: {KEY:?}}}"),
            &[(
                "Error 5:23 stringData[\"tls.crt\"]",
                "tls.crt does not hold a PEM certificate",
            )],
        ),
        (
            format!(
                "{}\n  'tls crt': {}",
                tls(&[("tls.crt", CERT), ("tls.key", KEY)]),
                b64("x")
            ),
            &[(
                "Error 8:14 data[\"tls crt\"]",
                "Secret key \"tls crt\" is invalid",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(body, want);
    }
}

#[test]
fn generic_and_other_secrets() {
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            format!("type: Opaque\ndata: {{cert: {}}}", b64(CERT)),
            &[(
                "Error 5:14 data.cert",
                "cert and key come as a pair; key is missing",
            )],
        ),
        (
            format!("data: {{tls.key: {}}}", b64(KEY)),
            &[(
                "Error 4:17 data[\"tls.key\"]",
                "tls.crt and tls.key come as a pair; tls.crt is missing",
            )],
        ),
        (
            format!("type: Opaque\ndata: {{cacert: {}}}", b64("not pem")),
            &[(
                "Error 5:16 data.cacert",
                "cacert does not hold a PEM certificate",
            )],
        ),
        (
            "type: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: e30=}".into(),
            &[(
                "Warning 4:7 type",
                "Secret type \"kubernetes.io/dockerconfigjson\" is not used by mesh",
            )],
        ),
        (
            "data: {password: cGFzcw==}".into(),
            &[(
                "Warning 1:1 type",
                "Secret type \"Opaque\" (the default) is not used by mesh",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(body, want);
    }
}

#[test]
fn good_secrets_are_clean() {
    let good = [
        tls(&[
            ("tls.crt", &format!("{CERT}{CERT}")),
            ("tls.key", KEY),
            ("ca.crt", CERT),
            ("ca.crl", CRL),
        ]),
        tls(&[("tls.crt", CERT), ("tls.key", EC_KEY)]),
        format!(
            "type: kubernetes.io/tls\ndata: {{tls.key: {}}}\nstringData: {{tls.crt: {CERT:?}}}",
            b64(KEY)
        ),
        format!(
            "type: Opaque\ndata: {{cert: {}, key: {}, cacert: {}, crl: {}}}",
            b64(CERT),
            b64(KEY),
            b64(CERT),
            b64(CRL)
        ),
        format!(
            "type: Opaque\ndata: {{cacert: {}}}",
            b64(&format!("# bundle\n{CERT}\ncomment\n{CERT}"))
        ),
        format!("data: {{tls.crt: {}, tls.key: {}}}", b64(CERT), b64(KEY)),
    ];
    for body in &good {
        expect(body, &[]);
    }
}

#[test]
fn base64_decoding() {
    assert_eq!(decode_base64(""), Ok(vec![]));
    assert_eq!(decode_base64("QQ=="), Ok(b"A".to_vec()));
    assert_eq!(decode_base64("QUI="), Ok(b"AB".to_vec()));
    assert_eq!(decode_base64("QUJD"), Ok(b"ABC".to_vec()));
    assert_eq!(decode_base64("QUJD\r\nRA=="), Ok(b"ABCD".to_vec()));
    assert_eq!(decode_base64("+/+/"), Ok(vec![0xfb, 0xff, 0xbf]));
    for bad in [
        "Q", "QQ=", "Q===", "QQ=A", "QQ==QQ==", "QU I", "QUJ-", "====",
    ] {
        assert!(decode_base64(bad).is_err(), "{bad}");
    }
}

#[test]
fn pem_blocks() {
    let labels = |t: &str| blocks(t).map(|b| b.into_iter().map(|b| b.label).collect::<Vec<_>>());
    assert_eq!(
        labels(&format!("{CERT}{KEY}")),
        Ok(vec!["CERTIFICATE".into(), "PRIVATE KEY".into()])
    );
    assert_eq!(labels("no pem here"), Ok(vec![]));
    assert!(
        labels("-----BEGIN X-----\n-----END X-----\n").is_err(),
        "empty body"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Encoding then decoding gives the input back.
    #[test]
    fn base64_round_trips(s in "\\PC{0,64}") {
        prop_assert_eq!(decode_base64(&b64(&s)), Ok(s.into_bytes()));
    }

    /// No input makes the decoders panic.
    #[test]
    fn decoders_never_panic(s in "[-A-Za-z0-9+/=\r\n: ]{0,80}") {
        let _ = decode_base64(&s);
        let _ = blocks(&format!("-----BEGIN CERTIFICATE-----\n{s}\n-----END CERTIFICATE-----"));
        let _ = blocks(&s);
    }
}
