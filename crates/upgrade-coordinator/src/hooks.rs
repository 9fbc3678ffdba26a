//! The charm author's side: [`UpgradeHooks`], the trait a charm implements.

use std::collections::BTreeMap;

use juju_hooks::{LogLevel, StringMap, UnitName};

use crate::deps::DependencyModel;
use crate::effects::Effects;
use crate::errors::{ClusterNotReady, DependencyError, KubernetesClientError};
use crate::state::{Substrate, UnitState};

/// What the charm's upgrade of this unit came to, returned from
/// [`UpgradeHooks::on_upgrade_granted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    /// The unit runs the new version and is healthy. The coordinator marks it `completed`
    /// and, on a machine leader, re-evaluates the stack at once (the reference asks charms to
    /// call `on_upgrade_changed` themselves for this: Juju never tells the leader about its
    /// own write).
    Completed,
    /// The upgrade failed: the unit is marked `failed` (Blocked with `cause`) and the
    /// rollback instructions are logged.
    Failed {
        /// Shown as the unit's Blocked status message.
        cause: Option<String>,
    },
    /// The charm finishes later (e.g. when the workload reports ready in another hook) and
    /// then sends [`UpgradeEvent::UnitCompleted`](crate::UpgradeEvent::UnitCompleted) or
    /// [`UpgradeEvent::UnitFailed`](crate::UpgradeEvent::UnitFailed).
    InProgress,
}

/// A refreshed unit's workload, as [`UpgradeHooks::unit_health`] reports it to the
/// `resume-upgrade` health gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitHealth {
    /// Healthy: the upgrade may go on.
    Healthy,
    /// Not healthy, and why.
    Unhealthy(String),
    /// The unit has not said.
    Unknown,
}

impl UnitHealth {
    /// A unit's health as its databag publishes it under [`HEALTH_KEY`](crate::HEALTH_KEY):
    /// `healthy`, or `unhealthy: <why>`; no value is [`UnitHealth::Unknown`].
    pub fn from_bag(bag: Option<&StringMap>) -> UnitHealth {
        match bag
            .and_then(|b| b.get(crate::HEALTH_KEY))
            .map(String::as_str)
        {
            Some("healthy") => UnitHealth::Healthy,
            Some("") | None => UnitHealth::Unknown,
            Some(other) => UnitHealth::Unhealthy(
                other
                    .strip_prefix("unhealthy:")
                    .unwrap_or(other)
                    .trim()
                    .to_owned(),
            ),
        }
    }

    /// The value a unit publishes under [`HEALTH_KEY`](crate::HEALTH_KEY) for this health,
    /// which [`UnitHealth::from_bag`] reads back: `healthy`, `unhealthy: <why>`, and the
    /// empty value (the key removed) for [`UnitHealth::Unknown`].
    pub fn to_wire(&self) -> String {
        match self {
            UnitHealth::Healthy => "healthy".to_owned(),
            UnitHealth::Unhealthy(why) => format!("unhealthy: {why}"),
            UnitHealth::Unknown => String::new(),
        }
    }
}

impl std::fmt::Display for UnitHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitHealth::Healthy => f.write_str("healthy"),
            // (A peer's text, shown short whatever it wrote.)
            UnitHealth::Unhealthy(why) => {
                write!(f, "unhealthy: {}", crate::wire::truncate(why, 80))
            }
            UnitHealth::Unknown => f.write_str("has not reported its health"),
        }
    }
}

/// Why [`UpgradeHooks::build_upgrade_stack`] produced no stack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// The charm does not build stacks (the reference's `NotImplementedError`).
    #[error("this charm does not build an upgrade stack")]
    NotImplemented,
    /// The charm could not build one.
    #[error("{0}")]
    Failed(String),
}

/// What a hook sees while the coordinator calls it: who it runs on, the data already read in
/// this dispatch, and a log. Writes to this unit's databag made here (extra keys, e.g. a
/// workload health flag) are flushed with the coordinator's own.
pub struct UpgradeContext<'c> {
    pub(crate) unit: &'c UnitName,
    pub(crate) substrate: Substrate,
    pub(crate) leader: bool,
    pub(crate) model: &'c DependencyModel,
    pub(crate) peers: &'c [UnitName],
    pub(crate) bags: &'c mut BTreeMap<UnitName, StringMap>,
    pub(crate) own_pending: &'c mut StringMap,
    pub(crate) effects: &'c mut Effects,
    /// Shows a status at once (the view's `publish_status`); its error in words.
    pub(crate) publish: &'c mut dyn FnMut(&juju_hooks::Status) -> Result<(), String>,
    /// The refresh-back command, on the paths that fail a unit.
    pub(crate) rollback: Option<&'c str>,
}

