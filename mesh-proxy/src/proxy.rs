//! [`run`]: one proxy, from a validated snapshot and a bootstrap to listeners serving until
//! shutdown, then a graceful drain. The listeners are bound by the caller (tests bind
//! 127.0.0.1:0; `mesh-proxy run` binds the bootstrap's addresses).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arc_swap::ArcSwap;
use mesh_core::{InvalidConfig, Mesh};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::bootstrap::Bootstrap;
use crate::drain::DrainController;
use crate::gateway::{GatewayListener, GatewayPort, InvalidGateway};
use crate::inbound::accept::{self, Limits, Serving};
use crate::inbound::{Inbound, InvalidInbound};
use crate::metrics::Metrics;
use crate::outbound::{InvalidOutbound, Outbound};
use crate::reload::{ConfigSource, Watch};
use crate::tls::{Identity, TlsError};

/// What the proxy serves.
#[derive(Debug)]
pub struct ProxyConfig {
    /// The validated resources.
    pub mesh: Mesh,
    /// Who this proxy is and where it listens.
    pub bootstrap: Bootstrap,
    /// Connection limits.
    pub limits: Limits,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub drain_timeout: Duration,
    /// Where `mesh` came from; when set, it is watched and reloaded on change.
    pub source: Option<ConfigSource>,
    /// Seeds the outbound and gateway weighted picks and balancer choices (reproducible
    /// tests); entropy when unset.
    pub outbound_seed: Option<u64>,
}

/// Listeners the caller bound.
#[derive(Debug)]
pub struct Listeners {
    /// Inbound (from other proxies).
    pub inbound: TcpListener,
    /// Admin, when wanted.
    pub admin: Option<TcpListener>,
    /// Outbound (from local applications), when wanted.
    pub outbound: Option<TcpListener>,
    /// One per (Gateway, server port) this proxy serves; empty for a sidecar.
    pub gateways: Vec<GatewayListener>,
}

