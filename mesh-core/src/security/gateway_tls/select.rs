//! Per-connection server selection (port, then SNI, Envoy filter-chain precedence) and the
//! per-request check on an accepted connection (301 redirect, 421 misdirected, 404).

use std::net::IpAddr;

use crate::model::host::{HostPattern, split_authority};

use super::{CertSource, CompiledServer, CredentialError, Family, GatewayTls, Termination};

/// RFC 6066 §3 / DNS: an SNI host name is at most 253 bytes (255 with a trailing dot).
const MAX_SNI_LEN: usize = 253;

/// How a connection arrived at a gateway port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayTransport<'a> {
    /// No TLS.
    Plaintext,
    /// A TLS ClientHello, with its SNI when the client sent one.
    Tls {
        /// The server name.
        sni: Option<&'a str>,
    },
}

/// Whether the client must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// SIMPLE: none requested.
    NotRequested,
    /// OPTIONAL_MUTUAL: requested, validated when presented.
    Optional,
    /// MUTUAL, ISTIO_MUTUAL: required (handshake fails without one).
    Required,
}

/// The destination an AUTO_PASSTHROUGH SNI names: `outbound_.<port>_.<subset>_.<host>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoPassthroughTarget {
    /// Service port.
    pub port: u16,
    /// Subset (`None` when empty).
    pub subset: Option<String>,
    /// Service host.
    pub host: String,
}

/// A connection the gateway took, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// A plaintext HTTP port: the server is chosen per request, by Host.
    PlaintextHttp {
        /// Port.
        port: u16,
    },
    /// A plaintext opaque (TCP) server: bytes are forwarded.
    Opaque {
        /// Port.
        port: u16,
        /// Server index.
        server: usize,
    },
    /// TLS terminated by the gateway.
    Terminated {
        /// Port.
        port: u16,
        /// Server index the SNI selected.
        server: usize,
        /// The SNI (normalised), if any.
        sni: Option<String>,
        /// Client certificate requirement.
        client_cert: ClientCert,
        /// Certificate source (`None`: the gateway's own workload certificate, ISTIO_MUTUAL).
        certificate: Option<CertSource>,
    },
    /// PASSTHROUGH: TLS forwarded untouched, routed by SNI.
    Passthrough {
        /// Port.
        port: u16,
        /// Server index.
        server: usize,
        /// The SNI, if any.
        sni: Option<String>,
    },
    /// AUTO_PASSTHROUGH: TLS forwarded to the destination the SNI names.
    AutoPassthrough {
        /// Port.
        port: u16,
        /// Server index.
        server: usize,
        /// The destination.
        target: AutoPassthroughTarget,
    },
}

/// Why a connection is refused (closed, or a TLS alert).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// No server on the port.
    #[error("no server listens on port {0}")]
    NoServer(u16),
    /// Plaintext on a TLS port.
    #[error("port {0} serves TLS; a plaintext connection is refused")]
    TlsRequired(u16),
    /// TLS on a plaintext HTTP port.
    #[error("port {0} serves plaintext HTTP; a TLS ClientHello is refused")]
    UnexpectedTls(u16),
    /// An SNI that is not a host name (too long, bad characters, an IP literal).
    #[error("SNI {sni:?} is not a valid host name: {reason}")]
    InvalidSni {
        /// The SNI (truncated to 64 characters).
        sni: String,
        /// Why.
        reason: &'static str,
    },
    /// No server host covers the SNI (and no `*` server takes connections without a match).
    #[error("no server on port {port} takes SNI {sni:?}")]
    NoMatchingServer {
        /// Port.
        port: u16,
        /// The SNI, `None` when absent.
        sni: Option<String>,
    },
    /// The selected server's certificate source cannot be used: the handshake fails.
    #[error("servers[{server}]: {error}")]
    Credential {
        /// Server index.
        server: usize,
        /// Why.
        error: CredentialError,
    },
    /// AUTO_PASSTHROUGH needs an SNI of the form `outbound_.<port>_.<subset>_.<host>`.
    #[error("AUTO_PASSTHROUGH: SNI {0:?} is not outbound_.<port>_.<subset>_.<host>")]
    AutoPassthroughSni(String),
}

