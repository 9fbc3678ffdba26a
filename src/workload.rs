//! The reference charm's workload: a small service whose version ships in the charm's
//! versions file. Its operations sit behind [`Workload`] so that a simulator (or a test) can
//! stand in for the machine, and so that a unit can be made to fail its upgrade on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a workload operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {reason}")]
pub struct WorkloadError {
    /// `install 1.2.0`, `start`, ...
    pub operation: String,
    /// What went wrong.
    pub reason: String,
}

impl WorkloadError {
    fn new(operation: impl Into<String>, reason: impl Into<String>) -> Self {
        WorkloadError {
            operation: operation.into(),
            reason: reason.into(),
        }
    }
}

/// The workload's health as the charm publishes it to its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Running this version.
    Healthy {
        /// The running version.
        version: String,
    },
    /// Not serving, with the reason.
    Unhealthy(String),
}

/// What the charm does to its workload.
pub trait Workload {
    /// Installs `version` (the service must be stopped).
    fn install(&mut self, version: &str) -> Result<(), WorkloadError>;
    /// Starts the service.
    fn start(&mut self) -> Result<(), WorkloadError>;
    /// Stops the service.
    fn stop(&mut self) -> Result<(), WorkloadError>;
    /// Is it running, and which version?
    fn health(&mut self) -> Health;
}

/// A workload kept in a directory: the simulator's and the tests' stand-in for a machine.
///
/// Files: `version` (installed version), `running` (present while started). Faults:
/// a file `fail-install` holding a version makes installing exactly that version fail (the
/// simulator's "this unit fails its upgrade"); `fail-start` makes every start fail.
#[derive(Debug, Clone)]
pub struct DirWorkload {
    root: PathBuf,
}

impl DirWorkload {
    /// A workload in `root` (created on first install).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirWorkload { root: root.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path(name))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn io(op: &str, e: std::io::Error) -> WorkloadError {
        WorkloadError::new(op, e.to_string())
    }
}

impl Workload for DirWorkload {
    fn install(&mut self, version: &str) -> Result<(), WorkloadError> {
        let op = format!("install {version}");
        if self.read("fail-install").as_deref() == Some(version) {
            return Err(WorkloadError::new(
                op,
                "the package did not install (injected fault)",
            ));
        }
        if self.path("running").exists() {
            return Err(WorkloadError::new(
                op,
                "the service is running; stop it first",
            ));
        }
        std::fs::create_dir_all(&self.root).map_err(|e| Self::io(&op, e))?;
        std::fs::write(self.path("version"), format!("{version}\n")).map_err(|e| Self::io(&op, e))
    }

    fn start(&mut self) -> Result<(), WorkloadError> {
        if let Some(reason) = self.read("fail-start") {
            return Err(WorkloadError::new(
                "start",
                format!("{reason} (injected fault)"),
            ));
        }
        let Some(version) = self.read("version") else {
            return Err(WorkloadError::new("start", "nothing is installed"));
        };
        std::fs::write(self.path("running"), format!("{version}\n"))
            .map_err(|e| Self::io("start", e))
    }

    fn stop(&mut self) -> Result<(), WorkloadError> {
        match std::fs::remove_file(self.path("running")) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io("stop", e)),
        }
    }

    fn health(&mut self) -> Health {
        match (self.read("running"), self.read("version")) {
            (Some(running), Some(installed)) if running == installed => {
                Health::Healthy { version: running }
            }
            (Some(running), Some(installed)) => Health::Unhealthy(format!(
                "running {running} but {installed} is installed; restart needed"
            )),
            (None, Some(_)) => Health::Unhealthy("the service is stopped".into()),
            (_, None) => Health::Unhealthy("nothing is installed".into()),
        }
    }
}

/// The real workload on a machine: a systemd service `upgrade-reference-workload` whose
/// installed version lives in `<root>/var/lib/upgrade-reference/version` and reaches the
/// service as `WORKLOAD_VERSION`. `systemctl` runs without a shell, with fixed arguments.
/// A file `<root>/var/lib/upgrade-reference/fail-install` naming a version makes installing
/// that version fail (fault injection for drills and the integration tests).
#[derive(Debug, Clone)]
pub struct SystemdWorkload {
    root: PathBuf,
    systemctl: PathBuf,
}

/// The service's name.
pub const SERVICE: &str = "upgrade-reference-workload";

impl SystemdWorkload {
    /// The workload under `/`, managed with `systemctl` from `PATH`.
    pub fn new() -> Self {
        SystemdWorkload::with_root("/", "systemctl")
    }

    /// The workload under `root` (tests), managed with `systemctl`.
    pub fn with_root(root: impl Into<PathBuf>, systemctl: impl Into<PathBuf>) -> Self {
        SystemdWorkload {
            root: root.into(),
            systemctl: systemctl.into(),
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("var/lib/upgrade-reference")
    }

    fn unit_file(&self) -> PathBuf {
        self.root
            .join("etc/systemd/system")
            .join(format!("{SERVICE}.service"))
    }

    fn systemctl(&self, args: &[&str]) -> Result<std::process::Output, WorkloadError> {
        Command::new(&self.systemctl)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| WorkloadError::new(format!("systemctl {}", args.join(" ")), e.to_string()))
    }

