//! `mesh-proxy demo`: a small mesh built from the shipped example resources, on loopback
//! ephemeral ports, driven scene by scene, with a report of what each policy did.
//!
//! [`Demo::start`] makes a temporary directory (removed at the end) with a development CA
//! and workload certificates, starts the applications (myapp v1 and v2, a v1 pod that always
//! fails, legacy-service, frontend, other) and one [`crate::run_with`] sidecar per workload,
//! plus the ingress gateway (HTTP and HTTPS listeners for `myapp-gateway`), all watching one
//! config directory: the shipped resources, embedded unchanged, plus a
//! registry generated for the addresses the sidecars were bound to. [`Demo::drive`] plays
//! the scenes, switching the config directory between them (hot reload, with traffic running
//! through every switch), and returns the [`Report`]. [`run`] does both and stops the mesh.

mod apps;
mod client;
mod config;
mod files;
mod pods;
mod progress;
mod report;
mod scenes;
mod world;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

pub use self::apps::DELAY_HEADER;
pub use self::config::{EXTERNAL, LEGACY, MYAPP, SHIPPED};
pub use self::progress::ProgressMode;
pub use self::report::{Check, Reloads, Report, Scene, Verdict};
pub use self::scenes::{
    Authz, Fault, Gateway, Linkerd, Mirror, Probe, Resilience, Routing, Sizes, tolerance,
};

use self::config::SceneConfig;
use self::progress::Progress;
use self::world::World;
use crate::certs::CertError;

/// How the demo runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOptions {
    /// Traffic time in total; scenes are sized to fit (about 10 s by default). Requests a
    /// fault or a timeout holds longer are reported as still held when it runs out.
    pub duration: Duration,
    /// Seeds the sidecars' weighted picks; drawn from the clock when unset.
    pub seed: Option<u64>,
    /// Progress on stderr.
    pub progress: ProgressMode,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The certificates could not be made.
    #[error(transparent)]
    Certs(#[from] CertError),
    /// A scene's generated configuration does not validate (a bug of the demo).
    #[error("the {scene} scene's configuration is invalid:\n{}", diagnostics.concat())]
    InvalidScene {
        /// The scene.
        scene: &'static str,
        /// The rendered diagnostics.
        diagnostics: Vec<String>,
    },
    /// A proxy stopped or never answered `/ready`.
    #[error("the {pod} proxy did not become ready: {why}")]
    NotReady {
        /// The pod.
        pod: &'static str,
        /// The proxy's error, or what was waited for.
        why: String,
    },
    /// A sidecar rejected a scene's configuration.
    #[error("the {pod} sidecar rejected the {scene} configuration")]
    ReloadRejected {
        /// The pod.
        pod: &'static str,
        /// The scene.
        scene: &'static str,
    },
    /// Not every sidecar applied a scene's configuration in time.
    #[error("the {scene} configuration was not applied by every sidecar within 10 s")]
    ReloadTimeout {
        /// The scene.
        scene: &'static str,
    },
}

/// A running demo mesh.
#[derive(Debug)]
pub struct Demo {
    world: World,
    options: DemoOptions,
    seed: u64,
}

/// One listener of the running mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The pod.
    pub pod: &'static str,
    /// `inbound`, `outbound`, `admin`, or the gateway's `http` (port 80) and `https` (443).
    pub role: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
}

// === impl DemoOptions ===

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            duration: Duration::from_secs(10),
            seed: None,
            progress: ProgressMode::Auto,
        }
    }
}

// === impl DemoError ===

impl DemoError {
    fn io(what: impl AsRef<Path>, source: std::io::Error) -> Self {
        DemoError::Io {
            what: what.as_ref().display().to_string(),
            source,
        }
    }
}

// === impl Demo ===

