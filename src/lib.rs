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
//! and [`DirWorkload`] when `UPGRADE_REFERENCE_WORKLOAD_DIR` is set (simulator, tests).

#![warn(missing_docs)]

pub mod workload;

use std::path::{Path, PathBuf};

use juju_hooks::{
    Bag, Charm, Event, Handled, LogLevel, Model, ModelError, RelationEventKind, Status, WriteTarget,
};
use upgrade_coordinator::shell::run_event;
use upgrade_coordinator::{
    ClusterNotReady, DependencyError, DependencyModel, GrantOutcome, KubernetesClientError,
    StackError, Substrate, UnitState, UpgradeConfig, UpgradeContext, UpgradeEvent, UpgradeHooks,
    STATE_KEY,
};

pub use workload::{DirWorkload, Health, SystemdWorkload, Workload, WorkloadError};

/// The peer relation the upgrade coordinator talks over (`metadata.yaml`).
pub const PEER_RELATION: &str = "upgrade";

/// The actions declared in `actions.yaml`.
pub const ACTIONS: [&str; 3] = ["pre-upgrade-check", "resume-upgrade", "force-upgrade"];

/// The versions file, at the charm's root.
pub const VERSIONS_FILE: &str = "versions.json";

/// The entry of `versions.json` that names the workload's version.
pub const WORKLOAD_ENTRY: &str = "workload";

pub use upgrade_coordinator::{refresh_back_command, HEALTH_KEY, ROLLBACK_CHARM_KEY};
/// Unit databag key: the workload version the unit runs.
pub const VERSION_KEY: &str = "workload-version";

/// Where Juju records the charm URL a unit runs (`<charm dir>/.juju-charm`).
pub const CHARM_URL_FILE: &str = ".juju-charm";

/// The charm URL of `charm_dir` (`ch:amd64/noble/name-12`, `local:noble/name-3`), if Juju
/// wrote one.
pub fn deployed_charm_url(charm_dir: &Path) -> Option<String> {
    std::fs::read_to_string(charm_dir.join(CHARM_URL_FILE))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
}

/// The message of the pre-upgrade check's failure.
pub const PRE_CHECK_FAILED: &str = "Pre-upgrade check failed and cannot safely upgrade";

/// Errors that fail a hook (Juju then retries it): only failures to talk to Juju.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// Reading from or staging a change for Juju failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Sets the Kubernetes partition (a [`upgrade_coordinator::k8s::PartitionClient`] built on
/// first use, so machines never need one).
pub type PartitionFn = Box<dyn FnMut(u32) -> Result<(), KubernetesClientError>>;

/// Asks whether the charm may patch its StatefulSet (Kubernetes: `juju trust`).
pub type TrustFn = Box<dyn FnMut() -> Result<bool, KubernetesClientError>>;

/// The reference charm over a workload `W`.
pub struct ReferenceCharm<W: Workload> {
    charm_dir: PathBuf,
    substrate: Substrate,
    workload: W,
    partition: Option<PartitionFn>,
    trust: Option<TrustFn>,
    config: Option<Result<UpgradeConfig, String>>,
}

impl<W: Workload> ReferenceCharm<W> {
    /// A charm whose files (`versions.json`) are in `charm_dir`.
    pub fn new(charm_dir: impl Into<PathBuf>, substrate: Substrate, workload: W) -> Self {
        ReferenceCharm {
            charm_dir: charm_dir.into(),
            substrate,
            workload,
            partition: None,
            trust: None,
            config: None,
        }
    }

    /// Uses `f` to set the StatefulSet partition (Kubernetes).
    pub fn with_partition_client(mut self, f: PartitionFn) -> Self {
        self.partition = Some(f);
        self
    }

    /// Uses `f` to ask whether the charm may patch its StatefulSet (Kubernetes).
    pub fn with_trust_check(mut self, f: TrustFn) -> Self {
        self.trust = Some(f);
        self
    }

    /// The workload (tests look at it).
    pub fn workload(&mut self) -> &mut W {
        &mut self.workload
    }

