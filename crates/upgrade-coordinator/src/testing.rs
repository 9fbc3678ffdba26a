//! Support for replaying the conformance scenarios recorded from the Python reference
//! (`scripts/record_reference.py`): their file format, and [`ScenarioHooks`], charm hooks
//! that behave as a scenario says. Used by this crate's conformance test and by the root
//! package's `scenario-dispatch` binary (the same scenarios through real processes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_hooks::StringMap;
use serde::Deserialize;

use crate::{
    Call, ClusterNotReady, DependencyError, GrantOutcome, KubernetesClientError, StackError,
    UpgradeContext, UpgradeEvent, UpgradeHooks,
};

/// One recorded scenario file: what went in and what the reference did.
#[derive(Debug, Deserialize)]
pub struct Doc {
    /// Input.
    pub scenario: Scenario,
    /// What the reference did.
    pub reference: Reference,
}

/// A scenario's input: the unit's view of the model and the event it handles.
#[derive(Debug, Deserialize)]
pub struct Scenario {
    /// The scenario's name (its file's stem).
    pub name: String,
    /// The event, as the recorder names it (`upgrade_charm`, `pre_upgrade_check`, ...).
    pub event: String,
    /// `vm` or `k8s`.
    pub substrate: String,
    /// The number of the unit that handles the event.
    pub unit: u32,
    /// Whether that unit is the leader.
    pub leader: bool,
    /// Whether the peer relation exists.
    pub relation: bool,
    /// Every unit's databag, by unit number.
    pub units: BTreeMap<u32, StringMap>,
    /// The application databag.
    pub app: StringMap,
    /// `goal-state`'s unit count, when the scenario sets one.
    pub planned_units: Option<usize>,
    /// The charm's versions (a `versions.json` document).
    pub dependency_model: serde_json::Value,
    /// How each charm hook behaves (see [`ScenarioHooks`]).
    pub hooks: BTreeMap<String, serde_json::Value>,
    /// The failure cause a `set_unit_failed` scenario passes.
    pub cause: Option<String>,
}

/// What the Python reference did with a scenario.
#[derive(Debug, Deserialize)]
pub struct Reference {
    /// The `action-fail` message, if the action failed.
    pub action_failure: Option<String>,
    /// The `action-set` results, if any.
    pub action_results: Option<StringMap>,
    /// The exception the hook ended on, if it crashed.
    pub crashed: Option<String>,
    /// The unit status set (`status`, `message`).
    #[serde(default)]
    pub unit_status: Option<(String, String)>,
    /// The events deferred.
    #[serde(default)]
    pub deferred: Vec<String>,
    /// The unit databag after the hook.
    #[serde(default)]
    pub unit_data: StringMap,
    /// The application databag after the hook.
    #[serde(default)]
    pub app_data: StringMap,
    /// The charm hooks called, in order.
    pub calls: Vec<String>,
    /// The log lines (`level`, `message`).
    pub logs: Vec<(String, String)>,
}

/// The charm hooks a scenario describes.
pub struct ScenarioHooks<'s>(pub &'s BTreeMap<String, serde_json::Value>);

impl ScenarioHooks<'_> {
    fn word(&self, hook: &str, default: &str) -> String {
        self.0
            .get(hook)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_owned()
    }
}

impl UpgradeHooks for ScenarioHooks<'_> {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        match self.0.get("pre_upgrade_check") {
            Some(serde_json::Value::Object(e)) => {
                let text = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                Err(ClusterNotReady::new(text("message"), text("cause"))
                    .with_resolution(text("resolution")))
            }
            _ => Ok(()),
        }
    }

    fn build_upgrade_stack(&mut self, _: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        match self.0.get("build_upgrade_stack") {
            Some(serde_json::Value::Array(ids)) => Ok(ids
                .iter()
                .filter_map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect()),
            _ => Err(StackError::NotImplemented),
        }
    }

    fn on_upgrade_granted(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        match self.word("on_upgrade_granted", "in_progress").as_str() {
            "completed" => Ok(GrantOutcome::Completed),
            "failed" => Ok(GrantOutcome::Failed { cause: None }),
            "dependency_error" => Err(DependencyError::new(
                "gandalf_the_grey 4 is too old",
                "needs >5",
            )),
            _ => Ok(GrantOutcome::InProgress),
        }
    }

    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}

    fn set_rolling_update_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
        _: u32,
    ) -> Result<(), KubernetesClientError> {
        if self.word("set_rolling_update_partition", "ok") == "error" {
            Err(KubernetesClientError::new(
                "Kubernetes StatefulSet patch failed",
                "`juju trust` needed",
            ))
        } else {
            Ok(())
        }
    }
}

/// A [`Call`] by the name the recordings use.
pub fn call_name(call: &Call) -> String {
    match call {
        Call::UpgradeChanged => "upgrade_changed".into(),
        Call::PreUpgradeCheck => "pre_upgrade_check".into(),
        Call::BuildUpgradeStack => "build_upgrade_stack".into(),
        Call::UpgradeGranted => "upgrade_granted".into(),
        Call::PodUpgraded => "pod_upgraded".into(),
        Call::UpgradeFinished => "upgrade_finished".into(),
        Call::LogRollbackInstructions => "log_rollback_instructions".into(),
        Call::SetPartition(n) => format!("set_partition:{n}"),
        Call::RepairStack => "repair_stack".into(),
    }
}

