//! The reference library's error types, as typed values: each has a message, a cause and an
//! optional resolution, and prints in logs exactly as the Python library's `repr` does.

use std::fmt;

use crate::wire::py_repr_str;

/// The Python module the reference's exception classes live in (it appears in its log lines).
pub const PY_MODULE: &str = "charms.data_platform_libs.v0.upgrade";

/// Which of the reference's exception classes an error mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `ClusterNotReadyError`: the pre-upgrade check refused the upgrade.
    ClusterNotReady,
    /// `KubernetesClientError`: patching the StatefulSet failed.
    KubernetesClient,
    /// `VersionError`: the running version cannot be upgraded to the new one.
    Version,
    /// `DependencyError`: a dependency of the new version is not met.
    Dependency,
}

impl ErrorKind {
    /// The Python class name.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::ClusterNotReady => "ClusterNotReadyError",
            ErrorKind::KubernetesClient => "KubernetesClientError",
            ErrorKind::Version => "VersionError",
            ErrorKind::Dependency => "DependencyError",
        }
    }
}

/// An upgrade error: what happened, why, and what the operator can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeError {
    /// Which reference exception this is.
    pub kind: ErrorKind,
    /// Short description (used verbatim as the action failure message where the reference does).
    pub message: String,
    /// Why it happened (may be empty).
    pub cause: String,
    /// How to fix it (may be empty).
    pub resolution: String,
}

impl UpgradeError {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>, cause: impl Into<String>) -> Self {
        UpgradeError {
            kind,
            message: message.into(),
            cause: cause.into(),
            resolution: String::new(),
        }
    }

    /// Adds a resolution.
    pub fn with_resolution(mut self, resolution: impl Into<String>) -> Self {
        self.resolution = resolution.into();
        self
    }

    /// The line the reference logs for this error (`logger.error(e)` prints `repr(e)`):
    /// `charms.data_platform_libs.v0.upgrade.VersionError - {'message': ..., 'cause': ..., 'resolution': ...}`.
    pub fn py_log_line(&self) -> String {
        format!(
            "{PY_MODULE}.{} - {{'message': {}, 'cause': {}, 'resolution': {}}}",
            self.kind.class_name(),
            py_repr_str(&self.message),
            py_repr_str(&self.cause),
            py_repr_str(&self.resolution)
        )
    }
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.cause.is_empty() {
            write!(f, ": {}", self.cause)?;
        }
        if !self.resolution.is_empty() {
            write!(f, " ({})", self.resolution)?;
        }
        Ok(())
    }
}

impl std::error::Error for UpgradeError {}

macro_rules! kinded {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub UpgradeError);

        impl $name {
            /// A new error with a message and a cause.
            pub fn new(message: impl Into<String>, cause: impl Into<String>) -> Self {
                $name(UpgradeError::new($kind, message, cause))
            }

            /// Adds a resolution.
            pub fn with_resolution(self, resolution: impl Into<String>) -> Self {
                $name(self.0.with_resolution(resolution))
            }

            /// The message (the action failure text where the reference uses it).
            pub fn message(&self) -> &str {
                &self.0.message
            }

            /// The cause.
            pub fn cause(&self) -> &str {
                &self.0.cause
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::error::Error for $name {}
    };
}

kinded!(
    /// The cluster is not healthy enough to start (or continue) an upgrade. Returned by
    /// [`UpgradeHooks::pre_upgrade_check`](crate::UpgradeHooks::pre_upgrade_check); its message
    /// becomes the `pre-upgrade-check` action's failure message.
    ClusterNotReady,
    ErrorKind::ClusterNotReady
);
kinded!(
    /// Setting the StatefulSet's rolling-update partition failed.
    KubernetesClientError,
    ErrorKind::KubernetesClient
);
kinded!(
    /// A dependency of the new version is not met (returned from the granted hook: the unit
    /// is marked failed).
    DependencyError,
    ErrorKind::Dependency
);
kinded!(
    /// The stored versions cannot be upgraded to the charm's versions.
    VersionError,
    ErrorKind::Version
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_matches_python_repr() {
        let e = VersionError::new(
            "Versions incompatible, gandalf_the_white 0.2.1 can not be upgraded to 7",
            "Upgrades only supported for specific versions, gandalf_the_white versions satisfying requirement >1.2",
        );
        assert_eq!(
            e.0.py_log_line(),
            "charms.data_platform_libs.v0.upgrade.VersionError - {'message': 'Versions incompatible, gandalf_the_white 0.2.1 can not be upgraded to 7', 'cause': 'Upgrades only supported for specific versions, gandalf_the_white versions satisfying requirement >1.2', 'resolution': ''}"
        );
    }
}