    /// The coordinator configuration from `versions.json`, loaded once.
    fn config(&mut self) -> Result<&UpgradeConfig, String> {
        if self.config.is_none() {
            self.config = Some(load_config(&self.charm_dir, self.substrate));
        }
        match self.config.as_ref() {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(e.clone()),
            None => Err("unreachable".into()),
        }
    }

    fn target_version(&mut self) -> Result<String, String> {
        let config = self.config()?;
        Ok(config
            .dependency_model
            .get(WORKLOAD_ENTRY)
            .map(|d| d.version.clone())
            .unwrap_or_default())
    }

    /// Runs one coordinator event with this charm's hooks.
    fn coordinate(
        &mut self,
        event: UpgradeEvent,
        model: &mut Model<'_>,
    ) -> Result<Option<upgrade_coordinator::Effects>, CharmError> {
        let config = match self.config() {
            Ok(c) => c.clone(),
            Err(e) => {
                model.log(LogLevel::Error, &e);
                model.set_status(Status::Blocked(format!(
                    "invalid {VERSIONS_FILE}: see juju debug-log"
                )));
                return Ok(None);
            }
        };
        let target = self.target_version().unwrap_or_default();
        let app = model.app().to_owned();
        // Events that can fail a unit need the refresh-back command; the coordinator reads the
        // app bag on those anyway (one cached read).
        let rollback_charm = match event {
            UpgradeEvent::RelationCreated
            | UpgradeEvent::PreUpgradeCheck
            | UpgradeEvent::ResumeUpgrade { .. } => None,
            _ => match model.peer_relation(PEER_RELATION)? {
                Some(rel) => {
                    model.relation_get(&rel, &Bag::App(app.clone()), ROLLBACK_CHARM_KEY)?
                }
                None => None,
            },
        };
        let mut hooks = Hooks {
            workload: &mut self.workload,
            partition: &mut self.partition,
            trust: &mut self.trust,
            target,
            refresh_back: refresh_back_command(&app, rollback_charm.as_deref()),
            app,
        };
        Ok(Some(run_event(
            &config,
            PEER_RELATION,
            &event,
            model,
            &mut hooks,
        )?))
    }

