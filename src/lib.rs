//! The reference charm: what `dispatch` runs for every hook and action.
//!
//! It is the reference user of the [`upgrade_coordinator`] API: a small but real workload
//! (a service whose version ships in the charm's `versions.json`) upgraded in place, one unit
//! at a time, over the `upgrade` peer relation, wire-compatible with the Python library
//! `charms.data_platform_libs.v0.upgrade`.
//!
//! - Its pre-upgrade check reads every unit's published workload health (`workload-health`
//!   and `workload-version` in each unit's peer databag) and its own workload directly.
//! - When granted, a unit stops the workload, installs the version of the `workload` entry
//!   of `versions.json`, starts it, checks it, and reports completed or failed.
//! - Its rollback instructions name the exact commands: at `pre-upgrade-check` the leader
//!   stores the charm URL Juju deployed (`.juju-charm`) under `rollback-charm` in the app bag,
//!   and a failed unit logs `juju refresh <app> --revision <that revision>`.
//!
//! The workload sits behind [`Workload`]; `dispatch` picks [`SystemdWorkload`] on a machine
//! and [`DirWorkload`] when `UPGRADE_COORDINATOR_WORKLOAD_DIR` is set (simulator, tests).

#![warn(missing_docs)]

pub mod workload;

use std::path::Path;

use juju_hooks::{
    Charm, Event, Handled, LogLevel, Model, ModelError, RelationEventKind, Status, WriteTarget,
};
use upgrade_coordinator::component::is_upgrade_event;
use upgrade_coordinator::{
    ClusterNotReady, DependencyError, GrantOutcome, InPlaceUpgrade, SetupError, UnitState,
    UpgradeContext, UpgradeHooks, STATE_KEY,
};

pub use upgrade_coordinator::component::{
    ACTIONS, CHARM_URL_FILE, PRE_CHECK_FAILED, VERSIONS_FILE,
};
pub use workload::{DirWorkload, Health, SystemdWorkload, Workload, WorkloadError};

/// The peer relation the upgrade coordinator talks over (`metadata.yaml`).
pub const PEER_RELATION: &str = upgrade_coordinator::component::DEFAULT_ENDPOINT;

/// The entry of `versions.json` that names the workload's version.
pub const WORKLOAD_ENTRY: &str = "workload";

pub use upgrade_coordinator::{refresh_back_command, HEALTH_KEY, ROLLBACK_CHARM_KEY, VERSION_KEY};

/// The charm URL of `charm_dir` (`ch:amd64/noble/name-12`, `local:noble/name-3`), if Juju
/// wrote one.
pub fn deployed_charm_url(charm_dir: &Path) -> Option<String> {
    std::fs::read_to_string(charm_dir.join(CHARM_URL_FILE))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
}

/// Errors that fail a hook (Juju then retries it): only failures to talk to Juju.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// Reading from or staging a change for Juju failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The reference charm over a workload `W`.
pub struct ReferenceCharm<W: Workload> {
    upgrade: Result<InPlaceUpgrade, SetupError>,
    hooks: Hooks<W>,
}

impl<W: Workload> ReferenceCharm<W> {
    /// A charm upgraded by `upgrade` (from [`InPlaceUpgrade::from_context`]; an error is
    /// reported on every upgrade event, the unit Blocked, until the charm is fixed), running
    /// `workload`. The versions file must have a [`WORKLOAD_ENTRY`].
    pub fn new(upgrade: Result<InPlaceUpgrade, SetupError>, workload: W) -> Self {
        let upgrade = upgrade.and_then(|u| u.requiring(WORKLOAD_ENTRY));
        let target = upgrade
            .as_ref()
            .ok()
            .and_then(|u| u.target_version(WORKLOAD_ENTRY))
            .unwrap_or_default()
            .to_owned();
        ReferenceCharm {
            upgrade,
            hooks: Hooks { workload, target },
        }
    }

    /// The workload (tests look at it).
    pub fn workload(&mut self) -> &mut W {
        &mut self.hooks.workload
    }

    /// Publishes the workload's health in this unit's peer databag (when the relation exists).
    fn publish_health(&mut self, model: &mut Model<'_>) -> Result<Health, CharmError> {
        let health = self.hooks.workload.health();
        if let Some(rel) = model.peer_relation(PEER_RELATION)? {
            let (h, v) = health_fields(&health);
            model.relation_set(&rel, WriteTarget::OwnUnit, HEALTH_KEY, &h)?;
            model.relation_set(&rel, WriteTarget::OwnUnit, VERSION_KEY, &v)?;
        }
        Ok(health)
    }

    /// This unit's upgrade state (after this dispatch's writes).
    fn own_state(&mut self, model: &mut Model<'_>) -> Result<Option<UnitState>, CharmError> {
        let Some(rel) = model.peer_relation(PEER_RELATION)? else {
            return Ok(None);
        };
        let me = juju_hooks::Bag::Unit(model.unit().clone());
        Ok(model
            .relation_get(&rel, &me, STATE_KEY)?
            .as_deref()
            .and_then(UnitState::parse))
    }

