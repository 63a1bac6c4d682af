//! X509-SVID: the SPIFFE ID of a DER certificate (SPIFFE X509-SVID spec §2, §4; security.md
//! T-07, T-08, T-10). Only the identity is read here; chain building and signature checks are
//! the TLS stack's job (rustls with a SPIFFE verifier).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::{InvalidSpiffeId, SpiffeId};

/// Which side of the handshake presented the certificate: it decides the extended key usage
/// the leaf must allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvidRole {
    /// A client certificate (inbound mTLS): needs `clientAuth` when EKU is present.
    Client,
    /// A server certificate (outbound mTLS): needs `serverAuth` when EKU is present.
    Server,
}

/// Why a certificate does not carry a usable SPIFFE identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSvid {
    /// Not a DER X.509 certificate, or bytes after it.
    #[error("the certificate is not valid DER X.509: {0}")]
    Der(String),
    /// An extension the identity depends on is malformed or repeated.
    #[error("the certificate's {0} extension is malformed or repeated")]
    Extension(&'static str),
    /// No URI SAN at all.
    #[error("the certificate has no URI subject alternative name (an X509-SVID has exactly one)")]
    NoUriSan,
    /// SPIFFE X509-SVID §2: validators must reject more than one URI SAN.
    #[error("the certificate has {0} URI subject alternative names; an X509-SVID has exactly one")]
    MultipleUriSans(usize),
    /// A URI SAN that is not text (invalid IA5String).
    #[error("a URI subject alternative name is not valid text")]
    UnreadableUriSan,
    /// The URI SAN is not an Istio SPIFFE ID (NUL, bad trust domain, wrong path, ...).
    #[error("the URI subject alternative name is not a valid SPIFFE ID: {0}")]
    SpiffeId(#[from] InvalidSpiffeId),
    /// X509-SVID §4.1: a leaf SVID has `CA:FALSE` (T-10).
    #[error("the certificate is a CA (basicConstraints CA:TRUE); a leaf SVID must not be")]
    IsCa,
    /// The EKU extension does not allow this use (T-08, CVE-2022-21657).
    #[error("the certificate's extended key usage does not include {0}")]
    KeyUsage(&'static str),
}

/// The SPIFFE ID of a leaf certificate presented as `role`: exactly one URI SAN, a valid Istio
/// SPIFFE ID, not a CA, and an extended key usage (when present) that allows the role.
pub fn svid_from_der(der: &[u8], role: SvidRole) -> Result<SpiffeId, InvalidSvid> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| InvalidSvid::Der(e.to_string()))?;
    if !rest.is_empty() {
        return Err(InvalidSvid::Der(format!(
            "{} bytes follow the certificate",
            rest.len()
        )));
    }
    let bc = cert
        .basic_constraints()
        .map_err(|_| InvalidSvid::Extension("basicConstraints"))?;
    if bc.is_some_and(|b| b.value.ca) {
        return Err(InvalidSvid::IsCa);
    }
    let eku = cert
        .extended_key_usage()
        .map_err(|_| InvalidSvid::Extension("extendedKeyUsage"))?;
    if let Some(eku) = eku {
        let (ok, name) = match role {
            SvidRole::Client => (eku.value.client_auth, "clientAuth"),
            SvidRole::Server => (eku.value.server_auth, "serverAuth"),
        };
        if !(ok || eku.value.any) {
            return Err(InvalidSvid::KeyUsage(name));
        }
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|_| InvalidSvid::Extension("subjectAltName"))?;
    let names = san.map(|s| s.value.general_names.as_slice()).unwrap_or(&[]);
    // Tag 6 is uniformResourceIdentifier: an unreadable one still counts (and fails).
    let uris: Vec<&GeneralName<'_>> = names.iter().filter(|n| is_uri(n)).collect();
    match uris.as_slice() {
        [] => Err(InvalidSvid::NoUriSan),
        [GeneralName::URI(uri)] => Ok(SpiffeId::parse(uri)?),
        [_] => Err(InvalidSvid::UnreadableUriSan),
        many => Err(InvalidSvid::MultipleUriSans(many.len())),
    }
}

/// `uniformResourceIdentifier` (context tag 6), readable or not.
fn is_uri(name: &GeneralName<'_>) -> bool {
    match name {
        GeneralName::URI(_) => true,
        GeneralName::Invalid(tag, _) => tag.0 == 6,
        _ => false,
    }
}
