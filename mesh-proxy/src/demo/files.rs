//! The demo's files: a temporary directory removed when dropped, and writing a scene's
//! resources into a watched config directory so that a reload never sees half a change.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use mesh_core::InvalidConfig;

use super::DemoError;
use super::config::{Generated, SceneConfig};

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

// === impl TempDir ===

impl TempDir {
    /// A fresh directory under the system temp dir, readable by its owner only (it holds
    /// private keys); an existing one is never reused.
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
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
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

/// Writes a file.
pub fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| DemoError::io(path, e))
}

/// Makes `dir` hold exactly `scene`'s files: each written to a hidden temporary name and
/// renamed into place (a reader never sees half a file), then files of other scenes removed.
pub fn write_scene(dir: &Path, scene: SceneConfig, generated: &Generated) -> Result<(), DemoError> {
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

/// A scene whose generated configuration does not validate.
pub fn invalid(scene: SceneConfig, e: &InvalidConfig) -> DemoError {
    DemoError::InvalidScene {
        scene: scene.name(),
        diagnostics: e.diagnostics.iter().map(|d| d.render(&e.sources)).collect(),
    }
}