/// Why the proxy could not start. It never starts half-configured.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The identity files.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The snapshot cannot be served inbound.
    #[error(transparent)]
    Inbound(#[from] InvalidInbound),
    /// The snapshot cannot be served outbound.
    #[error(transparent)]
    Outbound(#[from] InvalidOutbound),
    /// A gateway listener or a bootstrap `gateways` entry names no Gateway server, or the
    /// snapshot cannot serve it.
    #[error(transparent)]
    Gateway(#[from] InvalidGateway),
    /// The bootstrap's workload identity is invalid.
    #[error("the bootstrap workload does not make a SPIFFE ID")]
    Identity,
}

impl ProxyConfig {
    /// A config with the bootstrap's limits (defaults where it sets none) and a 10 s drain.
    pub fn new(mesh: Mesh, bootstrap: Bootstrap) -> Self {
        ProxyConfig {
            mesh,
            limits: Limits::from_bootstrap(&bootstrap),
            bootstrap,
            drain_timeout: Duration::from_secs(10),
            source: None,
            outbound_seed: None,
        }
    }
}

/// The effective snapshot, as `/config_dump` shows it.
fn config_dump(bootstrap: &Bootstrap, mesh: &Mesh, inbound: &Inbound) -> serde_json::Value {
    let resources: Vec<serde_json::Value> = mesh
        .resources()
        .iter()
        .map(|r| r.origin.node.to_json())
        .collect();
    let ports: serde_json::Map<String, serde_json::Value> = inbound
        .mtls
        .ports
        .iter()
        .map(|(p, m)| (p.to_string(), m.mode.to_string().into()))
        .collect();
    serde_json::json!({
        "bootstrap": bootstrap,
        "identity": inbound.id.to_string(),
        "inbound": {
            "workloadPort": inbound.port,
            "mtls": { "mode": inbound.mtls.workload.mode.to_string(), "ports": ports },
        },
        "resources": resources,
    })
}

/// Runs the proxy until `shutdown` resolves, then stops accepting, drains in-flight requests
/// (at most `drain_timeout`) and returns.
pub async fn run(
    listeners: Listeners,
    cfg: ProxyConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let metrics = Metrics::new();
    run_with(listeners, cfg, metrics, shutdown).await
}

/// [`run`] recording into `metrics` (tests read them directly).
pub async fn run_with(
    listeners: Listeners,
    cfg: ProxyConfig,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let expected = cfg.bootstrap.spiffe_id().ok_or(RunError::Identity)?;
    let identity = Arc::new(Identity::load(&cfg.bootstrap.identity, Some(&expected))?);
    let server = identity.server_config()?;
    let (inbound, problems) = Inbound::from_mesh(
        &cfg.mesh,
        cfg.bootstrap.workload(),
        identity.id.clone(),
        cfg.bootstrap.inbound.app,
        metrics.clone(),
    )?;
    for p in &problems {
        tracing::warn!(problem = %p, "AuthorizationPolicy compiled fail-closed");
    }
    let mesh = Arc::new(cfg.mesh);
    let outbound = match &listeners.outbound {
        Some(_) => Some(Arc::new(ArcSwap::from_pointee(Outbound::from_mesh(
            mesh.clone(),
            cfg.bootstrap.workload(),
            &identity,
            metrics.clone(),
            cfg.outbound_seed,
        )?))),
        None => None,
    };
    // Fail closed: every bootstrap `gateways` entry and every gateway listener must name a
    // Gateway server of the snapshot.
    let mut wanted: Vec<(String, u16)> = Vec::new();
    let from_bootstrap = cfg
        .bootstrap
        .gateways
        .iter()
        .flat_map(|g| g.ports.keys().map(|p| (g.gateway.clone(), *p)));
    let from_listeners = listeners
        .gateways
        .iter()
        .map(|l| (l.gateway.clone(), l.port));
    for key in from_bootstrap.chain(from_listeners) {
        if !wanted.contains(&key) {
            wanted.push(key);
        }
    }
    let ns = cfg.bootstrap.workload.namespace.clone();
    let built =
        crate::gateway::build_all(&mesh, &wanted, &identity, &ns, &metrics, cfg.outbound_seed)?;
    let mut gateways = crate::gateway::Slots::new();
    for port in built {
        for line in port.unserved() {
            tracing::error!("{line}");
        }
        let key = (port.gateway.clone(), port.port);
        gateways.insert(key, Arc::new(ArcSwap::from_pointee(port)));
    }
    let state = Arc::new(AdminState {
        metrics: metrics.clone(),
        config_dump: ArcSwap::from_pointee(config_dump(&cfg.bootstrap, &mesh, &inbound)),
        ready: false.into(),
    });
    let serving = Arc::new(ArcSwap::from_pointee(Serving::new(inbound, server.clone())));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin_task = listeners
        .admin
        .map(|l| tokio::spawn(admin::serve(l, state.clone(), stopped(stop_rx.clone()))));
    let watch = match cfg.source.clone().map(Watch::start).transpose() {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch the configuration; hot reload is off");
            None
        }
    };
    let reload_task = watch.map(|watch| {
        let reloader = Reloader {
            bootstrap: cfg.bootstrap.clone(),
            id: identity.id.clone(),
            server: server.clone(),
            serving: serving.clone(),
            state: state.clone(),
            identity: identity.clone(),
            outbound: outbound.clone(),
            outbound_seed: cfg.outbound_seed,
            gateways: gateways.clone(),
        };
        tokio::spawn(async move {
            let apply = move |result| reloader.apply(result);
            watch.run(apply, stopped(stop_rx)).await;
        })
    });
    let graceful = DrainController::new();
    state.ready.store(true, Ordering::Release);
    tracing::info!(
        inbound = ?listeners.inbound.local_addr().ok(),
        identity = %identity.id,
        "mesh-proxy serving"
    );
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let inbound_done = accept::serve(
        listeners.inbound,
        serving,
        cfg.limits,
        &graceful,
        stopped(shutdown_rx.clone()),
    );
    let outbound_done = async {
        if let (Some(l), Some(o)) = (listeners.outbound, outbound) {
            let done = stopped(shutdown_rx.clone());
            crate::outbound::serve::serve(l, o, cfg.limits, &graceful, done).await;
        }
    };
    let gateways_done = futures_join_all(listeners.gateways.into_iter().filter_map(|l| {
        let slot = gateways.get(&(l.gateway.clone(), l.port))?.clone();
        let done = stopped(shutdown_rx.clone());
        let graceful = &graceful;
        let limits = cfg.limits;
        Some(async move {
            crate::gateway::serve::serve(l.listener, slot, limits, graceful, done).await;
        })
    }));
    let signal = async {
        shutdown.await;
        let _ = shutdown_tx.send(true);
    };
    tokio::join!(signal, inbound_done, outbound_done, gateways_done);
    // Drain: no new connections; in-flight requests finish, connections get GOAWAY/close.
    state.ready.store(false, Ordering::Release);
    tracing::info!("draining");
    if tokio::time::timeout(cfg.drain_timeout, graceful.drain())
        .await
        .is_err()
    {
        tracing::warn!("drain timed out; closing the remaining connections");
    }
    let _ = stop_tx.send(true);
    for task in admin_task.into_iter().chain(reload_task) {
        let _ = task.await;
    }
    Ok(())
}

/// Applies reloaded snapshots: a valid one replaces the serving stack and the config dump; an
/// invalid one is logged and counted, and the last good snapshot keeps serving.
struct Reloader {
    bootstrap: Bootstrap,
    id: mesh_core::security::identity::SpiffeId,
    server: Arc<rustls::ServerConfig>,
    serving: Arc<ArcSwap<Serving>>,
    state: Arc<AdminState>,
    identity: Arc<Identity>,
    outbound: Option<Arc<ArcSwap<Outbound>>>,
    outbound_seed: Option<u64>,
    gateways: crate::gateway::Slots,
}

impl Reloader {
    fn apply(&self, result: Result<Mesh, InvalidConfig>) {
        let metrics = &self.state.metrics;
        let mesh = match result {
            Ok(mesh) => mesh,
            Err(invalid) => {
                for d in &invalid.diagnostics {
                    tracing::error!("{}", d.render(&invalid.sources));
                }
                tracing::error!(
                    "configuration change rejected; the last good snapshot keeps serving"
                );
                metrics.reloaded("rejected");
                return;
            }
        };
        let inbound = Inbound::from_mesh(
            &mesh,
            self.bootstrap.workload(),
            self.id.clone(),
            self.bootstrap.inbound.app,
            metrics.clone(),
        );
        let mesh = Arc::new(mesh);
        let outbound = self
            .outbound
            .as_ref()
            .map(|_| {
                Outbound::from_mesh(
                    mesh.clone(),
                    self.bootstrap.workload(),
                    &self.identity,
                    metrics.clone(),
                    self.outbound_seed,
                )
            })
            .transpose();
        let outbound = match outbound {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "configuration change rejected");
                metrics.reloaded("rejected");
                return;
            }
        };
        let mut gateways = Vec::with_capacity(self.gateways.len());
        for ((gateway, port), slot) in &self.gateways {
            match GatewayPort::from_mesh(
                mesh.clone(),
                gateway,
                *port,
                &self.identity,
                &self.bootstrap.workload.namespace,
                metrics.clone(),
                self.outbound_seed,
            ) {
                Ok(new) => gateways.push((slot, new)),
                Err(e) => {
                    tracing::error!(error = %e, "configuration change rejected");
                    metrics.reloaded("rejected");
                    return;
                }
            }
        }
        match inbound {
            Ok((inbound, problems)) => {
                for p in &problems {
                    tracing::warn!(problem = %p, "AuthorizationPolicy compiled fail-closed");
                }
                self.state.config_dump.store(Arc::new(config_dump(
                    &self.bootstrap,
                    &mesh,
                    &inbound,
                )));
                self.serving
                    .store(Arc::new(Serving::new(inbound, self.server.clone())));
                if let (Some(slot), Some(new)) = (&self.outbound, outbound) {
                    slot.store(Arc::new(new));
                }
                for (slot, new) in gateways {
                    for line in new.unserved() {
                        tracing::error!("{line}");
                    }
                    slot.store(Arc::new(new));
                }
                tracing::info!("configuration reloaded");
                metrics.reloaded("applied");
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration change rejected");
                metrics.reloaded("rejected");
            }
        }
    }
}

/// Runs every future to completion, concurrently on this task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
