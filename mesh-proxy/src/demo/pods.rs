//! The demo's workloads: what each is (name, service account, labels, whether its
//! application fails, which listeners its proxy has), and starting one proxy
//! ([`crate::run_with`]) per workload on listeners bound to 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::DemoError;
use super::apps::{App, Behaviour};
use super::config;
use crate::bootstrap::{
    AdminSpec, Bootstrap, IdentitySpec, InboundSpec, OutboundSpec, WorkloadSpec,
};
use crate::gateway::GatewayListener;
use crate::metrics::Metrics;
use crate::{Listeners, ProxyConfig, RunError};

/// One workload: its application and its sidecar.
#[derive(Debug)]
pub struct Pod {
    /// The pod name.
    pub name: &'static str,
    /// The application behind the sidecar.
    pub app: App,
    /// The sidecar's inbound listener (mTLS from other sidecars).
    pub inbound: SocketAddr,
    /// The sidecar's outbound listener, for pods whose application sends requests.
    pub outbound: Option<SocketAddr>,
    /// The sidecar's admin listener (`/metrics`, `/config_dump`, `/ready`).
    pub admin: SocketAddr,
    /// The ingress gateway's listeners: (Gateway server port, address).
    pub gateway: Vec<(u16, SocketAddr)>,
    /// The sidecar's metrics.
    pub metrics: Arc<Metrics>,
    task: Option<JoinHandle<Result<(), RunError>>>,
}

/// What a workload is.
pub struct Spec {
    /// The pod name.
    pub name: &'static str,
    /// Its service account (the SPIFFE ID's `sa`).
    pub service_account: &'static str,
    labels: &'static [(&'static str, &'static str)],
    behaviour: Behaviour,
    outbound: bool,
    gateway: bool,
}

/// The demo's workloads, in the order their proxies start.
pub const SPECS: [Spec; 7] = [
    Spec {
        name: "myapp-v1",
        service_account: "myapp",
        labels: &[("app", "myapp"), ("version", "v1")],
        behaviour: Behaviour::Ok,
        outbound: false,
        gateway: false,
    },
    Spec {
        name: "myapp-v2",
        service_account: "myapp",
        labels: &[("app", "myapp"), ("version", "v2")],
        behaviour: Behaviour::Ok,
        outbound: false,
        gateway: false,
    },
    Spec {
        name: "myapp-v1-failing",
        service_account: "myapp",
        labels: &[("app", "myapp"), ("version", "v1")],
        behaviour: Behaviour::Fail,
        outbound: false,
        gateway: false,
    },
    Spec {
        name: "legacy-service",
        service_account: "legacy",
        labels: &[("app", "legacy-service")],
        behaviour: Behaviour::Ok,
        outbound: false,
        gateway: false,
    },
    Spec {
        name: "frontend",
        service_account: "frontend",
        labels: &[("app", "frontend")],
        behaviour: Behaviour::Ok,
        outbound: true,
        gateway: false,
    },
    Spec {
        name: "other",
        service_account: "other",
        labels: &[("app", "other")],
        behaviour: Behaviour::Ok,
        outbound: true,
        gateway: false,
    },
    // The ingress gateway's service account is the one myapp's AuthorizationPolicy allows
    // besides frontend.
    Spec {
        name: "istio-ingressgateway",
        service_account: "api-gateway",
        labels: &[("istio", "ingressgateway")],
        behaviour: Behaviour::Ok,
        outbound: false,
        gateway: true,
    },
];

/// A workload's application and its proxy's listeners, bound before the registry is written.
#[derive(Debug)]
pub struct Bound {
    app: App,
    /// The inbound listener (the registry's endpoint address).
    pub inbound: TcpListener,
    admin: TcpListener,
    outbound: Option<TcpListener>,
    gateway: Vec<GatewayListener>,
}

// === impl Bound ===

impl Bound {
    /// Starts `spec`'s application and binds its proxy's listeners.
    pub async fn bind(spec: &Spec, stopped: watch::Receiver<bool>) -> Result<Bound, DemoError> {
        let app = App::start(spec.name, spec.behaviour, stopped)
            .await
            .map_err(|e| DemoError::io("an application's listener", e))?;
        let outbound = if spec.outbound {
            Some(bind().await?)
        } else {
            None
        };
        let mut gateway = Vec::new();
        if spec.gateway {
            for port in [80, 443] {
                gateway.push(GatewayListener {
                    gateway: config::GATEWAY.into(),
                    port,
                    listener: bind().await?,
                });
            }
        }
        Ok(Bound {
            app,
            inbound: bind().await?,
            admin: bind().await?,
            outbound,
            gateway,
        })
    }
}

/// `spec`'s bootstrap: its workload, the listeners it was given and `identity`.
pub fn bootstrap(
    spec: &Spec,
    bound: &Bound,
    identity: IdentitySpec,
) -> Result<Bootstrap, DemoError> {
    Ok(Bootstrap {
        workload: WorkloadSpec {
            name: spec.name.into(),
            namespace: config::NAMESPACE.into(),
            service_account: spec.service_account.into(),
            labels: spec
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        inbound: InboundSpec {
            listen: local(&bound.inbound)?,
            app: bound.app.addr,
        },
        outbound: match &bound.outbound {
            Some(l) => Some(OutboundSpec { listen: local(l)? }),
            None => None,
        },
        gateways: Vec::new(),
        identity,
        admin: Some(AdminSpec {
            listen: local(&bound.admin)?,
        }),
        limits: None,
    })
}

// === impl Pod ===

impl Pod {
    /// Spawns the proxy on `bound`'s listeners; it serves until `stopped` turns true.
    pub fn start(
        name: &'static str,
        bound: Bound,
        cfg: ProxyConfig,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<Pod, DemoError> {
        let metrics = Metrics::new();
        let gateway = bound
            .gateway
            .iter()
            .map(|g| Ok((g.port, local(&g.listener)?)))
            .collect::<Result<_, DemoError>>()?;
        let (inbound, outbound, admin) = (
            local(&bound.inbound)?,
            bound.outbound.as_ref().map(local).transpose()?,
            local(&bound.admin)?,
        );
        let listeners = Listeners {
            inbound: bound.inbound,
            admin: Some(bound.admin),
            outbound: bound.outbound,
            gateways: bound.gateway,
        };
        let task = tokio::spawn(crate::run_with(
            listeners,
            cfg,
            metrics.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        Ok(Pod {
            name,
            app: bound.app,
            inbound,
            outbound,
            admin,
            gateway,
            metrics,
            task: Some(task),
        })
    }

    /// Why the proxy stopped, if it did (it failed to start).
    pub async fn failed(&mut self) -> Option<String> {
        if !self.task.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        match self.task.take()?.await {
            Ok(Ok(())) => Some("it stopped".into()),
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        }
    }

    /// Waits for the proxy's drain, at most 3 s.
    pub async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), task).await;
        }
    }
}

/// A listener's address.
pub fn local(l: &TcpListener) -> Result<SocketAddr, DemoError> {
    l.local_addr()
        .map_err(|e| DemoError::io("a listener's address", e))
}

async fn bind() -> Result<TcpListener, DemoError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::io("127.0.0.1:0", e))
}