    fn install(&mut self, model: &mut Model<'_>) -> Result<(), CharmError> {
        if let Err(e) = &self.upgrade {
            e.report(model);
            return Ok(());
        }
        let version = self.hooks.target.clone();
        model.set_status(Status::Maintenance(format!(
            "installing workload {version}"
        )));
        let workload = &mut self.hooks.workload;
        let result = workload
            .stop()
            .and_then(|()| workload.install(&version))
            .and_then(|()| workload.start());
        match result {
            Ok(()) => {
                model.set_workload_version(&version);
                self.settle_status(model)?;
            }
            Err(e) => {
                model.log(LogLevel::Error, &e.to_string());
                model.set_status(Status::Blocked(format!("workload: {e}")));
            }
        }
        Ok(())
    }

    /// Active when idle and healthy, Blocked with the reason when not; upgrade statuses are
    /// the coordinator's and left alone.
    fn settle_status(&mut self, model: &mut Model<'_>) -> Result<(), CharmError> {
        let health = self.publish_health(model)?;
        if matches!(self.own_state(model)?, None | Some(UnitState::Idle)) {
            match health {
                Health::Healthy { version } => {
                    model.set_workload_version(&version);
                    model.set_status(Status::Active(String::new()));
                }
                Health::Unhealthy(why) => {
                    model.set_status(Status::Blocked(format!("workload: {why}")))
                }
            }
        }
        Ok(())
    }

    /// The upgrade part of `handle`: `Some` when `event` was an upgrade event.
    fn upgrade(
        &mut self,
        event: &Event,
        model: &mut Model<'_>,
    ) -> Result<Option<Handled>, CharmError> {
        let handled = match &mut self.upgrade {
            Ok(upgrade) => upgrade.handle(event, model, &mut self.hooks)?,
            Err(e) => {
                let upgrade_event = match event {
                    Event::ConfigChanged => model.peer_relation(PEER_RELATION)?.is_some(),
                    _ => is_upgrade_event(event, PEER_RELATION),
                };
                if upgrade_event {
                    e.report(model);
                }
                (upgrade_event && *event != Event::ConfigChanged).then_some(Handled::Done)
            }
        };
        let created = matches!(event, Event::Relation(r)
            if r.relation.endpoint() == PEER_RELATION && r.kind == RelationEventKind::Created);
        if created && handled == Some(Handled::Done) {
            self.publish_health(model)?;
        }
        Ok(handled)
    }
}

fn health_fields(health: &Health) -> (String, String) {
    match health {
        Health::Healthy { version } => ("healthy".into(), version.clone()),
        Health::Unhealthy(why) => (format!("unhealthy: {why}"), String::new()),
    }
}

/// Stop, install `version`, start, check; the failure cause for the unit's Blocked status.
fn upgrade_workload<W: Workload>(workload: &mut W, version: &str) -> Result<(), String> {
    workload
        .stop()
        .and_then(|()| workload.install(version))
        .and_then(|()| workload.start())
        .map_err(|e| format!("workload {e}"))?;
    match workload.health() {
        Health::Healthy { version: running } if running == version => Ok(()),
        Health::Healthy { version: running } => Err(format!(
            "workload runs {running} after installing {version}"
        )),
        Health::Unhealthy(why) => Err(format!("workload unhealthy after upgrade: {why}")),
    }
}

/// The charm's [`UpgradeHooks`]: the stack, the rollback instructions, the Kubernetes
/// partition and trust are the component's defaults.
struct Hooks<W: Workload> {
    workload: W,
    /// The workload version of `versions.json`.
    target: String,
}

impl<W: Workload> Hooks<W> {
    /// Upgrades the workload and publishes its health; the unit's outcome.
    fn upgrade_and_report(&mut self, cx: &mut UpgradeContext<'_>) -> GrantOutcome {
        let result = upgrade_workload(&mut self.workload, &self.target);
        if result.is_ok() {
            // What `juju status` shows, from this hook on (not the next update-status).
            cx.set_workload_version(&self.target);
        }
        let (h, v) = health_fields(&self.workload.health());
        cx.set_unit_field(HEALTH_KEY, &h);
        cx.set_unit_field(VERSION_KEY, &v);
        match result {
            Ok(()) => GrantOutcome::Completed,
            Err(cause) => GrantOutcome::Failed { cause: Some(cause) },
        }
    }
}

impl<W: Workload> UpgradeHooks for Hooks<W> {
    fn pre_upgrade_check(&mut self, cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        let not_ready = |cause: String| {
            ClusterNotReady::new(PRE_CHECK_FAILED, cause)
                .with_resolution("fix the workload on that unit, wait for update-status, then run pre-upgrade-check again")
        };
        if let Health::Unhealthy(why) = self.workload.health() {
            return Err(not_ready(format!("{}: workload {why}", cx.unit())));
        }
        for peer in cx.peers().to_vec() {
            let health = cx
                .unit_data(&peer)
                .and_then(|bag| bag.get(HEALTH_KEY))
                .cloned();
            match health.as_deref() {
                Some("healthy") => {}
                Some(other) => {
                    // (A peer's value, shown short whatever it wrote.)
                    let other = upgrade_coordinator::wire::truncate(other, 80);
                    return Err(not_ready(format!("{peer}: workload {other}")));
                }
                None => {
                    return Err(not_ready(format!(
                        "{peer} has not reported its workload health yet"
                    )))
                }
            }
        }
        Ok(())
    }

