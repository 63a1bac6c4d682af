//! Secret rules: a `kubernetes.io/tls` Secret must carry a certificate and a key (security
//! C-34: unusable TLS material is rejected at load, not discovered by a failing handshake).
//!
//! Gateways read `kubernetes.io/tls` Secrets (`tls.crt`, `tls.key`, optional `ca.crt`, `ca.crl`)
//! and, like Istio, Opaque Secrets holding the same keys or `cert`/`key`/`cacert`/`crl`. The
//! material is checked for shape (base64, PEM blocks of the right kind), not cryptographically.

mod pem;

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::resource::{Resource, SecretData};

use self::pem::{blocks, decode_base64};
use super::Report;

/// The Secret type Gateways read.
const TLS_TYPE: &str = "kubernetes.io/tls";

/// What a well-known key must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// One or more `CERTIFICATE` blocks.
    Certificate,
    /// An unencrypted private key.
    PrivateKey,
    /// One or more `X509 CRL` blocks.
    Crl,
}

/// The keys mesh reads, in the `kubernetes.io/tls` and Istio generic layouts.
const KNOWN_KEYS: [(&str, Content); 8] = [
    ("tls.crt", Content::Certificate),
    ("tls.key", Content::PrivateKey),
    ("ca.crt", Content::Certificate),
    ("ca.crl", Content::Crl),
    ("cert", Content::Certificate),
    ("key", Content::PrivateKey),
    ("cacert", Content::Certificate),
    ("crl", Content::Crl),
];

/// Private key PEM labels Envoy loads.
const KEY_LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// Every key with the field it came from and its bytes (`None` when they could not be decoded).
type Values = BTreeMap<String, (FieldPath, Option<Vec<u8>>)>;

/// Validates a Secret.
pub fn validate(secret: &SecretData, _res: &Resource, r: &mut Report) {
    let root = FieldPath::root();
    let values = values(r, &root, secret);
    let ty = secret.secret_type.as_deref().unwrap_or("Opaque");
    let known = KNOWN_KEYS.iter().any(|(k, _)| values.contains_key(*k));
    match ty {
        TLS_TYPE => {
            for key in ["tls.crt", "tls.key"] {
                if !values.contains_key(key) {
                    r.error(
                        &root.key("data").key(key),
                        format!("a {TLS_TYPE} Secret needs {key} in data or stringData"),
                    );
                }
            }
        }
        "Opaque" if known => {
            pairs(r, &values);
        }
        _ => {
            let default = if secret.secret_type.is_none() {
                " (the default)"
            } else {
                ""
            };
            r.warn(
                &root.key("type"),
                format!(
                    "Secret type {ty:?}{default} is not used by mesh: Gateways read {TLS_TYPE} \
                     Secrets, or Opaque Secrets with tls.crt/tls.key or cert/key/cacert"
                ),
            );
            return;
        }
    }
    for (key, (at, bytes)) in &values {
        if let (Some(bytes), Some((_, content))) =
            (bytes, KNOWN_KEYS.iter().find(|(k, _)| k == key))
        {
            check_content(r, at, key, bytes, *content);
        }
    }
}

/// Kubernetes: keys are `[-._a-zA-Z0-9]+`; `data` values are base64; `stringData` values are
/// plain and win over `data` for the same key. Returns every key with its decoded value.
fn values(r: &mut Report, root: &FieldPath, secret: &SecretData) -> Values {
    let mut out = Values::new();
    for (field, map, encoded) in [
        ("data", &secret.data, true),
        ("stringData", &secret.string_data, false),
    ] {
        for (k, v) in map {
            let at = root.key(field).key(k.as_str());
            if !is_secret_key(k) {
                r.error(
                    &at,
                    format!(
                        "Secret key {k:?} is invalid: use letters, digits, '-', '_' and '.' \
                         (at most 253)"
                    ),
                );
            }
            let bytes = if encoded {
                decode_base64(v)
                    .map_err(|e| r.error(&at, format!("{field}[{k:?}] is not valid base64: {e}")))
                    .ok()
            } else {
                Some(v.clone().into_bytes())
            };
            out.insert(k.clone(), (at, bytes));
        }
    }
    out
}

/// Istio generic Secrets: a certificate and its key come together.
fn pairs(r: &mut Report, values: &Values) {
    for (cert, key) in [("tls.crt", "tls.key"), ("cert", "key")] {
        let (missing, present) = match (values.get(cert), values.get(key)) {
            (Some((at, _)), None) => (key, at),
            (None, Some((at, _))) => (cert, at),
            _ => continue,
        };
        r.error(
            present,
            format!("{cert} and {key} come as a pair; {missing} is missing"),
        );
    }
}

/// C-34: certificates, keys and CRLs are PEM blocks of the right kind; encrypted keys are
/// rejected because the proxy cannot decrypt them.
fn check_content(r: &mut Report, at: &FieldPath, key: &str, bytes: &[u8], content: Content) {
    let found = match std::str::from_utf8(bytes).map_err(|_| "it is not text".to_owned()) {
        Ok(text) => blocks(text),
        Err(e) => Err(e),
    };
    let found = match found {
        Ok(b) => b,
        Err(e) => {
            r.error(at, format!("{key} is not valid PEM: {e}"));
            return;
        }
    };
    let has = |labels: &[&str]| found.iter().any(|b| labels.contains(&b.label.as_str()));
    let (ok, expected) = match content {
        Content::Certificate => (has(&["CERTIFICATE"]), "-----BEGIN CERTIFICATE-----"),
        Content::Crl => (has(&["X509 CRL"]), "-----BEGIN X509 CRL-----"),
        Content::PrivateKey => {
            let encrypted = has(&["ENCRYPTED PRIVATE KEY"])
                || found
                    .iter()
                    .any(|b| b.headers && KEY_LABELS.contains(&b.label.as_str()));
            if encrypted {
                r.error(
                    at,
                    format!(
                        "{key} holds an encrypted private key, which the proxy cannot use; \
                         store it unencrypted"
                    ),
                );
                return;
            }
            (
                has(&KEY_LABELS),
                "-----BEGIN PRIVATE KEY----- (or RSA PRIVATE KEY, EC PRIVATE KEY)",
            )
        }
    };
    if !ok {
        let what = match content {
            Content::Certificate => "a PEM certificate",
            Content::PrivateKey => "a PEM private key",
            Content::Crl => "a PEM certificate revocation list",
        };
        r.error(
            at,
            format!("{key} does not hold {what} (expected {expected})"),
        );
    }
}

/// Kubernetes `IsConfigMapKey`.
fn is_secret_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests;
