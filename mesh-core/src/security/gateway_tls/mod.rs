//! Gateway TLS decisions (semantics §8, security.md §1.2): which server of a Gateway takes a
//! connection (port, then SNI), how it treats TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL,
//! ISTIO_MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH), where its certificate comes from
//! (`credentialName` -> a `kubernetes.io/tls` Secret), and what happens to each request on that
//! connection: 301 to https under `httpsRedirect`, 421 when the Host belongs to another server
//! than the one the connection was accepted under.

mod credential;
mod select;

use crate::model::host::HostPattern;
use crate::model::{GatewayEntry, Mesh};
use crate::resource::{Server, ServerTlsMode};

pub use self::credential::{Credential, CredentialError};
pub use self::select::{
    Accepted, AutoPassthroughTarget, ClientCert, ConnectError, GatewayTransport, RequestVerdict,
};

/// The listener family of a server's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `HTTP`, `HTTP2`, `GRPC`, `GRPC-WEB`: plaintext HTTP; servers on a port share one listener.
    Http,
    /// `HTTPS`, `TLS`: TLS, servers on a port told apart by SNI.
    Tls,
    /// Anything else (`TCP`, `MONGO`, ...): opaque bytes.
    Opaque,
}

/// The `namespace/` part of a server host: which VirtualServices may bind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostNamespace {
    /// `*/` or no namespace part: any namespace.
    Any,
    /// `./`: the Gateway's own namespace.
    Own,
    /// `ns/`: that namespace.
    Named(String),
}

/// One server host, `[namespace/]dnsName`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerHost {
    /// The namespace part.
    pub namespace: HostNamespace,
    /// The DNS part.
    pub host: HostPattern,
}

/// Where a terminating server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertSource {
    /// `credentialName` (or the first of `credentialNames`, all of which resolve), resolved
    /// to a Secret.
    Credential(Credential),
    /// `serverCertificate` + `privateKey` files.
    Files {
        /// Certificate path.
        certificate: String,
        /// Key path.
        key: String,
    },
    /// `tlsCertificates`: inline pairs.
    Inline(usize),
}

/// How a server treats TLS (§8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Termination {
    /// A plaintext server (HTTP family without TLS, or opaque TCP).
    Plaintext,
    /// `PASSTHROUGH` (also the default when `tls` has no mode): not terminated, routed by SNI.
    Passthrough,
    /// `AUTO_PASSTHROUGH`: not terminated, destination read from the SNI.
    AutoPassthrough,
    /// `SIMPLE`: terminated, no client certificate requested.
    Simple(CertSource),
    /// `MUTUAL`: terminated, client certificate required.
    Mutual(CertSource),
    /// `OPTIONAL_MUTUAL`: terminated, client certificate validated if presented.
    OptionalMutual(CertSource),
    /// `ISTIO_MUTUAL`: terminated with the gateway's workload certificate; mesh client
    /// certificate required.
    IstioMutual,
}

/// One compiled server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledServer {
    /// Index in `spec.servers`.
    pub index: usize,
    /// `name`, or the port name.
    pub name: String,
    /// Port number.
    pub port: u16,
    /// Protocol family.
    pub family: Family,
    /// Hosts.
    pub hosts: Vec<ServerHost>,
    /// `tls.httpsRedirect`.
    pub https_redirect: bool,
    /// TLS handling; `Err` when the certificate source cannot be used (connections that land on
    /// this server fail the handshake: fail closed).
    pub termination: Result<Termination, CredentialError>,
}

/// The servers of one Gateway, ready to accept connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayTls {
    /// `ns/name`.
    pub gateway: String,
    /// The Gateway's namespace (where its Secrets live).
    pub namespace: String,
    /// Servers in `spec.servers` order.
    pub servers: Vec<CompiledServer>,
}

/// A Gateway the engine cannot build.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGatewayTls {
    /// No Gateway `ns/name` among the loaded resources.
    #[error("gateway {0:?} is not among the loaded resources")]
    UnknownGateway(String),
    /// A server without a port, or with a port outside `1..=65535`.
    #[error("gateway {gateway}: servers[{server}] has no usable port")]
    Port {
        /// `ns/name`.
        gateway: String,
        /// Server index.
        server: usize,
    },
}

// === impl Family ===

impl Family {
    /// The family of a `port.protocol` (case-insensitive, as Istio parses it).
    pub fn of(protocol: &str) -> Family {
        match protocol.to_ascii_uppercase().as_str() {
            "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB" => Family::Http,
            "HTTPS" | "TLS" => Family::Tls,
            _ => Family::Opaque,
        }
    }
}

// === impl ServerHost ===

impl ServerHost {
    /// Parses `[namespace/]dnsName`.
    pub fn parse(s: &str) -> ServerHost {
        let (ns, host) = s.split_once('/').unwrap_or(("*", s));
        let namespace = match ns {
            "*" => HostNamespace::Any,
            "." => HostNamespace::Own,
            n => HostNamespace::Named(n.to_owned()),
        };
        ServerHost {
            namespace,
            host: HostPattern::new(host.trim_end_matches('.')),
        }
    }

