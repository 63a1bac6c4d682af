//! The gateway direction: one listener per (Gateway, server port) of the bootstrap's
//! `gateways`, serving Istio Gateway servers to clients outside the mesh.
//!
//! mesh-core decides; this module assembles. Per connection, [`GatewayTls`] takes or refuses
//! it (plaintext HTTP on an HTTP port; on a TLS port the ClientHello's SNI picks the server,
//! whose certificate comes from the Secret its `credentialName` names, [`credentials`]); per
//! request, it answers `301` under `httpsRedirect`, `421` when the Host belongs to another
//! server than the one the SNI selected, `404` when no server on a plaintext port covers it.
//! Every other request goes through [`MeshLayer::try_gateway`] (the VirtualServices bound to
//! the Gateway, then faults, mirrors, timeouts, retries and clusters) to the registry's
//! endpoints, reached like the outbound side reaches them (plaintext, or mTLS presenting this
//! proxy's identity to `security.istio.io/tlsMode: istio` endpoints).
//!
//! The stack, outermost first: `request id → metrics (reporter="source") → connection check
//! (301/421/404) → errors → MeshLayer → endpoint`. A server whose certificate cannot be used
//! (a missing Secret, unusable PEM) or that this proxy cannot serve (PASSTHROUGH,
//! AUTO_PASSTHROUGH, opaque TCP, inline `tlsCertificates`) is not served, as in Istio:
//! connections it would take are refused at the handshake, and the reason is logged at start.

pub mod credentials;
pub mod serve;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use mesh_core::Mesh;
use mesh_core::layer::mesh::{InvalidMesh, MeshLayer};
use mesh_core::security::gateway_tls::{
    Accepted, Family, GatewayTls, InvalidGatewayTls, RequestVerdict, Termination,
};
use tokio::net::TcpListener;

use self::credentials::ServerConfigs;
use crate::body::Body;
use crate::inbound::ResponseFlags;
use crate::metrics::Metrics;
use crate::outbound::endpoint::Connect;
use crate::outbound::{mesh_stack, source_labels};
use crate::stack::HttpService;
use crate::tls::{Identity, TlsError};

/// A listener the caller bound for one server port of one Gateway.
#[derive(Debug)]
pub struct GatewayListener {
    /// `namespace/name` of the Gateway resource.
    pub gateway: String,
    /// The Gateway server port this listener serves (`servers[].port.number`).
    pub port: u16,
    /// The bound socket.
    pub listener: TcpListener,
}