/// What happens to one HTTP request on an accepted connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestVerdict {
    /// Route the request with this server's virtual hosts.
    Proceed {
        /// Server index.
        server: usize,
    },
    /// `httpsRedirect`: 301 to the same host and path with scheme https.
    Redirect {
        /// Server index.
        server: usize,
        /// 301.
        status: u16,
        /// `https://host/path?query`.
        location: String,
    },
    /// 421: the Host belongs to another server than the one the connection was accepted under
    /// (security.md §1.2, relaxed SNI host matching).
    Misdirected {
        /// 421.
        status: u16,
        /// Why, in words.
        reason: String,
    },
    /// No server on a plaintext port covers the Host: 404.
    NotFound {
        /// 404.
        status: u16,
    },
    /// The gateway does not read HTTP on this connection (passthrough or opaque TCP).
    NotHttp,
}

// === impl GatewayTls (selection) ===

impl GatewayTls {
    fn on_port(&self, port: u16) -> impl Iterator<Item = &CompiledServer> {
        self.servers.iter().filter(move |s| s.port == port)
    }

    /// The most specific server on `port` whose hosts cover `name` (Envoy filter-chain order:
    /// exact, then the longest wildcard suffix, then `*`); without a name only `*` servers
    /// qualify. Ties go to the first server in `spec.servers`.
    fn best(&self, port: u16, name: Option<&str>) -> Option<&CompiledServer> {
        let mut best: Option<(&CompiledServer, (u8, usize))> = None;
        for s in self.on_port(port) {
            let Some(score) = s.hosts.iter().filter_map(|h| score(&h.host, name)).max() else {
                continue;
            };
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
            }
        }
        best.map(|(s, _)| s)
    }

    /// Accepts (or refuses) a connection on `port`.
    pub fn accept(
        &self,
        port: u16,
        transport: GatewayTransport<'_>,
    ) -> Result<Accepted, ConnectError> {
        let first = self
            .on_port(port)
            .next()
            .ok_or(ConnectError::NoServer(port))?;
        let tls_port = self.on_port(port).any(|s| s.family == Family::Tls);
        let sni = match (transport, tls_port, first.family) {
            (GatewayTransport::Plaintext, true, _) => return Err(ConnectError::TlsRequired(port)),
            (GatewayTransport::Plaintext, false, Family::Http) => {
                return Ok(Accepted::PlaintextHttp { port });
            }
            (GatewayTransport::Tls { .. }, false, Family::Http) => {
                return Err(ConnectError::UnexpectedTls(port));
            }
            (_, false, _) => {
                return Ok(Accepted::Opaque {
                    port,
                    server: first.index,
                });
            }
            (GatewayTransport::Tls { sni }, true, _) => sni.map(normalize_sni).transpose()?,
        };
        let server =
            self.best(port, sni.as_deref())
                .ok_or_else(|| ConnectError::NoMatchingServer {
                    port,
                    sni: sni.clone(),
                })?;
        let termination =
            server
                .termination
                .as_ref()
                .map_err(|error| ConnectError::Credential {
                    server: server.index,
                    error: error.clone(),
                })?;
        let terminated = |client_cert, certificate: Option<&CertSource>| Accepted::Terminated {
            port,
            server: server.index,
            sni: sni.clone(),
            client_cert,
            certificate: certificate.cloned(),
        };
        Ok(match termination {
            Termination::Plaintext => Accepted::Opaque {
                port,
                server: server.index,
            },
            Termination::Passthrough => Accepted::Passthrough {
                port,
                server: server.index,
                sni: sni.clone(),
            },
            Termination::AutoPassthrough => {
                let raw = sni.clone().unwrap_or_default();
                let target =
                    parse_auto_passthrough(&raw).ok_or(ConnectError::AutoPassthroughSni(raw))?;
                Accepted::AutoPassthrough {
                    port,
                    server: server.index,
                    target,
                }
            }
            Termination::Simple(c) => terminated(ClientCert::NotRequested, Some(c)),
            Termination::Mutual(c) => terminated(ClientCert::Required, Some(c)),
            Termination::OptionalMutual(c) => terminated(ClientCert::Optional, Some(c)),
            Termination::IstioMutual => terminated(ClientCert::Required, None),
        })
    }

    /// Judges one request with this authority (`Host` / `:authority`) and path (with query) on
    /// an accepted connection.
    pub fn request(&self, accepted: &Accepted, authority: &str, path: &str) -> RequestVerdict {
        let (host, _) = split_authority(authority);
        let host = (!host.is_empty()).then_some(host.as_ref());
        match accepted {
            Accepted::PlaintextHttp { port } => match self.best(*port, host) {
                None => RequestVerdict::NotFound { status: 404 },
                Some(s) if s.https_redirect => RequestVerdict::Redirect {
                    server: s.index,
                    status: 301,
                    location: format!("https://{}{path}", host.unwrap_or_default()),
                },
                Some(s) => RequestVerdict::Proceed { server: s.index },
            },
            Accepted::Terminated {
                port, server, sni, ..
            } => match self.best(*port, host) {
                Some(s) if s.index == *server => RequestVerdict::Proceed { server: *server },
                other => RequestVerdict::Misdirected {
                    status: 421,
                    reason: format!(
                        "Host {:?} does not belong to servers[{server}], which accepted the \
                         connection (SNI {}){}",
                        host.unwrap_or_default(),
                        sni.as_deref()
                            .map_or("none".to_owned(), |s| format!("{s:?}")),
                        other.map_or(String::new(), |o| format!(
                            "; it is served by servers[{}] and needs its own connection",
                            o.index
                        ))
                    ),
                },
            },
            Accepted::Opaque { .. }
            | Accepted::Passthrough { .. }
            | Accepted::AutoPassthrough { .. } => RequestVerdict::NotHttp,
        }
    }
}

