//! `credentialName` -> Secret (semantics §8.2): a `kubernetes.io/tls` Secret in the Gateway's
//! namespace with `tls.crt` and `tls.key` (Istio also reads Opaque Secrets holding `tls.crt` /
//! `tls.key` or `cert` / `key`). The CA for MUTUAL comes from `ca.crt` (`cacert`) in the same
//! Secret or from a Secret named `<credentialName>-cacert`.

use crate::model::Mesh;
use crate::resource::{SecretData, Spec};

use super::CertSource;

/// The Secret type Gateways read.
const TLS_TYPE: &str = "kubernetes.io/tls";

/// Istio: the CA of `<name>` may live in a Secret called `<name>-cacert`.
const CA_SUFFIX: &str = "-cacert";

/// A resolved credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// `ns/name` of the Secret holding the certificate and key.
    pub secret: String,
    /// `ns/name` of the Secret holding the client CA, when there is one.
    pub ca_secret: Option<String>,
}

/// Why a `credentialName` cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No Secret of that name in the Gateway's namespace.
    #[error("credentialName {name:?}: no Secret {namespace}/{name} among the loaded resources")]
    Missing {
        /// The Gateway's namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// A Secret of a type Gateways do not read.
    #[error(
        "credentialName {secret}: Secret type {found:?} cannot serve TLS; use {TLS_TYPE} \
         (tls.crt, tls.key)"
    )]
    WrongType {
        /// `ns/name`.
        secret: String,
        /// The type found.
        found: String,
    },
    /// A key the certificate needs is absent.
    #[error("credentialName {secret}: the Secret has no {key}")]
    MissingKey {
        /// `ns/name`.
        secret: String,
        /// The key (`tls.crt`, `tls.key`).
        key: &'static str,
    },
    /// MUTUAL / OPTIONAL_MUTUAL without a CA to check client certificates against.
    #[error(
        "{source_name}: MUTUAL needs a client CA: ca.crt in the Secret, a Secret named \
         <credentialName>-cacert, or caCertificates"
    )]
    MissingCa {
        /// The certificate source, in words.
        source_name: String,
    },
}

fn has(s: &SecretData, key: &str) -> bool {
    s.data.contains_key(key) || s.string_data.contains_key(key)
}

/// Looks `name` up among the Secrets of `namespace`.
pub(super) fn resolve(
    mesh: &Mesh,
    namespace: &str,
    name: &str,
) -> Result<Credential, CredentialError> {
    let find = |n: &str| {
        mesh.resources().iter().find_map(|r| match &r.spec {
            Spec::Secret(s) if r.namespace() == namespace && r.name() == n => Some(s),
            _ => None,
        })
    };
    let secret = find(name).ok_or_else(|| CredentialError::Missing {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })?;
    let full = format!("{namespace}/{name}");
    let ty = secret.secret_type.as_deref().unwrap_or("Opaque");
    let (cert, key, ca) = if has(secret, "tls.crt") || ty == TLS_TYPE {
        ("tls.crt", "tls.key", "ca.crt")
    } else {
        ("cert", "key", "cacert")
    };
    if ty != TLS_TYPE && !(ty == "Opaque" && (has(secret, cert) || has(secret, key))) {
        return Err(CredentialError::WrongType {
            secret: full,
            found: ty.to_owned(),
        });
    }
    for k in [cert, key] {
        if !has(secret, k) {
            return Err(CredentialError::MissingKey {
                secret: full,
                key: k,
            });
        }
    }
    let ca_name = format!("{name}{CA_SUFFIX}");
    let ca_secret = if has(secret, ca) {
        Some(full.clone())
    } else {
        find(&ca_name)
            .filter(|s| has(s, "ca.crt") || has(s, "cacert"))
            .map(|_| format!("{namespace}/{ca_name}"))
    };
    Ok(Credential {
        secret: full,
        ca_secret,
    })
}

/// MUTUAL needs a CA (§8.2): from the credential, or `caCertificates` with files.
pub(super) fn require_ca(
    source: CertSource,
    ca_certificates: Option<&str>,
) -> Result<CertSource, CredentialError> {
    let ok = match &source {
        CertSource::Credential(c) => c.ca_secret.is_some(),
        CertSource::Files { .. } => ca_certificates.is_some_and(|c| !c.is_empty()),
        CertSource::Inline(_) => true,
    };
    if ok {
        Ok(source)
    } else {
        let source_name = match &source {
            CertSource::Credential(c) => format!("credentialName {}", c.secret),
            _ => "serverCertificate".to_owned(),
        };
        Err(CredentialError::MissingCa { source_name })
    }
}