    /// Publishes the workload's health in this unit's peer databag (when the relation exists).
    fn publish_health(&mut self, model: &mut Model<'_>) -> Result<Health, CharmError> {
        let health = self.workload.health();
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
        let version = match self.target_version() {
            Ok(v) => v,
            Err(e) => {
                model.log(LogLevel::Error, &e);
                model.set_status(Status::Blocked(format!(
                    "invalid {VERSIONS_FILE}: see juju debug-log"
                )));
                return Ok(());
            }
        };
        model.set_status(Status::Maintenance(format!(
            "installing workload {version}"
        )));
        let result = self
            .workload
            .stop()
            .and_then(|()| self.workload.install(&version))
            .and_then(|()| self.workload.start());
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

    /// Kubernetes: the pod already runs the new charm; bring the workload to the new
    /// version and report.
    fn finish_k8s_unit(&mut self, model: &mut Model<'_>) -> Result<(), CharmError> {
        if self.own_state(model)? != Some(UnitState::Upgrading) {
            return Ok(());
        }
        let target = self.target_version().unwrap_or_default();
        // The workload work can take minutes: show it now (the final status comes at the end).
        model.publish_status_now(&Status::Maintenance(format!(
            "upgrading the workload to {target}"
        )))?;
        let event = match upgrade_workload(&mut self.workload, &target) {
            Ok(()) => {
                model.set_workload_version(&target);
                UpgradeEvent::UnitCompleted
            }
            Err(cause) => UpgradeEvent::UnitFailed { cause: Some(cause) },
        };
        self.publish_health(model)?;
        self.coordinate(event, model)?;
        Ok(())
    }
}

/// A boolean action parameter, true when absent (every one of ours defaults to true).
/// `None` (with the action failed) when it is not a boolean.
fn bool_param(model: &mut Model<'_>, name: &str) -> Result<Option<bool>, CharmError> {
    let value = model.action_params()?.get(name).cloned();
    match value {
        None | Some(serde_json::Value::Null) => Ok(Some(true)),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => {
            model.fail_action(&format!(
                "{name} must be true or false, not {}",
                upgrade_coordinator::wire::truncate(&other.to_string(), 40)
            ))?;
            Ok(None)
        }
    }
}

fn health_fields(health: &Health) -> (String, String) {
    match health {
        Health::Healthy { version } => ("healthy".into(), version.clone()),
        Health::Unhealthy(why) => (format!("unhealthy: {why}"), String::new()),
    }
}

/// Loads and validates `versions.json` from `charm_dir`.
pub fn load_config(charm_dir: &Path, substrate: Substrate) -> Result<UpgradeConfig, String> {
    let path = charm_dir.join(VERSIONS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let model =
        DependencyModel::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if model.get(WORKLOAD_ENTRY).is_none() {
        return Err(format!(
            "{}: no {WORKLOAD_ENTRY:?} entry: the charm cannot know which workload version to run",
            path.display()
        ));
    }
    let mut config = UpgradeConfig::new(substrate, model);
    config.charm_url = deployed_charm_url(charm_dir);
    Ok(config)
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

/// The charm's [`UpgradeHooks`].
struct Hooks<'a, W: Workload> {
    workload: &'a mut W,
    partition: &'a mut Option<PartitionFn>,
    trust: &'a mut Option<TrustFn>,
    target: String,
    app: String,
    refresh_back: String,
}

impl<W: Workload> UpgradeHooks for Hooks<'_, W> {
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
        if cx.substrate() == Substrate::K8s {
            // Let `juju refresh` recreate only the highest pod: the rest waits for
            // `resume-upgrade` (as the data-platform Kubernetes charms do).
            let highest = cx
                .peers()
                .iter()
                .map(|u| u.number())
                .chain([cx.unit().number()])
                .max()
                .unwrap_or(0);
            if let Some(set) = self.partition.as_mut() {
                set(highest).map_err(|e| {
                    ClusterNotReady::new(
                        PRE_CHECK_FAILED,
                        format!("cannot set the rolling-update partition: {e}"),
                    )
                    .with_resolution(e.0.resolution.clone())
                })?;
            }
        }
        Ok(())
    }

    /// Leader last, the others from the highest unit number down.
    fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        let mut stack = vec![cx.unit().number()];
        let mut others: Vec<u32> = cx.peers().iter().map(|u| u.number()).collect();
        others.sort_unstable();
        stack.extend(others);
        Ok(stack)
    }

    fn on_upgrade_granted(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        if cx.substrate() == Substrate::K8s {
            // The pod restarted with the new charm; `upgrade-charm` finishes the unit.
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
        let result = upgrade_workload(self.workload, &self.target);
        let (h, v) = health_fields(&self.workload.health());
        cx.set_unit_field(HEALTH_KEY, &h);
        cx.set_unit_field(VERSION_KEY, &v);
        Ok(match result {
            Ok(()) => {
                // What `juju status` shows, from this hook on (not the next update-status).
                cx.set_workload_version(&self.target);
                GrantOutcome::Completed
            }
            Err(cause) => {
                cx.log(LogLevel::Error, cause.clone());
                GrantOutcome::Failed { cause: Some(cause) }
            }
        })
    }

    fn log_rollback_instructions(&mut self, cx: &mut UpgradeContext<'_>) {
        let app = &self.app;
        cx.log(
            LogLevel::Error,
            format!(
                "Upgrade failed on {}. To roll back: juju run {app}/leader pre-upgrade-check; then {}",
                cx.unit(),
                self.refresh_back
            ),
        );
    }

    fn may_patch_partition(
        &mut self,
        _cx: &mut UpgradeContext<'_>,
    ) -> Result<bool, KubernetesClientError> {
        match self.trust.as_mut() {
            Some(ask) => ask(),
            None => Ok(true),
        }
    }

    fn set_rolling_update_partition(
        &mut self,
        _cx: &mut UpgradeContext<'_>,
        partition: u32,
    ) -> Result<(), KubernetesClientError> {
        match self.partition.as_mut() {
            Some(f) => f(partition),
            None => Err(KubernetesClientError::new(
                upgrade_coordinator::k8s::PATCH_FAILED,
                "no Kubernetes client: not running on Kubernetes",
            )),
        }
    }
}