/// How specifically `pattern` covers `name`: exact (2, len) > wildcard (1, suffix len) > `*`
/// (0, 0); `None` when it does not. Without a name only `*` covers.
fn score(pattern: &HostPattern, name: Option<&str>) -> Option<(u8, usize)> {
    match (pattern, name) {
        (HostPattern::Wildcard(s), _) if s.is_empty() => Some((0, 0)),
        (_, None) => None,
        (HostPattern::Exact(e), Some(n)) => (e == n).then_some((2, e.len())),
        (HostPattern::Wildcard(s), Some(n)) => pattern.matches(n).then_some((1, s.len())),
    }
}

/// Lower-cases an SNI, drops one trailing dot, and rejects what is not a DNS host name
/// (security.md T-17, CVE-2024-32475 class: checked before use, never a panic).
fn normalize_sni(sni: &str) -> Result<String, ConnectError> {
    let bad = |reason| ConnectError::InvalidSni {
        sni: sni.chars().take(64).collect(),
        reason,
    };
    let s = sni.strip_suffix('.').unwrap_or(sni).to_ascii_lowercase();
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    if s.len() > MAX_SNI_LEN {
        return Err(bad("it is longer than 253 characters"));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err(bad("RFC 6066 forbids IP literals in SNI"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    };
    if !s.split('.').all(label_ok) {
        return Err(bad("labels are 1-63 letters, digits, '-' or '_'"));
    }
    Ok(s)
}

/// Istio `BuildDNSSrvSubsetKey`: `outbound_.<port>_.<subset>_.<host>` (empty subset allowed).
fn parse_auto_passthrough(sni: &str) -> Option<AutoPassthroughTarget> {
    let rest = sni.strip_prefix("outbound_.")?;
    let (port, rest) = rest.split_once("_.")?;
    let (subset, host) = rest.split_once("_.")?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    (!host.is_empty()).then(|| AutoPassthroughTarget {
        port,
        subset: (!subset.is_empty()).then(|| subset.to_owned()),
        host: host.to_owned(),
    })
}