/// The coordinator event of a scenario (`None` for an unknown name).
pub fn event_of(s: &Scenario) -> Option<UpgradeEvent> {
    Some(match s.event.as_str() {
        "relation-created" => UpgradeEvent::RelationCreated,
        "relation-changed" => UpgradeEvent::RelationChanged,
        "upgrade-charm" => UpgradeEvent::UpgradeCharm,
        "pre-upgrade-check" => UpgradeEvent::PreUpgradeCheck,
        "resume-upgrade" => UpgradeEvent::ResumeUpgrade { check_health: true },
        "unit-completed" => UpgradeEvent::UnitCompleted,
        "unit-failed" => UpgradeEvent::UnitFailed {
            cause: s.cause.clone(),
        },
        "upgrade-finished" => UpgradeEvent::UpgradeFinished,
        _ => return None,
    })
}

/// Scenarios where the coordinator deliberately differs from the reference, with the
/// DEVIATIONS.md entry that explains each.
pub const DEVIATIONS: &[(&str, &str)] = &[
    ("changed_top_unit_not_in_relation", "D1"),
    (
        "upgrade_charm_first_to_rollback_vm_leader_top_absent_peers",
        "D1",
    ),
    ("upgrade_charm_first_to_rollback_vm_leader_True", "D1"),
    ("upgrade_charm_vm_leader_without_stored_deps", "D2"),
    ("upgrade_charm_vm_leader_stored_deps_missing_field", "D2"),
    ("upgrade_charm_vm_leader_stored_deps_malformed", "D2"),
    ("upgrade_charm_malformed_stack", "D3"),
    ("changed_malformed_stack_nonlist", "D3"),
    ("finished_k8s_leader_False_unit_1_error", "D4"),
    ("completed_k8s_partition_error", "D4"),
    ("changed_vm_grant_dependency_error", "D5"),
];

/// The DEVIATIONS.md entry of a scenario, if it is one.
pub fn deviation_of(name: &str) -> Option<&'static str> {
    DEVIATIONS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// The recorded scenario files in `dir`, sorted.
pub fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Removes the keys only this coordinator writes (DEVIATIONS.md D14 `upgrade-round`, D18
/// `upgrade-resumed`): the reference's keys must match exactly, ours are extra.
pub fn drop_our_keys(unit_data: &mut StringMap, app_data: &mut StringMap) {
    unit_data.remove(crate::ROUND_KEY);
    unit_data.remove(crate::FAILURE_KEY);
    app_data.remove(crate::ROUND_KEY);
    app_data.remove(crate::RESUMED_KEY);
    app_data.remove(crate::RELEASED_KEY);
    app_data.remove(crate::ROLLBACK_CHARM_KEY);
}

/// A unit status message as the reference shows it: ours adds what the unit runs
/// (` (workload 1.0.0, new charm)`, issue 14) to the upgrade statuses.
pub fn reference_status(message: &str) -> &str {
    match message.rfind(" (workload ") {
        Some(at) if message.ends_with(" charm)") => &message[..at],
        _ => message,
    }
}

/// Removes the action results only this coordinator gives (the pre-check's refresh back and
/// pause policy, issue 14): the reference's pre-check sets none.
pub fn drop_our_results(results: &mut StringMap) {
    results.remove("rollback-command");
    results.remove(crate::PAUSE_CONFIG);
    if results.get("message").is_some_and(|m| {
        m.starts_with("Ready to upgrade: ") || m.starts_with("Ready to roll back: ")
    }) {
        results.remove("message");
    }
}

/// What a run under test did, in the terms the recordings use.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The unit databag after the run.
    pub unit_data: StringMap,
    /// The application databag after the run.
    pub app_data: StringMap,
    /// The unit status set (`status`, `message`).
    pub status: Option<(String, String)>,
    /// The `action-fail` message, if any.
    pub action_failure: Option<String>,
    /// The `action-set` results.
    pub action_results: StringMap,
    /// Whether the event was deferred.
    pub deferred: bool,
    /// The calls into the charm, when the run can see them (in-process only).
    pub calls: Option<Vec<String>>,
    /// The log lines to compare (the caller leaves out what is its own).
    pub logs: Vec<(String, String)>,
}

impl Reference {
    /// Everything that differs from what the reference did, one readable entry each.
    pub fn differences(&self, o: &Observed) -> Vec<String> {
        let mut diffs = Vec::new();
        let mut check = |what: &str, ours: String, theirs: String| {
            if ours != theirs {
                diffs.push(format!(
                    "{what}:\n    ours:      {ours}\n    reference: {theirs}"
                ));
            }
        };
        check(
            "unit databag",
            format!("{:?}", o.unit_data),
            format!("{:?}", self.unit_data),
        );
        check(
            "app databag",
            format!("{:?}", o.app_data),
            format!("{:?}", self.app_data),
        );
        check(
            "unit status",
            format!("{:?}", o.status),
            format!("{:?}", self.unit_status),
        );
        check(
            "action failure",
            format!("{:?}", o.action_failure),
            format!("{:?}", self.action_failure),
        );
        check(
            "action results",
            format!("{:?}", o.action_results),
            format!("{:?}", self.action_results.clone().unwrap_or_default()),
        );
        check(
            "deferred",
            format!("{}", o.deferred),
            format!("{}", self.deferred.iter().any(|d| d == "upgrade_charm")),
        );
        if let Some(calls) = &o.calls {
            check("calls", format!("{calls:?}"), format!("{:?}", self.calls));
        }
        check(
            "logs",
            format!("{:#?}", o.logs),
            format!("{:#?}", self.logs),
        );
        diffs
    }
}
