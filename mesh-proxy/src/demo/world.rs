//! The demo's mesh in process: a temporary directory with a dev CA and workload certificates,
//! the applications and their proxies (all watching one config directory), and switching that
//! directory between scenes with traffic running through the reload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mesh_core::{LoadOptions, MeshConfig};
use tokio::sync::watch;

use super::DemoError;
use super::client::Client;
use super::config::{self, Generated, SceneConfig};
use super::files::{TempDir, invalid, write, write_scene};
use super::pods::{Bound, Pod, SPECS, Spec, bootstrap, local};
use crate::ProxyConfig;
use crate::bootstrap::IdentitySpec;
use crate::certs::{CertError, DevCa};
use crate::metrics::{Metrics, ReloadLabels};
use crate::reload::ConfigSource;

/// The trust domain of every identity.
pub const TRUST_DOMAIN: &str = "cluster.local";

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
            bound.push(Bound::bind(spec, stopped.clone()).await?);
        }
        let addr = |i: usize| local(&bound[i].inbound);
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
            check.load().map_err(|e| invalid(scene, &e))?;
        }
        let identity = |spec: &Spec| -> Result<IdentitySpec, DemoError> {
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
            Ok(IdentitySpec {
                cert,
                key,
                trust_bundle: bundle.clone(),
                trust_domain: TRUST_DOMAIN.into(),
            })
        };
        let mut pods = Vec::new();
        for (i, (spec, bound)) in SPECS.iter().zip(bound).enumerate() {
            let mesh = source.load().map_err(|e| invalid(current, &e))?;
            let cfg = ProxyConfig {
                source: Some(source.clone()),
                outbound_seed: Some(seed.wrapping_add(i as u64)),
                drain_timeout: Duration::from_secs(1),
                ..ProxyConfig::new(mesh, bootstrap(spec, &bound, identity(spec)?)?)
            };
            pods.push(Pod::start(spec.name, bound, cfg, stopped.clone())?);
        }
        let mut world = World {
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
    async fn ready(&mut self) -> Result<(), DemoError> {
        for pod in &mut self.pods {
            let mut ready = false;
            for _ in 0..200 {
                if let Some(why) = pod.failed().await {
                    return Err(DemoError::NotReady { pod: pod.name, why });
                }
                let answer = self.client.get(pod.admin, "admin", "/ready", &[]).await;
                if answer.is_ok_and(|a| a.status == http::StatusCode::OK) {
                    ready = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            if !ready {
                return Err(DemoError::NotReady {
                    pod: pod.name,
                    why: "/ready did not answer 200 within 5 s".into(),
                });
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
            pod.join().await;
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