impl UpgradeContext<'_> {
    /// This unit.
    pub fn unit(&self) -> &UnitName {
        self.unit
    }

    /// The substrate.
    pub fn substrate(&self) -> Substrate {
        self.substrate
    }

    /// Whether this unit leads.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The charm's dependency model (the versions it ships).
    pub fn dependency_model(&self) -> &DependencyModel {
        self.model
    }

    /// The version of `entry` (e.g. `workload`) in the versions file this charm ships: what
    /// the unit upgrades to.
    pub fn shipped_version(&self, entry: &str) -> Option<&str> {
        self.model.get(entry).map(|d| d.version.as_str())
    }

    /// The first peer (in unit order) whose published health ([`UnitHealth::from_bag`]) is
    /// not healthy, for a pre-check that refuses while one is not (every bag has been read
    /// before [`UpgradeHooks::pre_upgrade_check`]).
    pub fn unhealthy_peer(&self) -> Option<(&UnitName, UnitHealth)> {
        self.peers
            .iter()
            .find_map(|p| match UnitHealth::from_bag(self.bags.get(p)) {
                UnitHealth::Healthy => None,
                other => Some((p, other)),
            })
    }

    /// The other units of the peer relation.
    pub fn peers(&self) -> &[UnitName] {
        self.peers
    }

    /// A unit's databag as read in this dispatch (this unit's with its pending writes).
    /// Before `pre_upgrade_check` every unit's bag has been read; elsewhere a bag the
    /// coordinator did not need is `None` (it reads nothing it does not need).
    pub fn unit_data(&self, unit: &UnitName) -> Option<&StringMap> {
        self.bags.get(unit)
    }

    /// A unit's upgrade state, if its databag was read and holds a known state.
    pub fn unit_state(&self, unit: &UnitName) -> Option<UnitState> {
        self.bags
            .get(unit)
            .and_then(|b| b.get("state"))
            .and_then(|s| UnitState::parse(s))
    }

    /// Writes an extra key to this unit's databag. The coordinator's `state` key is refused
    /// (use the hook's return value): returns false then.
    pub fn set_unit_field(&mut self, key: &str, value: &str) -> bool {
        if key == "state" {
            return false;
        }
        match self.bags.get_mut(self.unit) {
            Some(bag) => bag.insert(key.to_owned(), value.to_owned()),
            None => self.own_pending.insert(key.to_owned(), value.to_owned()),
        };
        self.effects
            .unit_data
            .insert(key.to_owned(), value.to_owned());
        true
    }

    /// Publishes this unit's workload health in its databag (see [`UnitHealth::to_wire`]),
    /// where the default [`UpgradeHooks::unit_health`] and the peers' pre-upgrade checks
    /// ([`Self::unhealthy_peer`]) read it.
    pub fn publish_health(&mut self, health: &UnitHealth) {
        self.set_unit_field(crate::HEALTH_KEY, &health.to_wire());
    }

    /// The command that refreshes the application back to the revision the leader recorded
    /// at `pre-upgrade-check` (`juju refresh <app> --revision 12`, or the `--path` form for a
    /// local charm), in [`UpgradeHooks::log_rollback_instructions`]; `None` elsewhere, or when
    /// no pre-check recorded one (see [`refresh_back_command`](crate::refresh_back_command)).
    pub fn rollback_command(&self) -> Option<&str> {
        self.rollback
    }

    /// Logs a line (sent to `juju-log` by the charm's shell).
    pub fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.effects.log(level, message);
    }

    /// Shows `status` on this unit at once, before the dispatch ends: progress of long work
    /// in [`UpgradeHooks::on_upgrade_granted`] (`stopping the workload`, `installing 1.1.0`,
    /// ...). The unit's final status is still the coordinator's. A failure to show it is
    /// logged at WARNING and does not fail the hook.
    pub fn publish_status(&mut self, status: juju_hooks::Status) {
        if let Err(e) = (self.publish)(&status) {
            self.effects.log(
                LogLevel::Warning,
                format!("could not show the status {:?}: {e}", status.message()),
            );
        }
    }

    /// The workload now runs `version`: `juju status` shows it from the end of this
    /// dispatch (`application-version-set`). Call it in the hook that upgraded the workload
    /// (e.g. [`UpgradeHooks::on_upgrade_granted`]), so the operator never reads the old
    /// version beside a unit that already runs the new one.
    pub fn set_workload_version(&mut self, version: &str) {
        self.effects.workload_version = Some(version.to_owned());
    }
}