impl<W: Workload> Charm for ReferenceCharm<W> {
    type Error = CharmError;

    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, CharmError> {
        match event {
            Event::Install => self.install(model)?,
            Event::Start => {
                if let Err(e) = self.workload.start() {
                    model.log(LogLevel::Error, &e.to_string());
                }
                self.settle_status(model)?;
            }
            Event::UpdateStatus => self.settle_status(model)?,
            Event::ConfigChanged => {
                let debug = model
                    .config()?
                    .get("debug-logs")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                model.set_debug_logs(debug);
                // The pause policy is read live: a unit held for resume-upgrade (machines),
                // or pods held at the partition (Kubernetes leader), look again now. (Also
                // `juju trust` comes as config-changed.)
                if model.peer_relation(PEER_RELATION)?.is_some() {
                    self.coordinate(UpgradeEvent::RelationChanged, model)?;
                }
            }
            Event::UpgradeCharm => {
                let Some(fx) = self.coordinate(UpgradeEvent::UpgradeCharm, model)? else {
                    return Ok(Handled::Done);
                };
                if fx.deferred {
                    return Ok(Handled::Defer);
                }
                if self.substrate == Substrate::K8s {
                    self.finish_k8s_unit(model)?;
                }
            }
            Event::Relation(r) if r.relation.endpoint() == PEER_RELATION => match r.kind {
                RelationEventKind::Created => {
                    let fx = self.coordinate(UpgradeEvent::RelationCreated, model)?;
                    if fx.is_some_and(|fx| fx.deferred) {
                        return Ok(Handled::Defer);
                    }
                    self.publish_health(model)?;
                }
                RelationEventKind::Changed => {
                    self.coordinate(UpgradeEvent::RelationChanged, model)?;
                    if self.substrate == Substrate::K8s {
                        // A pod recreated before the pre-upgrade-check takes its turn here.
                        self.finish_k8s_unit(model)?;
                    }
                }
                RelationEventKind::Departed => {
                    self.coordinate(UpgradeEvent::RelationDeparted, model)?;
                }
                _ => {}
            },
            Event::Action(action) => match action.name.as_str() {
                "pre-upgrade-check" => {
                    self.coordinate(UpgradeEvent::PreUpgradeCheck, model)?;
                    if self.substrate == Substrate::K8s {
                        self.finish_k8s_unit(model)?;
                    }
                }
                "resume-upgrade" => {
                    let Some(check_health) = bool_param(model, "check-health-of-refreshed-units")?
                    else {
                        return Ok(Handled::Done);
                    };
                    self.coordinate(UpgradeEvent::ResumeUpgrade { check_health }, model)?;
                }
                "force-upgrade" => {
                    let (Some(check_compatibility), Some(run_pre_upgrade_checks)) = (
                        bool_param(model, "check-compatibility")?,
                        bool_param(model, "run-pre-upgrade-checks")?,
                    ) else {
                        return Ok(Handled::Done);
                    };
                    self.coordinate(
                        UpgradeEvent::ForceUpgrade {
                            check_compatibility,
                            run_pre_upgrade_checks,
                        },
                        model,
                    )?;
                    if self.substrate == Substrate::K8s {
                        // A pod let past its versions check upgrades its workload now.
                        self.finish_k8s_unit(model)?;
                    }
                }
                other => model.fail_action(&format!(
                    "Unknown action {other:?}: this charm has no such action."
                ))?,
            },
            Event::Other { hook } => {
                model.log(LogLevel::Debug, &format!("ignoring the {hook} hook"));
            }
            Event::Stop
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