    /// May a VirtualService in `vs_namespace` bind to this host of a Gateway in
    /// `gateway_namespace`?
    pub fn admits(&self, vs_namespace: &str, gateway_namespace: &str) -> bool {
        match &self.namespace {
            HostNamespace::Any => true,
            HostNamespace::Own => vs_namespace == gateway_namespace,
            HostNamespace::Named(n) => n == vs_namespace,
        }
    }
}

// === impl GatewayTls ===

impl GatewayTls {
    /// Compiles Gateway `ns/name` of a snapshot, resolving `credentialName`s against its
    /// Secrets.
    pub fn from_mesh(mesh: &Mesh, gateway: &str) -> Result<Self, InvalidGatewayTls> {
        let entry = mesh
            .gateways()
            .iter()
            .find(|g| g.name == gateway)
            .ok_or_else(|| InvalidGatewayTls::UnknownGateway(gateway.to_owned()))?;
        Self::compile(entry, |name| {
            credential::resolve(mesh, &entry.namespace, name)
        })
    }

    /// Compiles a Gateway with a resolver for `credentialName`s (the Secret lookup).
    pub fn compile(
        entry: &GatewayEntry,
        mut resolve: impl FnMut(&str) -> Result<Credential, CredentialError>,
    ) -> Result<Self, InvalidGatewayTls> {
        let mut servers = Vec::with_capacity(entry.spec.servers.len());
        for (index, s) in entry.spec.servers.iter().enumerate() {
            servers.push(compile_server(entry, index, s, &mut resolve)?);
        }
        Ok(GatewayTls {
            gateway: entry.name.clone(),
            namespace: entry.namespace.clone(),
            servers,
        })
    }

    /// Servers whose certificate source cannot be used, for load-time reporting.
    pub fn credential_errors(&self) -> impl Iterator<Item = (&CompiledServer, &CredentialError)> {
        self.servers
            .iter()
            .filter_map(|s| s.termination.as_ref().err().map(|e| (s, e)))
    }
}

fn compile_server(
    entry: &GatewayEntry,
    index: usize,
    s: &Server,
    resolve: &mut impl FnMut(&str) -> Result<Credential, CredentialError>,
) -> Result<CompiledServer, InvalidGatewayTls> {
    let port = s
        .port
        .as_ref()
        .and_then(|p| u16::try_from(p.number).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| InvalidGatewayTls::Port {
            gateway: entry.name.clone(),
            server: index,
        })?;
    let protocol = s.port.as_ref().map_or("", |p| p.protocol.as_str());
    let family = Family::of(protocol);
    let tls = s.tls.as_ref();
    let https_redirect = tls.and_then(|t| t.https_redirect) == Some(true);
    let termination = match (family, tls) {
        // A plain HTTP server's `tls` can only carry httpsRedirect (validation).
        (Family::Http | Family::Opaque, _) | (Family::Tls, None) => Ok(Termination::Plaintext),
        (Family::Tls, Some(t)) => {
            let mut source = || -> Result<CertSource, CredentialError> {
                if let Some(name) = t.credential_name.as_deref().filter(|n| !n.is_empty()) {
                    return Ok(CertSource::Credential(resolve(name)?));
                }
                // `credentialNames` (an RSA and an ECDSA pair): every one must resolve; the
                // first is reported.
                if !t.credential_names.is_empty() {
                    let mut all = t.credential_names.iter().map(|n| resolve(n));
                    let first = all.next().transpose()?;
                    all.try_for_each(|r| r.map(drop))?;
                    if let Some(c) = first {
                        return Ok(CertSource::Credential(c));
                    }
                }
                if !t.tls_certificates.is_empty() {
                    return Ok(CertSource::Inline(t.tls_certificates.len()));
                }
                Ok(CertSource::Files {
                    certificate: t.server_certificate.clone().unwrap_or_default(),
                    key: t.private_key.clone().unwrap_or_default(),
                })
            };
            // §8.2: the mode defaults to PASSTHROUGH (proto value 0), even with a credential.
            match t.mode.unwrap_or(ServerTlsMode::Passthrough) {
                ServerTlsMode::Passthrough => Ok(Termination::Passthrough),
                ServerTlsMode::AutoPassthrough => Ok(Termination::AutoPassthrough),
                ServerTlsMode::IstioMutual => Ok(Termination::IstioMutual),
                ServerTlsMode::Simple => source().map(Termination::Simple),
                ServerTlsMode::Mutual => source()
                    .and_then(|c| credential::require_ca(c, t.ca_certificates.as_deref()))
                    .map(Termination::Mutual),
                ServerTlsMode::OptionalMutual => source()
                    .and_then(|c| credential::require_ca(c, t.ca_certificates.as_deref()))
                    .map(Termination::OptionalMutual),
            }
        }
    };
    let name = s
        .name
        .clone()
        .or_else(|| s.port.as_ref().map(|p| p.name.clone()))
        .unwrap_or_default();
    Ok(CompiledServer {
        index,
        name,
        port,
        family,
        hosts: s.hosts.iter().map(|h| ServerHost::parse(h)).collect(),
        https_redirect,
        termination,
    })
}

#[cfg(test)]
mod tests;
