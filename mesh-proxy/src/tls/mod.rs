//! This proxy's TLS identity and the inbound mTLS server configuration: the certificate chain
//! and key from the bootstrap's PEM files, client certificates required and verified against
//! the trust bundle (rustls `WebPkiClientVerifier`, which also requires the clientAuth EKU),
//! TLS 1.3 only, ALPN `h2` and `http/1.1`. The peer's identity is the SPIFFE ID of its verified
//! leaf ([`peer_identity`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_core::security::identity::{InvalidSvid, SpiffeId, SvidRole, svid_from_der};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::bootstrap::IdentitySpec;

mod verify;

pub use self::verify::SpiffeServerVerifier;

/// Why the identity cannot be used. Startup fails closed on any of these (a STRICT listener
/// never runs without a trust bundle, security.md §1.5).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {problem}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Our own certificate is not an SVID for the bootstrap's identity.
    #[error("identity.cert: {0}")]
    OwnSvid(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The trust bundle cannot build a client verifier.
    #[error("identity.trustBundle: {0}")]
    Verifier(String),
}

/// The loaded identity: chain, key, roots.
#[derive(Debug)]
pub struct Identity {
    /// Our SPIFFE ID (from our own certificate).
    pub id: SpiffeId,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
}

fn pem_err(path: &Path, problem: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

// === impl Identity ===

impl Identity {
    /// Loads the PEM files and checks that our certificate is an SVID naming `expected`.
    pub fn load(spec: &IdentitySpec, expected: Option<&SpiffeId>) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_file_iter(&spec.cert)
            .map_err(|e| pem_err(&spec.cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err(&spec.cert, e))?;
        let leaf = chain
            .first()
            .ok_or_else(|| pem_err(&spec.cert, "no CERTIFICATE block"))?;
        let id =
            svid_from_der(leaf, SvidRole::Server).map_err(|e| TlsError::OwnSvid(e.to_string()))?;
        if let Some(want) = expected
            && want != &id
        {
            return Err(TlsError::OwnSvid(format!(
                "the certificate names {id}, but the bootstrap workload is {want}"
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&spec.key).map_err(|e| pem_err(&spec.key, e))?;
        let mut roots = RootCertStore::empty();
        let bundle = CertificateDer::pem_file_iter(&spec.trust_bundle)
            .map_err(|e| pem_err(&spec.trust_bundle, e))?;
        for cert in bundle {
            let cert = cert.map_err(|e| pem_err(&spec.trust_bundle, e))?;
            roots
                .add(cert)
                .map_err(|e| pem_err(&spec.trust_bundle, e))?;
        }
        if roots.is_empty() {
            return Err(pem_err(&spec.trust_bundle, "no CERTIFICATE block"));
        }
        Ok(Identity {
            id,
            chain,
            key,
            roots: Arc::new(roots),
        })
    }

    /// The inbound server config: client certificates required and verified, TLS 1.3.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider.clone())
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// A client config presenting our certificate and verifying the server by SPIFFE ID
    /// (`expected`, or any identity the bundle vouches for), not by DNS name: used by tests
    /// and, later, the outbound path.
    pub fn client_config(
        &self,
        expected: Option<SpiffeId>,
    ) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = SpiffeServerVerifier::new(self.roots.clone(), expected, provider.clone());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// The SPIFFE ID of the verified client leaf of an established connection.
pub fn peer_identity(conn: &rustls::ServerConnection) -> Result<SpiffeId, InvalidSvid> {
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or(InvalidSvid::NoUriSan)?;
    svid_from_der(leaf, SvidRole::Client)
}

/// The `x-forwarded-client-cert` value an mTLS connection's requests carry to the local
/// application, as Istio's sidecar sets it (`set_current_client_cert_details` with the URI):
/// `By=<this proxy's SPIFFE ID>;Hash=<hex SHA-256 of the peer's leaf>;URI=<the peer's SPIFFE
/// ID>`. `None` without a peer certificate.
pub fn client_cert_details(
    local: &SpiffeId,
    peer: &SpiffeId,
    conn: &rustls::ServerConnection,
) -> Option<http::HeaderValue> {
    let leaf = conn.peer_certificates()?.first()?;
    use std::fmt::Write as _;
    let hash = ring::digest::digest(&ring::digest::SHA256, leaf);
    let mut value = format!("By={local};Hash=");
    for b in hash.as_ref() {
        let _ = write!(value, "{b:02x}");
    }
    let _ = write!(value, ";URI={peer}");
    http::HeaderValue::try_from(value).ok()
}
