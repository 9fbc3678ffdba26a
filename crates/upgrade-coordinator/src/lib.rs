//! A sans-IO in-place upgrade coordinator for Juju charms, behaviour- and wire-compatible
//! with Canonical's `charms.data_platform_libs.v0.upgrade` (LIBPATCH 18): a fleet can be
//! refreshed from a Python charm using that library to a Rust charm using this crate in the
//! middle of an upgrade, because both read and write the same peer-relation data.
//!
//! # How it fits in a charm
//!
//! One dispatch is one call to [`handle`]: the event, a [`View`] to read the peer relation
//! through, and the charm's [`UpgradeHooks`] in; [`Effects`] (databag writes, status, action
//! result or failure, log lines, the calls made) out. Nothing here runs a process: in a charm,
//! [`shell::run_event`] reads through Juju's hook tools ([`juju_hooks::Model`]) and stages the
//! effects; in tests, [`Snapshot`] stands in for Juju.
//!
//! The charm ships its versions as a JSON file (see [`deps`]), routes five events here
//! (the peer relation's `relation-created` and `relation-changed`, `upgrade-charm`, and the
//! `pre-upgrade-check` and `resume-upgrade` actions) and implements [`UpgradeHooks`].
//!
//! # Example
//!
//! A machine charm whose units upgrade a workload when granted, leader last:
//!
//! ```
//! use juju_hooks::{LogLevel, Status, UnitName};
//! use upgrade_coordinator::{
//!     handle, ClusterNotReady, DependencyError, DependencyModel, GrantOutcome, Snapshot,
//!     StackError, Substrate, UpgradeConfig, UpgradeContext, UpgradeEvent, UpgradeHooks,
//! };
//!
//! struct MyCharm {
//!     healthy: bool,
//! }
//!
//! impl UpgradeHooks for MyCharm {
//!     fn pre_upgrade_check(&mut self, _cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
//!         if self.healthy {
//!             Ok(())
//!         } else {
//!             Err(ClusterNotReady::new(
//!                 "Pre-upgrade check failed and cannot safely upgrade",
//!                 "the workload is not serving",
//!             ))
//!         }
//!     }
//!
//!     // Last element upgrades first: the leader (this unit, as the action runs on it) goes last.
//!     fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
//!         let mut stack = vec![cx.unit().number()];
//!         stack.extend(cx.peers().iter().map(UnitName::number));
//!         Ok(stack)
//!     }
//!
//!     fn on_upgrade_granted(&mut self, cx: &mut UpgradeContext<'_>) -> Result<GrantOutcome, DependencyError> {
//!         cx.log(LogLevel::Info, "stopping, installing the new version, starting");
//!         Ok(GrantOutcome::Completed) // or Failed { cause }, or InProgress to report later
//!     }
//!
//!     fn log_rollback_instructions(&mut self, cx: &mut UpgradeContext<'_>) {
//!         cx.log(LogLevel::Error, "Upgrade failed: run pre-upgrade-check on the leader, then juju refresh back");
//!     }
//! }
//!
//! let config = UpgradeConfig::new(
//!     Substrate::Vm,
//!     DependencyModel::from_json(
//!         r#"{"workload": {"dependencies": {}, "name": "my-workload", "upgrade_supported": ">=1.0", "version": "1.1.0"}}"#,
//!     )?,
//! );
//!
//! // The operator runs `juju run app/leader pre-upgrade-check` on a healthy 3-unit cluster.
//! let me = UnitName::new("app", 0)?;
//! let mut world = Snapshot::new(me.clone());
//! world.leader = true;
//! for n in 0..3 {
//!     world.units.insert(UnitName::new("app", n)?, [("state".to_string(), "idle".to_string())].into());
//! }
//! let fx = handle(&config, &me, &UpgradeEvent::PreUpgradeCheck, &mut world, &mut MyCharm { healthy: true })?;
//! assert_eq!(fx.app_data["upgrade-stack"], "[0, 1, 2]"); // unit 2 goes first
//! assert_eq!(fx.action_failure, None);
//!
//! // After `juju refresh`, unit 2 (top of the stack) sees every unit ready and is granted.
//! let two = UnitName::new("app", 2)?;
//! let mut world = Snapshot::new(two.clone());
//! for n in 0..3 {
//!     world.units.insert(UnitName::new("app", n)?, [("state".to_string(), "ready".to_string())].into());
//! }
//! world.app.insert("upgrade-stack".into(), "[0, 1, 2]".into());
//! let fx = handle(&config, &two, &UpgradeEvent::RelationChanged, &mut world, &mut MyCharm { healthy: true })?;
//! assert_eq!(fx.unit_data["state"], "completed");
//! assert_eq!(fx.status, Some(Status::Maintenance("upgrade completed".into())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where this crate deliberately differs from the Python library (never on the wire) is
//! listed in the repository's `DEVIATIONS.md`.
#![warn(missing_docs)]

/// The examples of the crate's README, compiled (and run where they can) as doctests.
#[cfg(all(doctest, feature = "k8s-client"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "k8s-client")]
pub mod component;
pub mod coordinator;
pub mod deps;
pub mod effects;
pub mod errors;
pub mod hooks;
#[cfg(feature = "k8s-client")]
pub mod k8s;
pub mod shell;
pub mod state;
// Conformance-test support for this repository's tests and tools, not a public API (no
// semver promise): hidden from the docs.
#[doc(hidden)]
pub mod testing;
pub mod view;
pub mod wire;

#[cfg(feature = "k8s-client")]
pub use component::{InPlaceUpgrade, SetupError};
pub use coordinator::{
    handle, refresh_back_command, trust_message, CoordinatorError, UpgradeConfig, UpgradeEvent,
    DEPENDENCIES_KEY, FAILURE_KEY, HEALTH_KEY, MAX_STATUS, PAUSED_MESSAGE, PAUSE_CONFIG,
    RELEASED_KEY, RESUMED_KEY, ROLLBACK_CHARM_KEY, ROUND_KEY, STACK_KEY, STATE_KEY, VERSION_KEY,
    WAITING_MESSAGE,
};
pub use deps::{Dependency, DependencyModel, ModelError, StoredDependencies};
pub use effects::{Call, Effects, LogLine};
pub use errors::{
    ClusterNotReady, DependencyError, KubernetesClientError, UpgradeError, VersionError,
};
pub use hooks::{GrantOutcome, StackError, UnitHealth, UpgradeContext, UpgradeHooks};
pub use state::{cluster_state, PausePolicy, Substrate, UnitState};
pub use view::{Snapshot, View};
