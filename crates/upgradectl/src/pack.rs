//! `upgradectl pack`: the charm as a `.charm` file without LXD or charmcraft, laid out as
//! charmcraft lays one out: the `dispatch` executable at the root, `manifest.yaml`,
//! `metadata.yaml`, `actions.yaml`, `config.yaml` (if any) and the versions file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader, SectionHeader};
use object::Endianness;

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The charm project (holds `Cargo.toml`, `metadata.yaml`, ...).
    pub project: PathBuf,
    /// Where the `.charm` goes.
    pub out_dir: PathBuf,
    /// `ubuntu@22.04` or `ubuntu@24.04`.
    pub base: String,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// The versions file to ship (default: the project's `versions.json`).
    pub versions: Option<PathBuf>,
    /// A prebuilt `dispatch` (default: build it, statically linked).
    pub dispatch: Option<PathBuf>,
    /// The project's binary target built as `dispatch` when none is given (`dispatch` for a
    /// charm whose binary is named so; an example in a workspace names its own).
    pub bin: String,
    /// Appended to the file name, e.g. `-next` (two revisions side by side).
    pub suffix: String,
}

/// The newest glibc symbol version each supported base provides.
fn max_glibc(base: &str) -> Result<(u32, u32)> {
    match base {
        "ubuntu@22.04" => Ok((2, 35)),
        "ubuntu@24.04" => Ok((2, 39)),
        other => bail!("unsupported base {other:?}: ubuntu@22.04 or ubuntu@24.04"),
    }
}

fn rust_target(arch: &str) -> Result<&'static str> {
    match arch {
        "amd64" => Ok("x86_64-unknown-linux-gnu"),
        "arm64" => Ok("aarch64-unknown-linux-gnu"),
        other => bail!("unsupported architecture {other:?}: amd64 or arm64"),
    }
}

/// The Debian architecture of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// How an executable links: statically, or against glibc up to some version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    /// No interpreter, nothing needed at run time.
    Static,
    /// Dynamically linked; the newest `GLIBC_x.y` it requires.
    Glibc(Option<(u32, u32)>),
}

/// Reads an ELF executable's linkage: static when it has no program interpreter; otherwise
/// the newest `GLIBC_x.y` named in its string tables (where the symbol-version requirements
/// of `.gnu.version_r` point).
pub fn linkage(bytes: &[u8]) -> Result<Linkage> {
    let file = ElfFile64::<Endianness>::parse(bytes).context("not a 64-bit ELF executable")?;
    let header = file.elf_header();
    let endian = file.endian();
    let interpreted = header
        .program_headers(endian, bytes)?
        .iter()
        .any(|ph| ph.p_type(endian) == elf::PT_INTERP);
    if !interpreted {
        return Ok(Linkage::Static);
    }
    let mut newest: Option<(u32, u32)> = None;
    for section in header.sections(endian, bytes)?.iter() {
        if section.sh_type(endian) != elf::SHT_STRTAB {
            continue;
        }
        let Ok(data) = section.data(endian, bytes) else {
            continue;
        };
        for s in data.split(|b| *b == 0) {
            if let Some(v) = s.strip_prefix(b"GLIBC_") {
                let v = String::from_utf8_lossy(v);
                let mut it = v.split('.').map(|p| p.parse::<u32>());
                if let (Some(Ok(a)), Some(Ok(b))) = (it.next(), it.next()) {
                    newest = newest.max(Some((a, b)));
                }
            }
        }
    }
    Ok(Linkage::Glibc(newest))
}

/// The variables `cargo run` sets for the program it runs (describing that program's
/// package). Passed on to the inner `cargo build`, they reach build scripts: ring's declares
/// `rerun-if-env-changed=CARGO_MANIFEST_DIR`, so switching between `cargo run -p upgradectl`
/// and the built binary rebuilt the release dispatch every time.
fn is_cargo_run_variable(name: &str) -> bool {
    matches!(
        name,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
    ) || name.starts_with("CARGO_PKG_")
}

