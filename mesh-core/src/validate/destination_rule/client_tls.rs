//! Upstream TLS settings of a DestinationRule (Istio `ValidateTLS` for `ClientTLSSettings`).

use crate::path::FieldPath;
use crate::resource::{ClientTlsMode, ClientTlsSettings};
use crate::validate::Report;

/// Validates a `tls` block of a traffic policy or port-level entry.
pub(super) fn check_client_tls(r: &mut Report, path: &FieldPath, t: &ClientTlsSettings) {
    let mode = t.mode.unwrap_or(ClientTlsMode::Disable);
    insecure_skip_verify(r, path, t, mode);
    match mode {
        ClientTlsMode::Simple | ClientTlsMode::Mutual if set(&t.credential_name) => {
            credential_exclusive(r, path, t);
        }
        ClientTlsMode::Mutual => {
            for field in [
                ("clientCertificate", &t.client_certificate),
                ("privateKey", &t.private_key),
            ]
            .into_iter()
            .filter_map(|(f, v)| (!set(v)).then_some(f))
            {
                r.error(
                    &path.key(field),
                    format!(
                        "MUTUAL TLS needs {field} (or a credentialName naming a Secret that \
                         holds the client certificate and key)"
                    ),
                );
            }
        }
        ClientTlsMode::Disable | ClientTlsMode::IstioMutual => unused_material(r, path, t, mode),
        ClientTlsMode::Simple => {}
    }
}

/// Istio: with `insecureSkipVerify: true` nothing verifies the server, so CA, credential (SIMPLE)
/// and SAN settings would be silently ignored.
fn insecure_skip_verify(r: &mut Report, path: &FieldPath, t: &ClientTlsSettings, m: ClientTlsMode) {
    if t.insecure_skip_verify != Some(true) {
        return;
    }
    let conflicting = match m {
        ClientTlsMode::Simple => {
            set(&t.ca_certificates) || set(&t.credential_name) || !t.subject_alt_names.is_empty()
        }
        ClientTlsMode::Mutual => set(&t.ca_certificates) || !t.subject_alt_names.is_empty(),
        ClientTlsMode::Disable | ClientTlsMode::IstioMutual => false,
    };
    if conflicting {
        r.error(
            &path.key("insecureSkipVerify"),
            format!(
                "insecureSkipVerify: true cannot be combined with caCertificates, \
                 subjectAltNames{} (they would never be checked)",
                if m == ClientTlsMode::Simple {
                    " or credentialName"
                } else {
                    ""
                }
            ),
        );
    }
}

/// Istio: a `credentialName` Secret carries all material; file paths are not also allowed.
fn credential_exclusive(r: &mut Report, path: &FieldPath, t: &ClientTlsSettings) {
    let files = [
        ("clientCertificate", &t.client_certificate),
        ("privateKey", &t.private_key),
        ("caCertificates", &t.ca_certificates),
        ("caCrl", &t.ca_crl),
    ];
    for (field, _) in files.iter().filter(|(_, v)| set(v)) {
        r.error(
            &path.key(*field),
            format!("{field} cannot be combined with credentialName (the Secret holds it)"),
        );
    }
}

/// DISABLE sends plaintext and ISTIO_MUTUAL uses the mesh certificates: any certificate setting
/// is ignored, which is worth a warning.
fn unused_material(r: &mut Report, path: &FieldPath, t: &ClientTlsSettings, m: ClientTlsMode) {
    let any = [
        &t.client_certificate,
        &t.private_key,
        &t.ca_certificates,
        &t.credential_name,
        &t.ca_crl,
    ]
    .into_iter()
    .any(set);
    if any {
        let (name, why) = match m {
            ClientTlsMode::IstioMutual => ("ISTIO_MUTUAL", "uses the mesh certificates"),
            _ => ("DISABLE", "sends plaintext"),
        };
        let hint = if t.mode.is_none() {
            " (mode defaults to DISABLE; set mode: SIMPLE or MUTUAL)"
        } else {
            ""
        };
        r.warn(
            path,
            format!("tls mode {name} {why}; the certificate settings are ignored{hint}"),
        );
    }
}

/// A string field set to a non-empty value (proto3: empty is unset).
fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}
