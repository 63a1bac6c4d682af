//! Hot reload of the resources: the config paths are watched (directories, not files:
//! ConfigMap mounts swap a symlink), a burst of changes is folded into one reload, and the new
//! set is validated in full. A valid set is swapped in atomically; an invalid one is rejected
//! with its diagnostics logged and counted, and the last good snapshot keeps serving.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh_core::{InvalidConfig, LoadOptions, Loaded, Mesh, MeshConfig};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Where the resources come from, and how to read them.
#[derive(Clone, Debug)]
pub struct ConfigSource {
    /// Files or directories.
    pub paths: Vec<PathBuf>,
    /// Strictness.
    pub options: LoadOptions,
    /// Cluster domain, root namespace, path normalization.
    pub mesh_config: MeshConfig,
}

/// Quiet time after the last change before reloading.
const SETTLE: Duration = Duration::from_millis(200);

// === impl ConfigSource ===

impl ConfigSource {
    /// Loads and validates every resource; any error rejects the whole set.
    pub fn load(&self) -> Result<Mesh, InvalidConfig> {
        let loaded = Loaded::from_paths(&self.paths, self.options);
        let sources = loaded.sources.clone();
        let (mesh, warnings) = Mesh::from_loaded(loaded, self.mesh_config.clone())?;
        for w in &warnings {
            tracing::warn!("{}", w.render(&sources));
        }
        Ok(mesh)
    }

    /// The directories to watch.
    fn watch_dirs(&self) -> Vec<(PathBuf, RecursiveMode)> {
        self.paths
            .iter()
            .map(|p| {
                if p.is_dir() {
                    (p.clone(), RecursiveMode::Recursive)
                } else {
                    let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
                    (
                        parent.unwrap_or(Path::new(".")).to_owned(),
                        RecursiveMode::NonRecursive,
                    )
                }
            })
            .collect()
    }
}

/// A registered watch: changes made after [`Watch::start`] returns are seen.
pub struct Watch {
    source: ConfigSource,
    changes: mpsc::UnboundedReceiver<()>,
    // Dropping the watcher stops the notifications.
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

// === impl Watch ===

impl Watch {
    /// Registers the watch on every configured path.
    pub fn start(source: ConfigSource) -> Result<Self, notify::Error> {
        let (tx, changes) = mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok_and(|e| !e.kind.is_access()) {
                    let _ = tx.send(());
                }
            })?;
        for (dir, mode) in source.watch_dirs() {
            watcher.watch(&dir, mode)?;
        }
        Ok(Watch {
            source,
            changes,
            _watcher: watcher,
        })
    }

    /// Reloads on every settled burst of changes until `shutdown`, handing each result to
    /// `apply`.
    pub async fn run(
        mut self,
        mut apply: impl FnMut(Result<Mesh, InvalidConfig>),
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                changed = self.changes.recv() => if changed.is_none() { return },
            }
            // Fold a burst (editors and ConfigMap swaps write several events) into one reload.
            while let Ok(Some(())) = tokio::time::timeout(SETTLE, self.changes.recv()).await {}
            let src = self.source.clone();
            let result = tokio::task::spawn_blocking(move || src.load())
                .await
                .unwrap_or_else(|e| Err(load_failed(&e.to_string())));
            apply(result);
        }
    }
}

fn load_failed(why: &str) -> InvalidConfig {
    InvalidConfig {
        diagnostics: vec![mesh_core::Diagnostic {
            severity: mesh_core::Severity::Error,
            file: String::new(),
            line: 0,
            column: 0,
            resource: None,
            path: String::new(),
            message: format!("reload failed: {why}"),
        }],
        sources: mesh_core::diag::Sources::default(),
    }
}