    fn on_upgrade_granted(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        if cx.substrate() == upgrade_coordinator::Substrate::K8s {
            // The pod restarted with the new charm; `on_pod_upgraded` finishes the unit.
            return Ok(GrantOutcome::InProgress);
        }
        cx.log(
            LogLevel::Info,
            format!("upgrading the workload to {}", self.target),
        );
        cx.publish_status(Status::Maintenance(format!(
            "upgrading: installing the workload {}",
            self.target
        )));
        let outcome = self.upgrade_and_report(cx);
        if let GrantOutcome::Failed { cause: Some(cause) } = &outcome {
            cx.log(LogLevel::Error, cause.clone());
        }
        Ok(outcome)
    }

    /// Kubernetes: the pod already runs the new charm; bring the workload to the new version.
    fn on_pod_upgraded(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        // The workload work can take minutes: show it now (the final status comes at the end).
        cx.publish_status(Status::Maintenance(format!(
            "upgrading the workload to {}",
            self.target
        )));
        Ok(self.upgrade_and_report(cx))
    }
}

impl<W: Workload> Charm for ReferenceCharm<W> {
    type Error = CharmError;

    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, CharmError> {
        if *event == Event::ConfigChanged {
            // Before the coordinator runs: its exact DEBUG lines follow this setting.
            let debug = model
                .config()?
                .get("debug-logs")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            model.set_debug_logs(debug);
        }
        if let Some(handled) = self.upgrade(event, model)? {
            return Ok(handled);
        }
        match event {
            Event::Install => self.install(model)?,
            Event::Start => {
                if let Err(e) = self.hooks.workload.start() {
                    model.log(LogLevel::Error, &e.to_string());
                }
                self.settle_status(model)?;
            }
            Event::UpdateStatus => self.settle_status(model)?,
            Event::Action(action) => model.fail_action(&format!(
                "Unknown action {:?}: this charm has no such action.",
                action.name
            ))?,
            Event::Other { hook } => {
                model.log(LogLevel::Debug, &format!("ignoring the {hook} hook"));
            }
            Event::ConfigChanged
            | Event::UpgradeCharm
            | Event::Stop
            | Event::Remove
            | Event::LeaderElected
            | Event::LeaderSettingsChanged
            | Event::Relation(_) => {}
        }
        Ok(Handled::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit whose versions file is broken: every upgrade event reports it (Blocked, the
    /// action failed with the reason), the charm's own events still run, nothing panics.
    #[test]
    fn a_setup_error_is_reported_on_the_upgrade_events_only() {
        use juju_hooks::harness::{self, Harness};
        use juju_hooks::{FakeState, UnitName};

        let h = Harness::new().unwrap();
        h.write_file(VERSIONS_FILE, "{not json").unwrap();
        let me = UnitName::new("db", 0).unwrap();
        let rel: juju_hooks::RelationId = "upgrade:1".parse().unwrap();
        let blocked = Status::Blocked("invalid versions.json: see juju debug-log".into());
        let workload = tempfile::tempdir().unwrap();
        let run = |event: Event| {
            h.run(
                FakeState::new(me.clone()).with_peer_relation(&rel, []),
                event,
                |ctx| {
                    let upgrade = InPlaceUpgrade::from_context(ctx);
                    assert!(upgrade.is_err());
                    ReferenceCharm::new(upgrade, DirWorkload::new(workload.path()))
                },
            )
        };
        for event in [
            Event::UpgradeCharm,
            harness::relation_changed(&rel, None),
            harness::action("pre-upgrade-check"),
        ] {
            let name = event.name();
            let out = run(event.clone());
            assert!(out.result.is_ok(), "{name}: {:?}", out.result);
            assert_eq!(out.state.unit_status, Some(blocked.clone()), "{name}");
            assert_eq!(out.logs_at(LogLevel::Error).len(), 1, "{name}");
            if let Event::Action(_) = event {
                let failure = out.action_failure().expect("the action fails");
                assert!(failure.contains("versions.json"), "{failure}");
            }
        }
        let out = run(Event::UpdateStatus);
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_ne!(
            out.state.unit_status,
            Some(blocked),
            "the charm's own status"
        );
    }

    #[test]
    fn refresh_back_names_the_revision_or_the_file() {
        assert_eq!(
            refresh_back_command("db", Some("ch:amd64/noble/upgrade-reference-12")),
            "juju refresh db --revision 12"
        );
        assert_eq!(
            refresh_back_command("db", Some("local:noble/upgrade-reference-3")),
            "juju refresh db --path <the .charm file deployed as local revision 3>"
        );
        for url in [None, Some("ch:weird"), Some("ftp:x-1")] {
            assert!(
                refresh_back_command("db", url).contains("<the previous revision>"),
                "{url:?}"
            );
        }
    }
}
