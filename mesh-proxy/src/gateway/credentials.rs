//! The TLS server configuration of each terminating Gateway server: its certificate and key
//! from the Kubernetes Secret its `credentialName` names (`data`, base64, or `stringData`;
//! `tls.crt`/`tls.key`, or `cert`/`key` in an Opaque Secret), or from `serverCertificate` and
//! `privateKey` files; for MUTUAL and OPTIONAL_MUTUAL, client certificates verified against the
//! CA of the Secret (`ca.crt`, or the `<credentialName>-cacert` Secret) or `caCertificates`.
//! ISTIO_MUTUAL presents this proxy's own mesh identity and requires a mesh client certificate.
//! Which Secret a server uses was decided by mesh-core ([`GatewayTls`]); this reads the bytes.

use std::collections::HashMap;
use std::sync::Arc;

use mesh_core::Mesh;
use mesh_core::resource::{SecretData, Spec};
use mesh_core::route::compile::decode_base64;
use mesh_core::security::gateway_tls::{CertSource, GatewayTls, Termination};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::tls::Identity;

/// The TLS configurations of one port's terminating servers, by server index; a server whose
/// configuration could not be built keeps the reason (its handshakes are refused).
#[derive(Debug, Default)]
pub struct ServerConfigs {
    by_server: HashMap<usize, Result<Arc<rustls::ServerConfig>, String>>,
}

/// Whether client certificates are asked for.
#[derive(Clone, Copy)]
enum Clients {
    None,
    Optional,
    Required,
}

// === impl ServerConfigs ===

impl ServerConfigs {
    /// Builds the configuration of every terminating server of `tls` on `port`.
    pub fn build(mesh: &Mesh, tls: &GatewayTls, port: u16, identity: &Identity) -> Self {
        let mut by_server = HashMap::new();
        for s in tls.servers.iter().filter(|s| s.port == port) {
            let built = match &s.termination {
                Ok(Termination::Simple(src)) => from_source(mesh, src, Clients::None),
                Ok(Termination::Mutual(src)) => from_source(mesh, src, Clients::Required),
                Ok(Termination::OptionalMutual(src)) => from_source(mesh, src, Clients::Optional),
                Ok(Termination::IstioMutual) => identity.server_config().map_err(|e| e.to_string()),
                // Not terminated here, or a credential mesh-core already refused.
                _ => continue,
            };
            by_server.insert(s.index, built);
        }
        ServerConfigs { by_server }
    }

    /// The configuration of server `index`; `Err` says why it is not served.
    pub fn get(&self, index: usize) -> Result<Arc<rustls::ServerConfig>, &str> {
        match self.by_server.get(&index) {
            Some(Ok(cfg)) => Ok(cfg.clone()),
            Some(Err(why)) => Err(why),
            None => Err("the server does not terminate TLS"),
        }
    }

    /// Why server `index` could not be configured, if it could not.
    pub fn error(&self, index: usize) -> Option<&str> {
        match self.by_server.get(&index) {
            Some(Err(why)) => Some(why),
            _ => None,
        }
    }
}

/// One PEM value of a Secret: `data` (base64) wins over `stringData`, as Kubernetes merges
/// them.
pub fn secret_value(secret: &SecretData, key: &str) -> Option<Vec<u8>> {
    match secret.data.get(key) {
        Some(b64) => decode_base64(b64),
        None => secret.string_data.get(key).map(|s| s.clone().into_bytes()),
    }
}

/// The Secret `ns/name` among the snapshot's resources.
fn find_secret<'m>(mesh: &'m Mesh, full: &str) -> Option<&'m SecretData> {
    let (ns, name) = full.split_once('/')?;
    mesh.resources().iter().find_map(|r| match &r.spec {
        Spec::Secret(s) if r.namespace() == ns && r.name() == name => Some(s),
        _ => None,
    })
}

/// The first of `keys` the Secret `ns/name` holds.
fn read(mesh: &Mesh, full: &str, keys: &[&str]) -> Result<Vec<u8>, String> {
    let secret = find_secret(mesh, full).ok_or_else(|| format!("no Secret {full}"))?;
    keys.iter()
        .find_map(|k| secret_value(secret, k))
        .ok_or_else(|| format!("Secret {full} has no usable {}", keys.join(" or ")))
}

fn from_source(
    mesh: &Mesh,
    src: &CertSource,
    clients: Clients,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let (cert, key, ca) = match src {
        CertSource::Credential(c) => {
            let cert = read(mesh, &c.secret, &["tls.crt", "cert"])?;
            let key = read(mesh, &c.secret, &["tls.key", "key"])?;
            let ca = match &c.ca_secret {
                Some(ca) => Some(read(mesh, ca, &["ca.crt", "cacert"])?),
                None => None,
            };
            (cert, key, ca)
        }
        CertSource::Files { certificate, key } => {
            let file = |p: &str| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
            (file(certificate)?, file(key)?, None)
        }
        CertSource::Inline(_) => {
            return Err("inline tlsCertificates are not supported; use credentialName".into());
        }
    };
    config(&cert, &key, ca.as_deref(), clients)
}

/// A server configuration presenting `cert`/`key` (PEM) and, unless `clients` is `None`,
/// verifying client certificates against `ca` (PEM). TLS 1.2 and 1.3, ALPN `h2`, `http/1.1`.
fn config(
    cert: &[u8],
    key: &[u8],
    ca: Option<&[u8]>,
    clients: Clients,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if chain.is_empty() {
        return Err("certificate: no CERTIFICATE block".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match clients {
        Clients::None => builder.with_no_client_auth(),
        Clients::Optional | Clients::Required => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.unwrap_or_default()) {
                let c = c.map_err(|e| format!("client CA: {e}"))?;
                roots.add(c).map_err(|e| format!("client CA: {e}"))?;
            }
            if roots.is_empty() {
                return Err("client CA: no CERTIFICATE block".into());
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match clients {
                Clients::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