/// The charm author's part of an in-place upgrade, called by the coordinator at the moments
/// the reference library calls the methods of the same names.
///
/// Two methods are mandatory: [`pre_upgrade_check`](Self::pre_upgrade_check) and
/// [`on_upgrade_granted`](Self::on_upgrade_granted), where the unit actually upgrades its
/// workload (machines; on Kubernetes [`on_pod_upgraded`](Self::on_pod_upgraded), whose
/// default calls it). The others have the defaults most charms want. Every method receives
/// an [`UpgradeContext`].
///
/// See the crate documentation for a complete example.
pub trait UpgradeHooks {
    /// Is the cluster healthy enough to upgrade? Runs on the leader in the
    /// `pre-upgrade-check` action; an error fails the action with its message.
    fn pre_upgrade_check(&mut self, cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady>;

    /// Machines only: the upgrade order, as a stack whose *last* element upgrades first
    /// (convention: the workload's leader at index 0, so it goes last). Must name every unit
    /// of the application exactly once. On Kubernetes the coordinator builds the stack itself
    /// (ascending ordinals: the highest pod goes first) and never calls this.
    ///
    /// The default (called on the leader, in `pre-upgrade-check`): the leader last, the other
    /// units from the highest number down, `[leader, 1, 2, 3]`. Override it when the workload
    /// has its own primary (a database's) that should go last instead; return
    /// [`StackError::Failed`] to fail the pre-check with a reason.
    fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        let mut others: Vec<u32> = cx.peers().iter().map(UnitName::number).collect();
        others.sort_unstable();
        let mut stack = vec![cx.unit().number()];
        stack.extend(others);
        Ok(stack)
    }

    /// This unit may upgrade now: stop the workload, install the new version, start it,
    /// check it. Return [`GrantOutcome::Completed`] or [`GrantOutcome::Failed`], or
    /// [`GrantOutcome::InProgress`] to report later. A [`DependencyError`] marks the unit
    /// failed. On Kubernetes the pod already runs the new charm; charms usually return
    /// `InProgress` and report completion once the workload is ready.
    fn on_upgrade_granted(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError>;

    /// Kubernetes only: this pod runs the new charm (Kubernetes recreated it) and its unit's
    /// state is `upgrading` ([`UpgradeEvent::PodUpgraded`](crate::UpgradeEvent::PodUpgraded)):
    /// bring the workload to the new version, check it, and say how it went, as in
    /// [`on_upgrade_granted`](Self::on_upgrade_granted) (`InProgress` to report later with
    /// [`UpgradeEvent::UnitCompleted`](crate::UpgradeEvent::UnitCompleted)).
    ///
    /// The default calls `on_upgrade_granted`, so one method upgrades the workload on both
    /// substrates. A charm whose new image *is* the upgrade returns `Completed` once the
    /// workload answers.
    fn on_pod_upgraded(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        self.on_upgrade_granted(cx)
    }

    /// Kubernetes only: runs after the coordinator's own handling of a finished unit.
    fn on_upgrade_finished(&mut self, cx: &mut UpgradeContext<'_>) {
        let _ = cx;
    }

    /// Logs what the operator must do to roll back (called whenever a unit is marked failed).
    ///
    /// The default logs, at ERROR, `Upgrade failed on <unit>. To roll back: juju run
    /// <app>/leader pre-upgrade-check; then juju refresh <app> --revision <N>` with the
    /// revision of [`UpgradeContext::rollback_command`] (or a placeholder naming it when no
    /// pre-check recorded one).
    fn log_rollback_instructions(&mut self, cx: &mut UpgradeContext<'_>) {
        let app = cx.unit().app().to_owned();
        let refresh = cx
            .rollback_command()
            .map(str::to_owned)
            .unwrap_or_else(|| crate::refresh_back_command(&app, None));
        let line = format!(
            "Upgrade failed on {}. To roll back: juju run {app}/leader pre-upgrade-check; then {refresh}",
            cx.unit()
        );
        cx.log(LogLevel::Error, line);
    }

    /// How `unit` (a refreshed unit) is doing, for `resume-upgrade`'s health gate
    /// (`check-health-of-refreshed-units`). `unit`'s databag has been read. The default
    /// reads the unit's [`HEALTH_KEY`](crate::HEALTH_KEY) (`healthy`, or `unhealthy: <why>`),
    /// which a charm publishes with [`UpgradeContext::set_unit_field`] or in its own hooks.
    fn unit_health(&mut self, cx: &UpgradeContext<'_>, unit: &UnitName) -> UnitHealth {
        UnitHealth::from_bag(cx.unit_data(unit))
    }

    /// Kubernetes only: may this charm patch its StatefulSet (was the application given
    /// `juju trust <app> --scope=cluster`)? Asked before the first partition patch, at
    /// `pre-upgrade-check` and at the leader's `upgrade-charm`, so that a missing trust is
    /// reported before anything is written. The default assumes it may (a charm without a
    /// way to ask); [`k8s::InClusterClient::can_patch`](crate::k8s::InClusterClient::can_patch)
    /// asks the API server.
    fn may_patch_partition(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<bool, KubernetesClientError> {
        let _ = cx;
        Ok(true)
    }

    /// Kubernetes only: set the StatefulSet's `spec.updateStrategy.rollingUpdate.partition`
    /// (the `upgrade-reference-charm` crate has a client).
    fn set_rolling_update_partition(
        &mut self,
        cx: &mut UpgradeContext<'_>,
        partition: u32,
    ) -> Result<(), KubernetesClientError> {
        let _ = (cx, partition);
        Err(KubernetesClientError::new(
            "Kubernetes StatefulSet patch failed",
            "this charm does not implement set_rolling_update_partition",
        ))
    }
}
