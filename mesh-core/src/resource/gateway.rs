//! Istio `Gateway`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Gateway.spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewaySpec {
    /// Gateway proxies selected by labels.
    pub selector: BTreeMap<String, String>,
    /// Listeners.
    pub servers: Vec<Server>,
}

/// `Server`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    /// Port.
    pub port: Option<Port>,
    /// Bind address.
    pub bind: Option<String>,
    /// Hosts (`ns/host` allowed).
    pub hosts: Vec<String>,
    /// TLS settings.
    pub tls: Option<ServerTlsSettings>,
    /// Default endpoint.
    pub default_endpoint: Option<String>,
    /// Server name.
    pub name: Option<String>,
}

/// `Port`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Port {
    /// Port number.
    pub number: u32,
    /// `HTTP|HTTPS|GRPC|GRPC-WEB|HTTP2|MONGO|TCP|TLS`.
    pub protocol: String,
    /// Port name.
    pub name: String,
    /// Deprecated target port.
    pub target_port: Option<u32>,
}

/// `ServerTLSSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerTlsSettings {
    /// Redirect HTTP to HTTPS (301).
    pub https_redirect: Option<bool>,
    /// Mode.
    pub mode: Option<ServerTlsMode>,
    /// Certificate file.
    pub server_certificate: Option<String>,
    /// Key file.
    pub private_key: Option<String>,
    /// CA file for client certificates.
    pub ca_certificates: Option<String>,
    /// CRL file.
    pub ca_crl: Option<String>,
    /// Secret with the material.
    pub credential_name: Option<String>,
    /// Several secrets (RSA + ECDSA).
    pub credential_names: Vec<String>,
    /// Several inline certificate pairs.
    pub tls_certificates: Vec<TlsCertificate>,
    /// Accepted client SANs.
    pub subject_alt_names: Vec<String>,
    /// Client certificate SPKI pins.
    pub verify_certificate_spki: Vec<String>,
    /// Client certificate hash pins.
    pub verify_certificate_hash: Vec<String>,
    /// Minimum TLS version.
    pub min_protocol_version: Option<TlsProtocol>,
    /// Maximum TLS version.
    pub max_protocol_version: Option<TlsProtocol>,
    /// Cipher suites.
    pub cipher_suites: Vec<String>,
}

/// An inline certificate pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsCertificate {
    /// Certificate file.
    pub server_certificate: Option<String>,
    /// Key file.
    pub private_key: Option<String>,
    /// CA file.
    pub ca_certificates: Option<String>,
}

/// `ServerTLSSettings.TLSmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    /// Forward TLS by SNI.
    Passthrough,
    /// Terminate TLS.
    Simple,
    /// Terminate with client certificates.
    Mutual,
    /// SNI-routed passthrough without a VS.
    AutoPassthrough,
    /// Terminate with the mesh identity.
    IstioMutual,
    /// Client certificate optional.
    OptionalMutual,
}

/// `ServerTLSSettings.TLSProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum TlsProtocol {
    /// Automatic.
    #[serde(rename = "TLS_AUTO")]
    Auto,
    /// TLS 1.0.
    #[serde(rename = "TLSV1_0")]
    V1_0,
    /// TLS 1.1.
    #[serde(rename = "TLSV1_1")]
    V1_1,
    /// TLS 1.2.
    #[serde(rename = "TLSV1_2")]
    V1_2,
    /// TLS 1.3.
    #[serde(rename = "TLSV1_3")]
    V1_3,
}