/// Why a snapshot cannot serve a gateway listener. The proxy does not start (or a reload is
/// rejected) on any of these.
#[derive(Debug, thiserror::Error)]
pub enum InvalidGateway {
    /// The Gateway is not among the resources, or has no server on the port.
    #[error(
        "gateway {gateway} port {port}: no such Gateway server among the loaded resources \
         (gateways[].gateway must name a Gateway as namespace/name, and ports its server ports)"
    )]
    UnknownServer {
        /// `ns/name`.
        gateway: String,
        /// The port.
        port: u16,
    },
    /// The Gateway's servers cannot be compiled.
    #[error("gateway {0}")]
    Tls(#[from] InvalidGatewayTls),
    /// A route bound to the Gateway carries a policy MeshLayer cannot enforce.
    #[error("gateway {gateway} port {port}: {source}")]
    Mesh {
        /// `ns/name`.
        gateway: String,
        /// The port.
        port: u16,
        /// What MeshLayer refused.
        source: InvalidMesh,
    },
    /// A client TLS configuration for the endpoints could not be built.
    #[error("gateway: {0}")]
    Endpoints(#[from] TlsError),
}

/// One gateway listener's view of one snapshot; swapped whole on reload.
pub struct GatewayPort {
    /// `ns/name` of the Gateway.
    pub gateway: String,
    /// The server port.
    pub port: u16,
    /// The compiled servers of the Gateway (connection and request decisions).
    pub tls: Arc<GatewayTls>,
    /// TLS server configurations of the terminating servers on this port.
    pub configs: ServerConfigs,
    /// The per-request stack.
    pub stack: HttpService,
    /// Where refused connections are counted.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for GatewayPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayPort")
            .field("gateway", &self.gateway)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The connection a request arrived on, as a request extension: how the Gateway took it, on
/// the snapshot current at accept.
#[derive(Clone, Debug)]
pub struct GatewayConnection {
    /// The compiled servers the connection was accepted by.
    pub tls: Arc<GatewayTls>,
    /// How it was accepted (plaintext HTTP port, or the server the SNI selected).
    pub accepted: Accepted,
}

// === impl GatewayPort ===

impl GatewayPort {
    /// Builds the listener of `gateway`'s server port `port` on `mesh`. `identity` is this
    /// proxy's (presented to mTLS endpoints and on ISTIO_MUTUAL servers); `namespace` is its
    /// workload's (the `source_workload_namespace` label); `seed` makes weighted picks
    /// reproducible (tests).
    pub fn from_mesh(
        mesh: Arc<Mesh>,
        gateway: &str,
        port: u16,
        identity: &Identity,
        namespace: &str,
        metrics: Arc<Metrics>,
        seed: Option<u64>,
    ) -> Result<Self, InvalidGateway> {
        let unknown = || InvalidGateway::UnknownServer {
            gateway: gateway.to_owned(),
            port,
        };
        let tls = match GatewayTls::from_mesh(&mesh, gateway) {
            Ok(t) => t,
            Err(InvalidGatewayTls::UnknownGateway(_)) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        if !tls.servers.iter().any(|s| s.port == port) {
            return Err(unknown());
        }
        let configs = ServerConfigs::build(&mesh, &tls, port, identity);
        let layer = MeshLayer::try_gateway(mesh.clone(), gateway, port).map_err(|source| {
            InvalidGateway::Mesh {
                gateway: gateway.to_owned(),
                port,
                source,
            }
        })?;
        let connect = Connect::new(&mesh, identity, Duration::from_secs(10))?;
        let labels = source_labels(identity, namespace);
        let stack = mesh_stack(layer, connect, labels, metrics.clone(), seed, check);
        Ok(GatewayPort {
            gateway: gateway.to_owned(),
            port,
            tls: Arc::new(tls),
            configs,
            stack,
            metrics,
        })
    }

    /// Why servers on this port will not be served, one line each (logged at start and on
    /// reload).
    pub fn unserved(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.tls.servers.iter().filter(|s| s.port == self.port) {
            let why = match (&s.termination, s.family) {
                (Err(e), _) => Some(e.to_string()),
                (Ok(Termination::Plaintext), Family::Http) => None,
                (Ok(Termination::Plaintext), _) => Some("opaque TCP is not served".to_owned()),
                (Ok(Termination::Passthrough | Termination::AutoPassthrough), _) => {
                    Some("TLS passthrough is not served".to_owned())
                }
                (Ok(_), _) => self.configs.error(s.index).map(str::to_owned),
            };
            if let Some(why) = why {
                out.push(format!(
                    "gateway {} servers[{}] ({}) on port {}: {why}; the server is not served",
                    self.gateway, s.index, s.name, self.port
                ));
            }
        }
        out
    }
}

/// Builds the listeners of every (Gateway, port) in `wanted` on one snapshot.
pub fn build_all(
    mesh: &Arc<Mesh>,
    wanted: &[(String, u16)],
    identity: &Identity,
    namespace: &str,
    metrics: &Arc<Metrics>,
    seed: Option<u64>,
) -> Result<Vec<GatewayPort>, InvalidGateway> {
    wanted
        .iter()
        .map(|(g, p)| {
            GatewayPort::from_mesh(
                mesh.clone(),
                g,
                *p,
                identity,
                namespace,
                metrics.clone(),
                seed,
            )
        })
        .collect()
}

/// The engine's verdict on one request, on the connection it arrived on: `None` lets it
/// through to MeshLayer.
fn check(req: &Request<Body>) -> Option<Response<Body>> {
    let Some(conn) = req.extensions().get::<GatewayConnection>() else {
        // Not from a gateway listener: nothing to check (never the case in this stack).
        return Some(local(
            StatusCode::MISDIRECTED_REQUEST,
            "no gateway connection",
        ));
    };
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers().get(header::HOST)?.to_str().ok())
        .unwrap_or("");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    match conn.tls.request(&conn.accepted, authority, path) {
        RequestVerdict::Proceed { .. } => None,
        RequestVerdict::Redirect {
            status, location, ..
        } => {
            let mut rsp = local(status_of(status), "");
            match header::HeaderValue::try_from(location) {
                Ok(v) => {
                    rsp.headers_mut().insert(header::LOCATION, v);
                    Some(rsp)
                }
                Err(_) => Some(local(StatusCode::BAD_REQUEST, "invalid host")),
            }
        }
        RequestVerdict::Misdirected { status, reason } => {
            tracing::debug!(%reason, "gateway: misdirected request");
            Some(local(status_of(status), "misdirected request"))
        }
        RequestVerdict::NotFound { status } => {
            let mut rsp = local(status_of(status), "");
            rsp.extensions_mut()
                .insert(ResponseFlags(mesh_core::layer::mesh::NO_ROUTE));
            Some(rsp)
        }
        RequestVerdict::NotHttp => Some(local(StatusCode::MISDIRECTED_REQUEST, "not HTTP")),
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn local(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut rsp = Response::new(Body::from(body));
    *rsp.status_mut() = status;
    if !body.is_empty() {
        rsp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain"),
        );
    }
    rsp
}

/// (Gateway, port) pairs served on a snapshot, keyed for lookups by the reloader.
pub(crate) type Slots = HashMap<(String, u16), Arc<arc_swap::ArcSwap<GatewayPort>>>;

#[cfg(test)]
mod tests;