/// The directory the static build goes to: `target/pack` of the project's workspace (so a
/// charm that is one member of a workspace shares the other members' built dependencies).
fn pack_target_dir(cargo: &std::ffi::OsStr, project: &Path) -> Result<PathBuf> {
    let out = Command::new(cargo)
        .current_dir(project)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .context("running cargo locate-project")?;
    if !out.status.success() {
        bail!(
            "{} is not a cargo project: {}",
            project.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let root = manifest
        .parent()
        .context("cargo locate-project: no directory")?;
    Ok(root.join("target/pack"))
}

fn build_dispatch(project: &Path, bin: &str, target: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = pack_target_dir(&cargo, project)?;
    eprintln!("building {bin} for {target} (static; the first time takes a few minutes)...");
    let mut cmd = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_cargo_run_variable) {
            cmd.env_remove(&name);
        }
    }
    let status = cmd
        .current_dir(project)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--release",
            "--locked",
            "--bin",
            bin,
            "--target",
            target,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status}); for another architecture pass --dispatch with a binary built for it");
    }
    Ok(target_dir.join(target).join("release").join(bin))
}

/// The charm's name from `metadata.yaml`, read as YAML (a comment or quotes are YAML's, not
/// part of the name).
pub fn metadata_name(metadata: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        name: Option<serde_yaml_ng::Value>,
    }
    let parsed: Metadata =
        serde_yaml_ng::from_str(metadata).context("metadata.yaml is not valid YAML")?;
    let name = match parsed.name {
        Some(serde_yaml_ng::Value::String(n)) => n,
        Some(other) => bail!("metadata.yaml: name must be a string, not {other:?}"),
        None => bail!("metadata.yaml has no name"),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!("metadata.yaml: {name:?} is not a charm name (lower-case letters, digits and '-', starting with a letter)");
    }
    Ok(name)
}

/// `manifest.yaml`, in charmcraft's shape: the bases and an (empty) analysis. It claims no
/// charmcraft version or start time (charmcraft never ran); what packed it goes in
/// `image-info`, the field charmcraft leaves free.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct Manifest {
    analysis: Analysis,
    bases: Vec<ManifestBase>,
    image_info: PackedBy,
}

#[derive(Debug, serde::Serialize)]
struct Analysis {
    attributes: Vec<Attribute>,
}

#[derive(Debug, serde::Serialize)]
struct Attribute {
    name: &'static str,
    result: &'static str,
}

