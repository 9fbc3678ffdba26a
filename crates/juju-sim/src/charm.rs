//! A charm as `juju deploy` takes it: a directory, or a packed `.charm` (a zip), and its
//! name from its metadata.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A charm's files on disk: the directory given, or a packed charm unpacked into a
/// temporary directory that lives as long as this value.
#[derive(Debug)]
pub struct CharmSource {
    dir: PathBuf,
    _unpacked: Option<tempfile::TempDir>,
}

impl CharmSource {
    /// Opens `path`: a charm directory, or a `.charm` file (unpacked).
    pub fn open(path: &Path) -> Result<CharmSource> {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            return Ok(CharmSource {
                dir: std::fs::canonicalize(path)?,
                _unpacked: None,
            });
        }
        let file = std::fs::File::open(path)?;
        let mut zip = zip::ZipArchive::new(file).with_context(|| {
            format!(
                "{}: not a charm directory nor a .charm (zip)",
                path.display()
            )
        })?;
        let dir = tempfile::Builder::new()
            .prefix("juju-sim-charm-")
            .tempdir()?;
        zip.extract(dir.path())
            .with_context(|| format!("unpacking {}", path.display()))?;
        Ok(CharmSource {
            dir: dir.path().to_owned(),
            _unpacked: Some(dir),
        })
    }

    /// The charm's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its `dispatch`.
    pub fn dispatch(&self) -> Result<PathBuf> {
        dispatch(&self.dir)
    }

    /// Its name (`juju deploy` names the application after it).
    pub fn name(&self) -> Result<String> {
        name(&self.dir)
    }

    /// Its `versions.json`, if it ships one.
    pub fn versions(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("versions.json")).ok()
    }
}

/// A charm directory's `dispatch` (an error if it has none).
pub fn dispatch(dir: &Path) -> Result<PathBuf> {
    let d = dir.join("dispatch");
    if !d.exists() {
        bail!("{}: the charm has no dispatch", dir.display());
    }
    Ok(d)
}

/// A charm directory's name: `name` in its metadata.yaml (or charmcraft.yaml).
pub fn name(dir: &Path) -> Result<String> {
    for file in ["metadata.yaml", "charmcraft.yaml"] {
        let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
            continue;
        };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
            .with_context(|| format!("{}", dir.join(file).display()))?;
        if let Some(name) = doc.get("name").and_then(|n| n.as_str()) {
            juju_hooks::UnitName::new(name, 0)
                .with_context(|| format!("{}: name {name:?}", dir.join(file).display()))?;
            return Ok(name.to_owned());
        }
    }
    bail!(
        "{}: no metadata.yaml (or charmcraft.yaml) with the charm's name",
        dir.display()
    )
}
