//! Server TLS settings (Istio `validateTLSOptions`; spec §8.2).

use std::collections::BTreeSet;

use crate::path::FieldPath;
use crate::resource::{ServerTlsMode, ServerTlsSettings, TlsProtocol};
use crate::validate::Report;

/// Cipher suites Envoy (BoringSSL) accepts, as Istio's `ValidCipherSuites` lists them.
const CIPHER_SUITES: [&str; 15] = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

/// Validates a server's `tls` block.
pub(super) fn check_server_tls(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings) {
    versions(r, path, t);
    ciphers(r, &path.key("cipherSuites"), &t.cipher_suites);
    match t.mode.unwrap_or(ServerTlsMode::Passthrough) {
        ServerTlsMode::IstioMutual => istio_mutual(r, path, t),
        mode @ (ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough) => {
            if has_material(t) || set(&t.ca_crl) {
                r.warn(
                    path,
                    format!(
                        "mode {} does not terminate TLS, so the certificate settings are \
                         ignored{}",
                        mode_name(mode),
                        if t.mode.is_none() {
                            " (mode defaults to PASSTHROUGH; set mode: SIMPLE to terminate)"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        mode @ (ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual) => {
            terminating(r, path, t, mode);
        }
    }
    crl(r, path, t);
}

/// True when any certificate source or CA is configured.
pub(super) fn has_material(t: &ServerTlsSettings) -> bool {
    set(&t.credential_name)
        || !t.credential_names.is_empty()
        || set(&t.server_certificate)
        || set(&t.private_key)
        || set(&t.ca_certificates)
        || !t.tls_certificates.is_empty()
}

/// Istio: `minProtocolVersion <= maxProtocolVersion`; TLS 1.0/1.1 minimums need cipher suites
/// (the defaults no longer include compatible ones).
fn versions(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings) {
    let min = t.min_protocol_version.filter(|v| *v != TlsProtocol::Auto);
    let max = t.max_protocol_version.filter(|v| *v != TlsProtocol::Auto);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        r.error(
            &path.key("minProtocolVersion"),
            format!(
                "minProtocolVersion {} is above maxProtocolVersion {}",
                version_name(lo),
                version_name(hi)
            ),
        );
    }
    if let Some(v @ (TlsProtocol::V1_0 | TlsProtocol::V1_1)) = min
        && t.cipher_suites.is_empty()
    {
        r.warn(
            &path.key("minProtocolVersion"),
            format!(
                "minProtocolVersion {} needs cipherSuites: the default suites do not include \
                 any that TLS below 1.2 can use",
                version_name(v)
            ),
        );
    }
}

/// Istio: unknown and duplicate cipher suites are ignored, with a warning. Expressions starting
/// with a non-alphanumeric character (`-`, `+`, `!`, `[`) and `ALL` pass through unchecked.
fn ciphers(r: &mut Report, path: &FieldPath, suites: &[String]) {
    let mut seen = BTreeSet::new();
    for (i, cs) in suites.iter().enumerate() {
        let expr =
            cs.is_empty() || cs == "ALL" || !cs.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !expr && !CIPHER_SUITES.contains(&cs.as_str()) {
            r.warn(
                &path.index(i),
                format!("unknown cipher suite {cs:?} is ignored"),
            );
        } else if !seen.insert(cs.as_str()) {
            r.warn(
                &path.index(i),
                format!("duplicate cipher suite {cs:?} is ignored"),
            );
        }
    }
}

/// Istio: ISTIO_MUTUAL uses the mesh certificates; no certificate field may be set.
fn istio_mutual(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings) {
    let fields = [
        ("serverCertificate", set(&t.server_certificate)),
        ("privateKey", set(&t.private_key)),
        ("caCertificates", set(&t.ca_certificates)),
        ("credentialName", set(&t.credential_name)),
        ("credentialNames", !t.credential_names.is_empty()),
        ("tlsCertificates", !t.tls_certificates.is_empty()),
    ];
    for (field, _) in fields.iter().filter(|(_, on)| *on) {
        r.error(
            &path.key(*field),
            format!("ISTIO_MUTUAL uses the mesh certificates; remove {field}"),
        );
    }
}

/// Spec §8.2: SIMPLE, MUTUAL and OPTIONAL_MUTUAL need exactly one certificate source
/// (`credentialName`, `credentialNames`, `serverCertificate`+`privateKey`, `tlsCertificates`);
/// mutual modes without a credential also need `caCertificates`.
fn terminating(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings, mode: ServerTlsMode) {
    let name = mode_name(mode);
    let sources: Vec<&str> = [
        ("credentialName", set(&t.credential_name)),
        ("credentialNames", !t.credential_names.is_empty()),
        (
            "serverCertificate/privateKey",
            set(&t.server_certificate) || set(&t.private_key),
        ),
        ("tlsCertificates", !t.tls_certificates.is_empty()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    match sources.as_slice() {
        [] => r.error(
            path,
            format!(
                "{name} TLS needs a certificate: set credentialName (a kubernetes.io/tls \
                 Secret), credentialNames, serverCertificate and privateKey, or tlsCertificates"
            ),
        ),
        [_] => {}
        many => r.error(
            path,
            format!(
                "set exactly one certificate source, found {}",
                many.join(" and ")
            ),
        ),
    }
    file_pair(r, path, t, name);
    credential_lists(r, path, t);
    let credential = set(&t.credential_name) || !t.credential_names.is_empty();
    let ca = set(&t.ca_certificates) || t.tls_certificates.iter().any(|c| set(&c.ca_certificates));
    if mode != ServerTlsMode::Simple && !credential && !ca {
        r.error(
            &path.key("caCertificates"),
            format!(
                "{name} TLS needs caCertificates to verify client certificates (or a \
                 credentialName whose Secret holds ca.crt)"
            ),
        );
    }
}

/// `serverCertificate` and `privateKey` come as a pair.
fn file_pair(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings, mode: &str) {
    match (set(&t.server_certificate), set(&t.private_key)) {
        (true, false) => r.error(
            &path.key("privateKey"),
            format!("{mode} TLS with serverCertificate also needs privateKey"),
        ),
        (false, true) => r.error(
            &path.key("serverCertificate"),
            format!("{mode} TLS with privateKey also needs serverCertificate"),
        ),
        _ => {}
    }
}

/// Istio: at most two `credentialNames` and two `tlsCertificates` (one RSA, one ECDSA); each
/// certificate pair complete.
fn credential_lists(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings) {
    for (field, n) in [
        ("credentialNames", t.credential_names.len()),
        ("tlsCertificates", t.tls_certificates.len()),
    ] {
        if n > 2 {
            r.error(
                &path.key(field),
                format!("at most 2 {field} (one RSA, one ECDSA), found {n}"),
            );
        }
    }
    for (i, c) in t.credential_names.iter().enumerate() {
        if c.is_empty() {
            r.error(
                &path.key("credentialNames").index(i),
                "credential name must not be empty",
            );
        }
    }
    for (i, c) in t.tls_certificates.iter().enumerate() {
        let at = path.key("tlsCertificates").index(i);
        for (field, on) in [
            ("serverCertificate", set(&c.server_certificate)),
            ("privateKey", set(&c.private_key)),
        ] {
            if !on {
                r.error(
                    &at.key(field),
                    format!("tlsCertificates entry needs {field}"),
                );
            }
        }
    }
}

/// Istio: a CRL file cannot come with `credentialName` (the Secret holds it) nor with SIMPLE
/// (no client certificates to check).
fn crl(r: &mut Report, path: &FieldPath, t: &ServerTlsSettings) {
    if !set(&t.ca_crl) {
        return;
    }
    let at = path.key("caCrl");
    if set(&t.credential_name) || !t.credential_names.is_empty() {
        r.error(
            &at,
            "caCrl cannot be used with credentialName; put ca.crl in the Secret",
        );
    }
    if t.mode == Some(ServerTlsMode::Simple) {
        r.error(
            &at,
            "caCrl has no use with SIMPLE TLS (no client certificates)",
        );
    }
}

/// A string field set to a non-empty value (proto3: empty is unset).
fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

/// The mode as written in YAML.
const fn mode_name(m: ServerTlsMode) -> &'static str {
    match m {
        ServerTlsMode::Passthrough => "PASSTHROUGH",
        ServerTlsMode::Simple => "SIMPLE",
        ServerTlsMode::Mutual => "MUTUAL",
        ServerTlsMode::AutoPassthrough => "AUTO_PASSTHROUGH",
        ServerTlsMode::IstioMutual => "ISTIO_MUTUAL",
        ServerTlsMode::OptionalMutual => "OPTIONAL_MUTUAL",
    }
}

/// The version as written in YAML.
const fn version_name(v: TlsProtocol) -> &'static str {
    match v {
        TlsProtocol::Auto => "TLS_AUTO",
        TlsProtocol::V1_0 => "TLSV1_0",
        TlsProtocol::V1_1 => "TLSV1_1",
        TlsProtocol::V1_2 => "TLSV1_2",
        TlsProtocol::V1_3 => "TLSV1_3",
    }
}