#[derive(Debug, serde::Serialize)]
struct ManifestBase {
    architectures: Vec<String>,
    channel: String,
    name: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct PackedBy {
    packed_by: String,
}

/// The `manifest.yaml` of a charm for `base` (`ubuntu@24.04`) and `arch`.
pub fn manifest(base: &str, arch: &str) -> Result<String> {
    let (distribution, channel) = base
        .split_once('@')
        .with_context(|| format!("base {base:?} is not name@channel"))?;
    let manifest = Manifest {
        analysis: Analysis {
            attributes: vec![
                Attribute {
                    name: "language",
                    result: "unknown",
                },
                Attribute {
                    name: "framework",
                    result: "unknown",
                },
            ],
        },
        bases: vec![ManifestBase {
            architectures: vec![arch.to_owned()],
            channel: channel.to_owned(),
            name: distribution.to_owned(),
        }],
        image_info: PackedBy {
            packed_by: format!("upgradectl {}", env!("CARGO_PKG_VERSION")),
        },
    };
    Ok(serde_yaml_ng::to_string(&manifest)?)
}

/// Packs the charm; returns the `.charm` path.
pub fn pack(o: &PackOptions) -> Result<PathBuf> {
    let (major, minor) = max_glibc(&o.base)?;
    let target = rust_target(&o.arch)?;
    let read = |name: &str| std::fs::read_to_string(o.project.join(name));
    let metadata = read("metadata.yaml").context("reading metadata.yaml")?;
    let name = metadata_name(&metadata)?;
    let versions_path = o
        .versions
        .clone()
        .unwrap_or_else(|| o.project.join("versions.json"));
    let versions = std::fs::read_to_string(&versions_path)
        .with_context(|| format!("reading {}", versions_path.display()))?;
    upgrade_coordinator::DependencyModel::from_json(&versions)
        .with_context(|| format!("{} cannot be shipped", versions_path.display()))?;

    let dispatch = match &o.dispatch {
        Some(d) => d.clone(),
        None => {
            if o.arch != host_arch() {
                bail!(
                    "cannot build for {} on {}: pass --dispatch with a binary built for it",
                    o.arch,
                    host_arch()
                );
            }
            build_dispatch(&o.project, &o.bin, target)?
        }
    };
    let binary =
        std::fs::read(&dispatch).with_context(|| format!("reading {}", dispatch.display()))?;
    match linkage(&binary)? {
        Linkage::Static => {}
        Linkage::Glibc(Some((a, b))) if (a, b) > (major, minor) => bail!(
            "{} needs GLIBC_{a}.{b}, newer than {}'s {major}.{minor}: build it statically (the default) or on that base",
            dispatch.display(),
            o.base
        ),
        Linkage::Glibc(_) => {}
    }

    // (No time stamp anywhere: the same inputs give the same file.)
    let mut files: Vec<(&str, Vec<u8>, u32)> = vec![
        ("dispatch", binary, 0o755),
        (
            "manifest.yaml",
            manifest(&o.base, &o.arch)?.into_bytes(),
            0o644,
        ),
        ("metadata.yaml", metadata.into_bytes(), 0o644),
    ];
    for optional in ["actions.yaml", "config.yaml"] {
        if let Ok(text) = read(optional) {
            files.push((optional, text.into_bytes(), 0o644));
        }
    }
    files.push(("versions.json", versions.into_bytes(), 0o644));

    std::fs::create_dir_all(&o.out_dir)?;
    let out = o
        .out_dir
        .join(format!("{name}{}_{}-{}.charm", o.suffix, o.base, o.arch));
    let tmp = out.with_extension("charm.tmp");
    {
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut zip = zip::ZipWriter::new(file);
        for (path, data, mode) in &files {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode)
                .last_modified_time(zip::DateTime::default());
            zip.start_file(*path, options)?;
            zip.write_all(data)?;
        }
        zip.finish()?;
    }
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_member_builds_into_the_workspace_s_pack_directory() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap();
        let member = root.join("examples/kv-charm");
        assert_eq!(
            pack_target_dir(&cargo, &member).unwrap(),
            root.join("target/pack")
        );
        assert_eq!(
            pack_target_dir(&cargo, &root).unwrap(),
            root.join("target/pack")
        );
        let nowhere = tempfile::tempdir().unwrap();
        let err = pack_target_dir(&cargo, nowhere.path()).unwrap_err();
        assert!(err.to_string().contains("is not a cargo project"), "{err}");
    }

    #[test]
    fn reads_the_glibc_versions_a_dynamic_binary_needs() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match linkage(&me).unwrap() {
            Linkage::Glibc(Some((2, minor))) => assert!(minor >= 2, "GLIBC_2.{minor}"),
            other => panic!("a test binary is dynamically linked against glibc: {other:?}"),
        }
        assert!(linkage(b"not an elf").is_err());
    }

    #[test]
    fn bases_and_architectures() {
        assert_eq!(max_glibc("ubuntu@22.04").unwrap(), (2, 35));
        assert!(max_glibc("ubuntu@18.04").is_err());
        assert_eq!(rust_target("arm64").unwrap(), "aarch64-unknown-linux-gnu");
        assert!(rust_target("s390x").is_err());
        let m = manifest("ubuntu@22.04", "arm64").unwrap();
        assert!(m.contains("channel: '22.04'"), "{m}");
        assert!(!m.contains("charmcraft"), "{m}");
        assert!(m.contains("packed-by: upgradectl "), "{m}");
        // It reads back as the shape Juju and charmcraft read.
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&m).unwrap();
        assert_eq!(v["bases"][0]["architectures"][0].as_str(), Some("arm64"));
        assert_eq!(v["bases"][0]["name"].as_str(), Some("ubuntu"));
        assert_eq!(
            v["analysis"]["attributes"][1]["name"].as_str(),
            Some("framework")
        );
    }

    #[test]
    fn the_variables_of_cargo_run_do_not_reach_the_inner_build() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
        ] {
            assert!(is_cargo_run_variable(name), "{name}");
        }
        // The user's own cargo settings do.
        for name in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_NET_OFFLINE",
            "CARGO",
        ] {
            assert!(!is_cargo_run_variable(name), "{name}");
        }
    }

    #[test]
    fn the_charm_name_is_read_as_yaml() {
        for (text, want) in [
            ("name: my-charm\n", "my-charm"),
            ("name: my-charm  # the charm's name\n", "my-charm"),
            ("name: \"my-charm\"\n", "my-charm"),
            ("# name: wrong\nsummary: x\nname: 'right'\n", "right"),
        ] {
            assert_eq!(metadata_name(text).unwrap(), want, "{text}");
        }
        for bad in [
            "summary: x\n",
            "name: 12\n",
            "name: My Charm\n",
            "name: [a]\n",
            "name: ': x\n",
        ] {
            assert!(metadata_name(bad).is_err(), "{bad}");
        }
    }
}