impl Demo {
    /// Starts the mesh serving the routing scene; returns once every sidecar is ready.
    pub async fn start(options: DemoOptions) -> Result<Demo, DemoError> {
        let seed = options.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64 % 1_000_000)
        });
        let world = World::start(seed).await?;
        Ok(Demo {
            world,
            options,
            seed,
        })
    }

    /// Plays the scenes and reports. Requests still held by a fault or a timeout are
    /// awaited until `duration` has passed since the first scene began.
    pub async fn drive(&mut self) -> Result<Report, DemoError> {
        let start = Instant::now();
        let deadline = start + self.options.duration;
        let sizes = Sizes::for_duration(self.options.duration);
        let progress = Progress::start(self.options.progress, self.options.duration, 8);
        let w = &mut self.world;
        progress.scene("scene 1: routing: header route and 90/10 canary");
        let routing = scenes::routing(w, &sizes).await;
        progress.scene("scene 7: ingress gateway");
        let gateway = scenes::gateway(w).await;
        progress.scene("scene 2: authorization and mTLS");
        let authz = scenes::authz(w, w.mesh().as_ref()).await;
        progress.scene("scene 3: fault injection");
        w.switch(SceneConfig::Fault).await?;
        let fault = scenes::fault(w, &sizes).await;
        progress.scene("scene 6: Linkerd ServiceProfile and SMI TrafficSplit");
        w.switch(SceneConfig::Linkerd).await?;
        let linkerd = scenes::linkerd(w, &sizes, w.mesh().as_ref()).await;
        progress.scene("scene 4: mirroring");
        w.switch(SceneConfig::Mirror).await?;
        let mirror = scenes::mirror(w, &sizes).await;
        progress.scene("scene 5: resilience: retries, ejection, circuit breaker");
        w.switch(SceneConfig::Resilience).await?;
        let resilience = scenes::resilience(w, &sizes, w.mesh().as_ref()).await;
        progress.scene("collecting the requests a fault or a timeout held");
        let fault = fault.finish(deadline).await;
        let linkerd = linkerd.finish(deadline).await;
        progress.finish();
        Ok(Report {
            seed: self.seed,
            proxies: w.pods.len() as u32,
            elapsed: start.elapsed(),
            routing,
            authz,
            fault,
            mirror,
            resilience,
            linkerd,
            gateway,
            reloads: w.reloads.clone(),
        })
    }

    /// Serves the routing scene again (what the example `curl` commands expect).
    pub async fn reset(&mut self) -> Result<(), DemoError> {
        self.world.switch(SceneConfig::Routing).await
    }

    /// Every listener of the mesh.
    pub fn addresses(&self) -> Vec<Address> {
        let mut out = Vec::new();
        for p in &self.world.pods {
            out.push(Address {
                pod: p.name,
                role: "inbound",
                addr: p.inbound,
            });
            if let Some(addr) = p.outbound {
                out.push(Address {
                    pod: p.name,
                    role: "outbound",
                    addr,
                });
            }
            out.push(Address {
                pod: p.name,
                role: "admin",
                addr: p.admin,
            });
            for (port, addr) in &p.gateway {
                out.push(Address {
                    pod: p.name,
                    role: if *port == 443 { "https" } else { "http" },
                    addr: *addr,
                });
            }
        }
        out
    }

    /// Example `curl` commands against the running mesh (routing scene), with what each
    /// shows.
    pub fn curl_examples(&self) -> Vec<(String, &'static str)> {
        let w = &self.world;
        let (frontend, other) = (w.outbound("frontend"), w.outbound("other"));
        let gw = w.pod("istio-ingressgateway");
        let gateway = |port: u16| {
            gw.gateway
                .iter()
                .find(|(p, _)| *p == port)
                .map_or(gw.inbound, |(_, a)| *a)
        };
        vec![
            (
                format!("curl -H 'Host: {MYAPP}' -H 'x-version: v2' http://{frontend}/api/profile"),
                "header route: myapp-v2",
            ),
            (
                format!("curl -H 'Host: {MYAPP}' http://{frontend}/api/items"),
                "canary: myapp-v1 9 times in 10",
            ),
            (
                format!("curl -i -H 'Host: {MYAPP}' http://{other}/api/x"),
                "403 RBAC: access denied (other is not allowed)",
            ),
            (
                format!("curl -v http://{}/health", w.pod("myapp-v1").inbound),
                "plaintext refused by STRICT mTLS",
            ),
            (
                format!("curl http://{}/health", w.pod("legacy-service").inbound),
                "plaintext accepted by legacy's PERMISSIVE mTLS",
            ),
            (
                format!("curl -i -H 'Host: {EXTERNAL}' http://{}/api/x", gateway(80)),
                "the gateway's 301 to https",
            ),
            (
                // The Host without the listener's port: this build's gateway takes the
                // upstream port from the Host header's port (reported to the gateway path).
                format!(
                    "curl --http1.1 --cacert {} --resolve {EXTERNAL}:{}:127.0.0.1 \\\n      \
                     -H 'Host: {EXTERNAL}' https://{EXTERNAL}:{}/api/x",
                    w.dir().join("gateway-ca.pem").display(),
                    gateway(443).port(),
                    gateway(443).port()
                ),
                "TLS terminated at the gateway with myapp-tls-secret's certificate",
            ),
            (
                format!("curl http://{}/metrics", w.pod("myapp-v1").admin),
                "Istio metrics of myapp-v1's sidecar",
            ),
        ]
    }

    /// The config directory the sidecars watch (edit it to reload them).
    pub fn config_dir(&self) -> &Path {
        &self.world.config_dir
    }

    /// The temporary directory (`certs/`, `config/`, `scenes/`), removed by [`Demo::stop`].
    pub fn dir(&self) -> &Path {
        self.world.dir()
    }

    /// Stops the mesh and removes the temporary directory.
    pub async fn stop(self) {
        self.world.stop().await;
    }
}

/// Starts the mesh, plays every scene, stops the mesh and returns the report.
pub async fn run(options: DemoOptions) -> Result<Report, DemoError> {
    let mut demo = Demo::start(options).await?;
    let report = demo.drive().await;
    demo.stop().await;
    report
}

#[cfg(test)]
mod tests;