    fn systemctl_ok(&self, op: &str, args: &[&str]) -> Result<(), WorkloadError> {
        let out = self.systemctl(args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(WorkloadError::new(
                op,
                format!(
                    "systemctl {} exited with {}: {}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ))
        }
    }

    fn write(path: &Path, text: &str, op: &str) -> Result<(), WorkloadError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WorkloadError::new(op, e.to_string()))?;
        }
        std::fs::write(path, text).map_err(|e| WorkloadError::new(op, e.to_string()))
    }
}

impl Default for SystemdWorkload {
    fn default() -> Self {
        SystemdWorkload::new()
    }
}

impl Workload for SystemdWorkload {
    fn install(&mut self, version: &str) -> Result<(), WorkloadError> {
        let op = format!("install {version}");
        // Fault injection for integration tests and drills: a file naming a version makes
        // installing exactly that version fail (`echo 1.1.0 > .../fail-install`).
        let fault = std::fs::read_to_string(self.state_dir().join("fail-install")).ok();
        if fault.as_deref().map(str::trim) == Some(version) {
            return Err(WorkloadError::new(
                op,
                "the package did not install (injected fault)",
            ));
        }
        let version_file = self.state_dir().join("version");
        let unit = format!(
            "[Unit]\nDescription=In-place upgrade reference workload\n\n[Service]\nEnvironmentFile={}\nExecStart=/bin/sh -c 'echo \"serving version $WORKLOAD_VERSION\"; exec sleep infinity'\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
            self.state_dir().join("env").display()
        );
        Self::write(&version_file, &format!("{version}\n"), &op)?;
        Self::write(
            &self.state_dir().join("env"),
            &format!("WORKLOAD_VERSION={version}\n"),
            &op,
        )?;
        Self::write(&self.unit_file(), &unit, &op)?;
        self.systemctl_ok(&op, &["daemon-reload"])
    }

    fn start(&mut self) -> Result<(), WorkloadError> {
        self.systemctl_ok("start", &["start", SERVICE])
    }

    fn stop(&mut self) -> Result<(), WorkloadError> {
        self.systemctl_ok("stop", &["stop", SERVICE])
    }

    fn health(&mut self) -> Health {
        let version = std::fs::read_to_string(self.state_dir().join("version"))
            .ok()
            .map(|s| s.trim().to_owned());
        let Some(version) = version else {
            return Health::Unhealthy("nothing is installed".into());
        };
        match self.systemctl(&["is-active", "--quiet", SERVICE]) {
            Ok(out) if out.status.success() => Health::Healthy { version },
            Ok(_) => Health::Unhealthy(format!("{SERVICE} is not active")),
            Err(e) => Health::Unhealthy(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_workload_installs_runs_and_fails_on_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DirWorkload::new(dir.path().join("w"));
        assert_eq!(w.health(), Health::Unhealthy("nothing is installed".into()));
        w.install("1.0.0").unwrap();
        assert_eq!(
            w.health(),
            Health::Unhealthy("the service is stopped".into())
        );
        w.start().unwrap();
        assert_eq!(
            w.health(),
            Health::Healthy {
                version: "1.0.0".into()
            }
        );
        assert!(w.install("1.1.0").is_err(), "install while running");
        w.stop().unwrap();
        std::fs::write(dir.path().join("w/fail-install"), "1.1.0\n").unwrap();
        let err = w.install("1.1.0").unwrap_err();
        assert!(err.to_string().contains("injected fault"), "{err}");
        w.install("1.2.0").unwrap();
        w.start().unwrap();
        assert_eq!(
            w.health(),
            Health::Healthy {
                version: "1.2.0".into()
            }
        );
    }

    #[test]
    fn systemd_workload_writes_the_unit_and_drives_systemctl() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let fake = dir.path().join("systemctl");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\n[ \"$1\" != is-active ] || [ -e '{}/active' ]\n",
                log.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut w = SystemdWorkload::with_root(dir.path().join("root"), &fake);
        w.install("2.0.1").unwrap();
        w.start().unwrap();
        assert_eq!(
            w.health(),
            Health::Unhealthy(format!("{SERVICE} is not active"))
        );
        std::fs::write(dir.path().join("active"), "").unwrap();
        assert_eq!(
            w.health(),
            Health::Healthy {
                version: "2.0.1".into()
            }
        );
        w.stop().unwrap();
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            calls,
            format!("daemon-reload\nstart {SERVICE}\nis-active --quiet {SERVICE}\nis-active --quiet {SERVICE}\nstop {SERVICE}\n")
        );
        let env =
            std::fs::read_to_string(dir.path().join("root/var/lib/upgrade-reference/env")).unwrap();
        assert_eq!(env, "WORKLOAD_VERSION=2.0.1\n");
        assert!(dir
            .path()
            .join("root/etc/systemd/system/upgrade-reference-workload.service")
            .exists());
    }
}
