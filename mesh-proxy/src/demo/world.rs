//! The demo's mesh in process: a temporary directory with a dev CA and workload certificates,
//! the applications, one `mesh_proxy::run_with` sidecar per workload (all watching one config
//! directory), and switching that directory between scenes with traffic running through the
//! reload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use mesh_core::{LoadOptions, MeshConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::DemoError;
use super::apps::{App, Behaviour};
use super::client::Client;
use super::config::{self, Generated, SceneConfig};
use crate::bootstrap::{
    AdminSpec, Bootstrap, IdentitySpec, InboundSpec, OutboundSpec, WorkloadSpec,
};
use crate::certs::{CertError, DevCa};
use crate::gateway::GatewayListener;
use crate::metrics::{Metrics, ReloadLabels};
use crate::reload::ConfigSource;
use crate::{Listeners, ProxyConfig, RunError};

/// The trust domain of every identity.
pub const TRUST_DOMAIN: &str = "cluster.local";

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

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
struct Spec {
    name: &'static str,
    service_account: &'static str,
    labels: &'static [(&'static str, &'static str)],
    behaviour: Behaviour,
    outbound: bool,
    gateway: bool,
}

const SPECS: [Spec; 7] = [
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

/// The running mesh.
#[derive(Debug)]
pub struct World {
    /// The temporary directory (certificates, config, scene sets).
    dir: TempDir,
    /// The directory every sidecar watches.
    pub config_dir: PathBuf,
    /// myapp v1, v2, the failing v1 pod, legacy-service, frontend, other, the ingress gateway.
    pub pods: Vec<Pod>,
    /// The sidecars' inbound addresses and the gateway's certificate.
    pub generated: Generated,
    /// The configuration being served.
    pub current: SceneConfig,
    /// Reload statistics.
    pub reloads: super::report::Reloads,
    client: Client,
    stop: watch::Sender<bool>,
}

// === impl TempDir ===

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new() -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "mesh-demo-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// === impl World ===

impl World {
    /// Makes the certificates, starts the applications and one sidecar per workload serving
    /// the routing scene, and waits until every sidecar is ready.
    pub async fn start(seed: u64) -> Result<World, DemoError> {
        let dir = TempDir::new().map_err(|e| DemoError::io("temporary directory", e))?;
        let certs = dir.path().join("certs");
        let config_dir = dir.path().join("config");
        for d in [&certs, &config_dir] {
            std::fs::create_dir_all(d).map_err(|e| DemoError::io(d, e))?;
        }
        let ca = DevCa::new(TRUST_DOMAIN)?;
        let bundle = certs.join("ca.pem");
        write(&bundle, ca.cert_pem())?;
        let (stop, stopped) = watch::channel(false);
        // Bind every listener first: the registry needs the inbound addresses.
        let mut bound = Vec::new();
        for spec in &SPECS {
            let app = App::start(spec.name, spec.behaviour, stopped.clone())
                .await
                .map_err(|e| DemoError::io("an application's listener", e))?;
            let inbound = bind().await?;
            let admin = bind().await?;
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
            bound.push((app, inbound, admin, outbound, gateway));
        }
        let addr = |i: usize| {
            bound[i]
                .1
                .local_addr()
                .map_err(|e| DemoError::io("bind", e))
        };
        let tls = rcgen::generate_simple_self_signed(vec![config::EXTERNAL.to_owned()])
            .map_err(CertError::from)?;
        // Self-signed: the certificate is its own CA (for `curl --cacert`).
        write(&dir.path().join("gateway-ca.pem"), &tls.cert.pem())?;
        let generated = Generated {
            v1: addr(0)?,
            v2: addr(1)?,
            failing: addr(2)?,
            legacy: addr(3)?,
            tls_cert: tls.cert.pem(),
            tls_key: tls.signing_key.serialize_pem(),
        };
        let current = SceneConfig::Routing;
        write_scene(&config_dir, current, &generated)?;
        let source = ConfigSource {
            paths: vec![config_dir.clone()],
            options: LoadOptions::default(),
            mesh_config: MeshConfig::default(),
        };
        // Every scene's set must be valid before anything is served.
        let scenes = dir.path().join("scenes");
        for scene in SceneConfig::ALL {
            let d = scenes.join(scene.name());
            std::fs::create_dir_all(&d).map_err(|e| DemoError::io(&d, e))?;
            write_scene(&d, scene, &generated)?;
            let check = ConfigSource {
                paths: vec![d],
                ..source.clone()
            };
            check.load().map_err(|e| DemoError::InvalidScene {
                scene: scene.name(),
                diagnostics: e.diagnostics.iter().map(|d| d.render(&e.sources)).collect(),
            })?;
        }
        let mut pods = Vec::new();
        for (i, (spec, (app, inbound, admin, outbound, gateway))) in
            SPECS.iter().zip(bound).enumerate()
        {
            let stem = format!("{}.{}", config::NAMESPACE, spec.service_account);
            let (cert, key) = (
                certs.join(format!("{stem}.pem")),
                certs.join(format!("{stem}.key")),
            );
            if !cert.exists() {
                let c = ca.issue_workload(
                    TRUST_DOMAIN,
                    &format!("{}/{}", config::NAMESPACE, spec.service_account),
                )?;
                write(&cert, &c.cert_pem)?;
                write(&key, &c.key_pem)?;
            }
            let local = |l: &TcpListener| l.local_addr().map_err(|e| DemoError::io("bind", e));
            let bootstrap = Bootstrap {
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
                    listen: local(&inbound)?,
                    app: app.addr,
                },
                outbound: match &outbound {
                    Some(l) => Some(OutboundSpec { listen: local(l)? }),
                    None => None,
                },
                gateways: Vec::new(),
                identity: IdentitySpec {
                    cert,
                    key,
                    trust_bundle: bundle.clone(),
                    trust_domain: TRUST_DOMAIN.into(),
                },
                admin: Some(AdminSpec {
                    listen: local(&admin)?,
                }),
            };
            let mesh = source.load().map_err(|e| DemoError::InvalidScene {
                scene: current.name(),
                diagnostics: e.diagnostics.iter().map(|d| d.render(&e.sources)).collect(),
            })?;
            let metrics = Metrics::new();
            let cfg = ProxyConfig {
                source: Some(source.clone()),
                outbound_seed: Some(seed.wrapping_add(i as u64)),
                drain_timeout: Duration::from_secs(1),
                ..ProxyConfig::new(mesh, bootstrap)
            };
            let pod = Pod {
                name: spec.name,
                app,
                inbound: local(&inbound)?,
                outbound: outbound.as_ref().map(local).transpose()?,
                admin: local(&admin)?,
                gateway: gateway
                    .iter()
                    .map(|g| Ok((g.port, local(&g.listener)?)))
                    .collect::<Result<_, DemoError>>()?,
                metrics: metrics.clone(),
                task: None,
            };
            let listeners = Listeners {
                inbound,
                admin: Some(admin),
                outbound,
                gateways: gateway,
            };
            let mut stopped = stopped.clone();
            let task = tokio::spawn(crate::run_with(listeners, cfg, metrics, async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
            pods.push(Pod {
                task: Some(task),
                ..pod
            });
        }
        let world = World {
            dir,
            config_dir,
            pods,
            generated,
            current,
            reloads: super::report::Reloads::default(),
            client: Client::new(),
            stop,
        };
        world.ready().await?;
        Ok(world)
    }

    /// Waits until every sidecar's `/ready` answers 200 (its config watch is registered by
    /// then), or reports the one that failed.
    async fn ready(&self) -> Result<(), DemoError> {
        for pod in &self.pods {
            let mut ready = false;
            for _ in 0..200 {
                if let Some(task) = &pod.task
                    && task.is_finished()
                {
                    break;
                }
                let answer = self.client.get(pod.admin, "admin", "/ready", &[]).await;
                if answer.is_ok_and(|a| a.status == http::StatusCode::OK) {
                    ready = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            if !ready {
                return Err(DemoError::NotReady { pod: pod.name });
            }
        }
        Ok(())
    }

    /// The pod named `name`.
    pub fn pod(&self, name: &str) -> &Pod {
        self.pods
            .iter()
            .find(|p| p.name == name)
            .unwrap_or(&self.pods[0])
    }

    /// The outbound listener of `frontend` or `other`.
    pub fn outbound(&self, name: &str) -> SocketAddr {
        self.pod(name).outbound.unwrap_or(self.pod(name).inbound)
    }

    /// Switches the config directory to `scene` and waits until every sidecar applied it,
    /// sending requests through frontend to legacy-service all along.
    pub async fn switch(&mut self, scene: SceneConfig) -> Result<(), DemoError> {
        if scene == self.current {
            return Ok(());
        }
        let before: Vec<(u64, u64)> = self.pods.iter().map(|p| reloads(&p.metrics)).collect();
        let running = Arc::new(AtomicBool::new(true));
        let traffic = {
            let (client, via, running) = (
                self.client.clone(),
                self.outbound("frontend"),
                running.clone(),
            );
            tokio::spawn(async move {
                let (mut sent, mut failed) = (0u32, 0u32);
                while running.load(Ordering::Relaxed) {
                    let answer = client.get(via, config::LEGACY, "/health", &[]).await;
                    sent += 1;
                    failed += u32::from(!answer.is_ok_and(|a| a.status.is_success()));
                }
                (sent, failed)
            })
        };
        write_scene(&self.config_dir, scene, &self.generated)?;
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(20);
        let outcome = loop {
            let now: Vec<(u64, u64)> = self.pods.iter().map(|p| reloads(&p.metrics)).collect();
            if let Some((i, _)) = now
                .iter()
                .zip(&before)
                .enumerate()
                .find(|(_, (n, b))| n.1 > b.1)
            {
                break Err(DemoError::ReloadRejected {
                    pod: self.pods[i].name,
                    scene: scene.name(),
                });
            }
            if now.iter().zip(&before).all(|(n, b)| n.0 > b.0) {
                let applied: u64 = now.iter().zip(&before).map(|(n, b)| n.0 - b.0).sum();
                break Ok(applied);
            }
            if waited > Duration::from_secs(10) {
                break Err(DemoError::ReloadTimeout {
                    scene: scene.name(),
                });
            }
            tokio::time::sleep(step).await;
            waited += step;
        };
        // A little traffic on the new snapshot too.
        tokio::time::sleep(Duration::from_millis(30)).await;
        running.store(false, Ordering::Relaxed);
        let (sent, failed) = traffic.await.unwrap_or((0, 1));
        self.reloads.switches += 1;
        self.reloads.requests += sent;
        self.reloads.failed += failed;
        self.reloads.applied += outcome?;
        self.current = scene;
        Ok(())
    }

    /// Stops every sidecar and application and waits for the sidecars' drain.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for pod in &mut self.pods {
            if let Some(task) = pod.task.take() {
                let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
            }
        }
    }

    /// The snapshot being served, loaded again (for explanations).
    pub fn mesh(&self) -> Option<mesh_core::Mesh> {
        ConfigSource {
            paths: vec![self.config_dir.clone()],
            options: LoadOptions::default(),
            mesh_config: MeshConfig::default(),
        }
        .load()
        .ok()
    }

    /// The temporary directory: `certs/`, `config/` (watched), `scenes/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The demo's client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// (applied, rejected) reloads of one sidecar.
fn reloads(m: &Metrics) -> (u64, u64) {
    let get = |result| m.reloads.get_or_create(&ReloadLabels { result }).get();
    (get("applied"), get("rejected"))
}

async fn bind() -> Result<TcpListener, DemoError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::io("127.0.0.1:0", e))
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| DemoError::io(path, e))
}

/// Makes `dir` hold exactly `scene`'s files: each written to a hidden temporary name and
/// renamed into place (a reader never sees half a file), then files of other scenes removed.
fn write_scene(dir: &Path, scene: SceneConfig, generated: &Generated) -> Result<(), DemoError> {
    let files = scene.files(generated);
    for (name, text) in &files {
        let tmp = dir.join(format!(".{name}.tmp"));
        write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|e| DemoError::io(&tmp, e))?;
    }
    let entries = std::fs::read_dir(dir).map_err(|e| DemoError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !files.iter().any(|(n, _)| *n == name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
