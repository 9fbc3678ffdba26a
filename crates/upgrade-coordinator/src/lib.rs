//! A sans-IO in-place upgrade coordinator for Juju charms, behaviour- and wire-compatible
//! with Canonical's `charms.data_platform_libs.v0.upgrade` (LIBPATCH 18).
//!
//! One dispatch is one call to [`handle`]: the event, a [`View`] to read the peer relation
//! through, and the charm's [`UpgradeHooks`] in; [`Effects`] (databag writes, status, action
//! result, logs, the calls made) out. No process is run here: the charm's shell implements
//! [`View`] over Juju's hook tools and applies the effects.
#![warn(missing_docs)]

pub mod coordinator;
pub mod deps;
pub mod effects;
pub mod errors;
pub mod hooks;
#[cfg(feature = "k8s-client")]
pub mod k8s;
pub mod shell;
pub mod state;
pub mod testing;
pub mod view;
pub mod wire;

pub use coordinator::{
    handle, CoordinatorError, UpgradeConfig, UpgradeEvent, DEPENDENCIES_KEY, STACK_KEY, STATE_KEY,
};
pub use deps::{Dependency, DependencyModel, ModelError, StoredDependencies};
pub use effects::{Call, Effects, LogLine};
pub use errors::{
    ClusterNotReady, DependencyError, KubernetesClientError, UpgradeError, VersionError,
};
pub use hooks::{GrantOutcome, StackError, UpgradeContext, UpgradeHooks};
pub use state::{cluster_state, Substrate, UnitState};
pub use view::{Snapshot, View};
