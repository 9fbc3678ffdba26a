//! What one dispatch of the coordinator decided: the effects the charm's shell applies.

use juju_hooks::{LogLevel, Status, StringMap};

/// A log line for `juju-log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Level.
    pub level: LogLevel,
    /// Text.
    pub message: String,
}

/// A call the coordinator made into the charm (or into its own re-entrant handler), in order.
/// Kept for tests and traces: the reference's unit tests assert these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// The relation-changed logic (`on_upgrade_changed`) ran (once per entry, recursion included).
    UpgradeChanged,
    /// [`UpgradeHooks::pre_upgrade_check`](crate::UpgradeHooks::pre_upgrade_check).
    PreUpgradeCheck,
    /// [`UpgradeHooks::build_upgrade_stack`](crate::UpgradeHooks::build_upgrade_stack).
    BuildUpgradeStack,
    /// [`UpgradeHooks::on_upgrade_granted`](crate::UpgradeHooks::on_upgrade_granted).
    UpgradeGranted,
    /// The `upgrade_finished` handling (Kubernetes).
    UpgradeFinished,
    /// [`UpgradeHooks::on_pod_upgraded`](crate::UpgradeHooks::on_pod_upgraded) (Kubernetes).
    PodUpgraded,
    /// [`UpgradeHooks::log_rollback_instructions`](crate::UpgradeHooks::log_rollback_instructions).
    LogRollbackInstructions,
    /// [`UpgradeHooks::set_rolling_update_partition`](crate::UpgradeHooks::set_rolling_update_partition)
    /// with this partition.
    SetPartition(u32),
    /// The stack repair (`_repair_upgrade_stack`) ran.
    RepairStack,
}

/// The outcome of one dispatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Keys written to this unit's databag (final values).
    pub unit_data: StringMap,
    /// Keys written to the application databag (final values; leader only).
    pub app_data: StringMap,
    /// The unit status to set, if it changes.
    pub status: Option<Status>,
    /// Leader only: the application status, saying where the upgrade stands and what the
    /// operator does next (ours; the reference sets none).
    pub app_status: Option<Status>,
    /// Action results (`action-set`).
    pub action_results: StringMap,
    /// Action failure message (`action-fail`).
    pub action_failure: Option<String>,
    /// Log lines, in order.
    pub logs: Vec<LogLine>,
    /// Calls into the charm, in order.
    pub calls: Vec<Call>,
    /// The event must be deferred (re-run at the next dispatch).
    pub deferred: bool,
    /// The workload version to show in `juju status` (`application-version-set`), set by
    /// the charm's hooks through [`UpgradeContext::set_workload_version`](crate::UpgradeContext::set_workload_version)
    /// once the workload runs a new version.
    pub workload_version: Option<String>,
}

impl Effects {
    pub(crate) fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.logs.push(LogLine {
            level,
            message: message.into(),
        });
    }

    /// How many times `call` was made.
    pub fn count(&self, call: &Call) -> usize {
        self.calls.iter().filter(|c| *c == call).count()
    }
}
