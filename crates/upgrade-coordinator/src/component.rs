//! [`InPlaceUpgrade`]: the drop-in component. One call builds it from the hook context; one
//! call per dispatch hands it the event. It owns everything about the upgrade that every
//! charm writes the same way, so a charm implements only [`UpgradeHooks`]' two checks.
//!
//! What it owns:
//! - **the versions file**: `versions.json` at the charm's root, loaded and validated
//!   ([`SetupError`] says what is wrong with it), and the charm URL Juju deployed
//!   (`.juju-charm`), recorded at `pre-upgrade-check` as the revision to refresh back to;
//! - **the substrate**: Kubernetes when `KUBERNETES_SERVICE_HOST` is set (Kubernetes sets it
//!   in every pod), machines otherwise, or what [`SUBSTRATE_VAR`] says;
//! - **the routing**: the peer relation's `relation-created`, `-changed` and `-departed`,
//!   `upgrade-charm`, the `pre-upgrade-check`, `resume-upgrade` and `force-upgrade` actions
//!   (their parameters parsed), deferral, and `config-changed` (the pause policy and
//!   `juju trust` arrive as config changes);
//! - **Kubernetes**: the StatefulSet client, made on first use from the pod's service account
//!   (or [`K8S_API_VAR`]), the `juju trust` preflight, the partition (every pod but the
//!   highest is held once the charm's pre-check passes), and the completion step of a
//!   recreated pod ([`UpgradeHooks::on_pod_upgraded`]).
//!
//! ```
//! use juju_hooks::{Charm, Event, Handled, Model, ModelError};
//! use upgrade_coordinator::{
//!     ClusterNotReady, DependencyError, GrantOutcome, InPlaceUpgrade, UpgradeContext,
//!     UpgradeHooks,
//! };
//!
//! struct Workload;
//! impl UpgradeHooks for Workload {
//!     fn pre_upgrade_check(&mut self, _cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
//!         Ok(()) // is every unit serving?
//!     }
//!     fn on_upgrade_granted(&mut self, cx: &mut UpgradeContext<'_>) -> Result<GrantOutcome, DependencyError> {
//!         let version = cx.dependency_model().get("workload").map(|d| d.version.clone());
//!         // stop, install `version`, start, check...
//!         # let _ = version;
//!         Ok(GrantOutcome::Completed)
//!     }
//! }
//!
//! struct MyCharm {
//!     upgrade: InPlaceUpgrade,
//!     workload: Workload,
//! }
//!
//! impl Charm for MyCharm {
//!     type Error = ModelError;
//!     fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
//!         if let Some(handled) = self.upgrade.handle(event, model, &mut self.workload)? {
//!             return Ok(handled);
//!         }
//!         // install, start, update-status, config-changed, the charm's own actions...
//!         Ok(Handled::Done)
//!     }
//! }
//!
//! // In `main`: `InPlaceUpgrade::from_context(&HookContext::from_process_env()?)?`.
//! ```

use std::path::{Path, PathBuf};

use juju_hooks::{Event, Handled, HookContext, LogLevel, Model, ModelError, RelationEventKind};
use juju_hooks::{Status, UnitName, WriteTarget};

use crate::coordinator::{UpgradeConfig, UpgradeEvent};
use crate::deps::DependencyModel;
use crate::errors::{ClusterNotReady, DependencyError, KubernetesClientError};
use crate::hooks::{GrantOutcome, StackError, UnitHealth, UpgradeContext, UpgradeHooks};
use crate::k8s::{InClusterClient, PartitionClient, PATCH_FAILED};
use crate::shell::run_event;
use crate::state::{Substrate, UnitState};

/// Overrides the substrate: `vm` or `k8s`.
pub const SUBSTRATE_VAR: &str = "UPGRADE_COORDINATOR_SUBSTRATE";
/// Talk to this Kubernetes API server (e.g. `http://127.0.0.1:8080`, the simulator's) instead
/// of the in-cluster one, with the service-account files of [`K8S_ACCOUNT_VAR`].
pub const K8S_API_VAR: &str = "UPGRADE_COORDINATOR_K8S_API";
/// The directory holding `token` (and `ca.crt` for https) for [`K8S_API_VAR`].
pub const K8S_ACCOUNT_VAR: &str = "UPGRADE_COORDINATOR_K8S_ACCOUNT_DIR";
/// Where the unit's workload may keep its files, when a stand-in for the machine sets it
/// (the simulator does; see `juju-sim`'s charm contract). The component does not read it: it
/// is named here so every charm and the simulator agree on it.
pub const WORKLOAD_DIR_VAR: &str = "UPGRADE_COORDINATOR_WORKLOAD_DIR";
/// The versions file, at the charm's root (the shape of [`DependencyModel::from_json`]).
pub const VERSIONS_FILE: &str = "versions.json";
/// Where Juju records the charm URL a unit runs.
pub const CHARM_URL_FILE: &str = ".juju-charm";
/// The peer relation's endpoint unless [`InPlaceUpgrade::with_endpoint`] says otherwise.
pub const DEFAULT_ENDPOINT: &str = "upgrade";
/// The actions the component handles (declare them in `actions.yaml`).
pub const ACTIONS: [&str; 3] = ["pre-upgrade-check", "resume-upgrade", "force-upgrade"];
/// The pre-check failure's message when the partition cannot be set.
pub const PRE_CHECK_FAILED: &str = "Pre-upgrade check failed and cannot safely upgrade";

/// Why [`InPlaceUpgrade`] could not be built. A charm reports it (the unit Blocked with
/// [`SetupError::status`], the error at ERROR in `juju debug-log`) or fails the hook; it
/// never panics.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The versions file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    VersionsUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The versions file is not a valid dependency model.
    #[error("{}: {source}", path.display())]
    VersionsInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: crate::deps::ModelError,
    },
    /// The versions file has no entry the charm needs ([`InPlaceUpgrade::requiring`]).
    #[error("{}: no {entry:?} entry: the charm cannot know which workload version to run", path.display())]
    MissingEntry {
        /// The file.
        path: PathBuf,
        /// The entry.
        entry: String,
    },
    /// [`SUBSTRATE_VAR`] holds something else than `vm` or `k8s`.
    #[error("{SUBSTRATE_VAR}={value:?}: expected vm or k8s (or unset it: Kubernetes is recognised by KUBERNETES_SERVICE_HOST)")]
    InvalidSubstrate {
        /// What it holds.
        value: String,
    },
}

impl SetupError {
    /// The unit status that reports it: `Blocked("invalid versions.json: see juju
    /// debug-log")` (the substrate variable: `Blocked("invalid UPGRADE_COORDINATOR_SUBSTRATE: ...")`).
    pub fn status(&self) -> Status {
        match self {
            SetupError::InvalidSubstrate { .. } => {
                Status::Blocked(format!("invalid {SUBSTRATE_VAR}: see juju debug-log"))
            }
            _ => Status::Blocked(format!("invalid {VERSIONS_FILE}: see juju debug-log")),
        }
    }

    /// Reports it in `model`: the error at ERROR, the unit [`Self::status`], and in an
    /// action (`juju run ... pre-upgrade-check`) the action failed with the error's text, so
    /// the operator reads the reason where they ran it.
    pub fn report(&self, model: &mut Model<'_>) {
        let message = self.to_string();
        model.log(LogLevel::Error, &message);
        model.set_status(self.status());
        // (Outside an action there is nothing to fail: the error says so, and is the answer.)
        let _ = model.fail_action(&message);
    }
}

/// Is `event` one of the upgrade's on the peer relation `endpoint` (what
/// [`InPlaceUpgrade::handle`] takes): `upgrade-charm`, the endpoint's `relation-created`,
/// `-changed` and `-departed`, and the [`ACTIONS`]? For a charm whose component could not be
/// built (a [`SetupError`]) to know which events to report the error on.
pub fn is_upgrade_event(event: &Event, endpoint: &str) -> bool {
    match event {
        Event::UpgradeCharm => true,
        Event::Relation(r) => {
            r.relation.endpoint() == endpoint
                && matches!(
                    r.kind,
                    RelationEventKind::Created
                        | RelationEventKind::Changed
                        | RelationEventKind::Departed
                )
        }
        Event::Action(a) => ACTIONS.contains(&a.name.as_str()),
        _ => false,
    }
}

/// The substrate from the environment: [`SUBSTRATE_VAR`] if set, else Kubernetes when
/// `KUBERNETES_SERVICE_HOST` is set, else machines.
pub fn detect_substrate(env: impl Fn(&str) -> Option<String>) -> Result<Substrate, SetupError> {
    match env(SUBSTRATE_VAR) {
        Some(value) => value
            .parse()
            .map_err(|_| SetupError::InvalidSubstrate { value }),
        None if env("KUBERNETES_SERVICE_HOST").is_some() => Ok(Substrate::K8s),
        None => Ok(Substrate::Vm),
    }
}

/// Loads and validates `<charm_dir>/versions.json` (and the deployed charm URL) into the
/// coordinator's configuration.
pub fn load_versions(charm_dir: &Path, substrate: Substrate) -> Result<UpgradeConfig, SetupError> {
    let path = charm_dir.join(VERSIONS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| SetupError::VersionsUnreadable {
        path: path.clone(),
        source,
    })?;
    let model = DependencyModel::from_json(&text)
        .map_err(|source| SetupError::VersionsInvalid { path, source })?;
    let mut config = UpgradeConfig::new(substrate, model);
    config.charm_url = std::fs::read_to_string(charm_dir.join(CHARM_URL_FILE))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace));
    Ok(config)
}

/// Where the StatefulSet client comes from, and the client once made.
enum Kubernetes {
    /// From the pod's service account, or the override, on first use.
    Lazy {
        api: Option<(String, PathBuf)>,
        namespace: String,
        app: String,
    },
    /// Given, or made.
    Ready(Box<dyn PartitionClient>),
}

impl Kubernetes {
    fn client(&mut self) -> Result<&dyn PartitionClient, KubernetesClientError> {
        if let Kubernetes::Lazy {
            api,
            namespace,
            app,
        } = self
        {
            let client = match api {
                Some((url, dir)) => InClusterClient::with_credentials(url, dir, namespace, app)?,
                None => InClusterClient::from_env(namespace, app)?,
            };
            *self = Kubernetes::Ready(Box::new(client));
        }
        match self {
            Kubernetes::Ready(c) => Ok(&**c),
            Kubernetes::Lazy { .. } => Err(KubernetesClientError::new(
                PATCH_FAILED,
                "no Kubernetes client could be made",
            )),
        }
    }
}

/// The drop-in upgrade component: see the [module documentation](self).
pub struct InPlaceUpgrade {
    config: UpgradeConfig,
    versions_path: PathBuf,
    endpoint: String,
    kubernetes: Kubernetes,
}

impl std::fmt::Debug for InPlaceUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InPlaceUpgrade")
            .field("config", &self.config)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl InPlaceUpgrade {
    /// Built from the hook context and the process environment: the versions file of
    /// `ctx.charm_dir`, the substrate, the Kubernetes client's source (made on first use).
    pub fn from_context(ctx: &HookContext) -> Result<Self, SetupError> {
        Self::from_context_with_env(ctx, |k| std::env::var(k).ok())
    }

    /// [`Self::from_context`] with the environment read through `env` (tests).
    pub fn from_context_with_env(
        ctx: &HookContext,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SetupError> {
        let substrate = detect_substrate(&env)?;
        let config = load_versions(&ctx.charm_dir, substrate)?;
        let api = match (env(K8S_API_VAR), env(K8S_ACCOUNT_VAR)) {
            (Some(url), Some(dir)) => Some((url, PathBuf::from(dir))),
            _ => None,
        };
        Ok(InPlaceUpgrade {
            config,
            versions_path: ctx.charm_dir.join(VERSIONS_FILE),
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            kubernetes: Kubernetes::Lazy {
                api,
                namespace: ctx.model_name.clone(),
                app: ctx.unit.app().to_owned(),
            },
        })
    }

    /// A component over a configuration built elsewhere (tests, or a charm with its own
    /// versions source). On Kubernetes give it a client with [`Self::with_partition_client`]
    /// (without one it makes the in-cluster client for `app`'s StatefulSet in `namespace`).
    pub fn new(config: UpgradeConfig, namespace: &str, app: &str) -> Self {
        InPlaceUpgrade {
            config,
            versions_path: PathBuf::from(VERSIONS_FILE),
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            kubernetes: Kubernetes::Lazy {
                api: None,
                namespace: namespace.to_owned(),
                app: app.to_owned(),
            },
        }
    }

    /// The peer relation is `endpoint` (default [`DEFAULT_ENDPOINT`], `upgrade`).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Uses `client` for the StatefulSet instead of the in-cluster one.
    pub fn with_partition_client(mut self, client: Box<dyn PartitionClient>) -> Self {
        self.kubernetes = Kubernetes::Ready(client);
        self
    }

    /// Fails unless the versions file has an `entry` (e.g. the workload the charm installs).
    pub fn requiring(self, entry: &str) -> Result<Self, SetupError> {
        match self.config.dependency_model.get(entry) {
            Some(_) => Ok(self),
            None => Err(SetupError::MissingEntry {
                path: self.versions_path.clone(),
                entry: entry.to_owned(),
            }),
        }
    }

    /// The version of `entry` this charm ships (`versions.json`'s `version`).
    pub fn target_version(&self, entry: &str) -> Option<&str> {
        self.config
            .dependency_model
            .get(entry)
            .map(|d| d.version.as_str())
    }

    /// This unit's upgrade state in the peer relation (with this dispatch's writes), `None`
    /// before the relation exists or the unit wrote one: a charm shows its own status only
    /// while it is `idle` (or `None`), and leaves the upgrade's statuses alone otherwise.
    pub fn unit_state(&self, model: &mut Model<'_>) -> Result<Option<UnitState>, ModelError> {
        let Some(rel) = model.peer_relation(&self.endpoint)? else {
            return Ok(None);
        };
        let me = juju_hooks::Bag::Unit(model.unit().clone());
        Ok(model
            .relation_get(&rel, &me, crate::STATE_KEY)?
            .as_deref()
            .and_then(UnitState::parse))
    }

    /// Publishes this unit's workload health in its peer-relation databag (nothing before
    /// the relation exists), as [`UpgradeContext::publish_health`] does inside the
    /// coordinator's hooks: call it in the charm's own hooks whenever the workload's health
    /// may have changed, so that `pre-upgrade-check` and `resume-upgrade` see it.
    pub fn publish_health(
        &self,
        model: &mut Model<'_>,
        health: &UnitHealth,
    ) -> Result<(), ModelError> {
        if let Some(rel) = model.peer_relation(&self.endpoint)? {
            let value = health.to_wire();
            model.relation_set(&rel, WriteTarget::OwnUnit, crate::HEALTH_KEY, &value)?;
        }
        Ok(())
    }

    /// Is no upgrade under way on this unit ([`Self::unit_state`] is `idle` or unset)?
    pub fn is_idle(&self, model: &mut Model<'_>) -> Result<bool, ModelError> {
        Ok(matches!(
            self.unit_state(model)?,
            None | Some(UnitState::Idle)
        ))
    }

    /// The coordinator's configuration.
    pub fn config(&self) -> &UpgradeConfig {
        &self.config
    }

    /// The substrate.
    pub fn substrate(&self) -> Substrate {
        self.config.substrate
    }

    /// The peer relation's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Is `event` one this component handles (`config-changed` is not: it runs the
    /// coordinator but leaves the event to the charm)?
    pub fn is_upgrade_event(&self, event: &Event) -> bool {
        is_upgrade_event(event, &self.endpoint)
    }

    /// Handles `event` when it is an upgrade event, with the charm's `hooks`:
    /// `Some(Handled::Done)` or `Some(Handled::Defer)` (return it from the charm's
    /// `handle`), or `None` when the event is the charm's. `config-changed` runs the
    /// coordinator (a changed pause policy or `juju trust` takes effect at once) and returns
    /// `None`, so the charm still handles its configuration. The error is Juju's (a hook tool
    /// failed): the hook fails and Juju retries it.
    ///
    /// On Kubernetes the component owns the StatefulSet: the `hooks`' own
    /// `may_patch_partition` and `set_rolling_update_partition` are not called.
    pub fn handle<H: UpgradeHooks + ?Sized>(
        &mut self,
        event: &Event,
        model: &mut Model<'_>,
        hooks: &mut H,
    ) -> Result<Option<Handled>, ModelError> {
        let finish_pod = self.config.substrate == Substrate::K8s;
        let (upgrade_event, then_pod) = match event {
            Event::UpgradeCharm => (UpgradeEvent::UpgradeCharm, finish_pod),
            Event::ConfigChanged => {
                if model.peer_relation(&self.endpoint)?.is_some() {
                    self.run(UpgradeEvent::RelationChanged, model, hooks)?;
                }
                return Ok(None);
            }
            Event::Relation(r) if r.relation.endpoint() == self.endpoint => match r.kind {
                RelationEventKind::Created => (UpgradeEvent::RelationCreated, false),
                // A pod recreated before the pre-upgrade-check takes its turn here.
                RelationEventKind::Changed => (UpgradeEvent::RelationChanged, finish_pod),
                RelationEventKind::Departed => (UpgradeEvent::RelationDeparted, false),
                RelationEventKind::Joined | RelationEventKind::Broken => return Ok(None),
            },
            Event::Action(a) => match a.name.as_str() {
                "pre-upgrade-check" => (UpgradeEvent::PreUpgradeCheck, finish_pod),
                "resume-upgrade" => {
                    let Some(check_health) = bool_param(model, "check-health-of-refreshed-units")?
                    else {
                        return Ok(Some(Handled::Done));
                    };
                    (UpgradeEvent::ResumeUpgrade { check_health }, false)
                }
                "force-upgrade" => {
                    let (Some(check_compatibility), Some(run_pre_upgrade_checks)) = (
                        bool_param(model, "check-compatibility")?,
                        bool_param(model, "run-pre-upgrade-checks")?,
                    ) else {
                        return Ok(Some(Handled::Done));
                    };
                    // A pod let past its versions check upgrades its workload now.
                    (
                        UpgradeEvent::ForceUpgrade {
                            check_compatibility,
                            run_pre_upgrade_checks,
                        },
                        finish_pod,
                    )
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let deferrable = matches!(
            upgrade_event,
            UpgradeEvent::UpgradeCharm | UpgradeEvent::RelationCreated
        );
        let fx = self.run(upgrade_event, model, hooks)?;
        if fx.deferred && deferrable {
            return Ok(Some(Handled::Defer));
        }
        if then_pod {
            self.run(UpgradeEvent::PodUpgraded, model, hooks)?;
        }
        Ok(Some(Handled::Done))
    }

    /// Runs one coordinator event with the charm's hooks (the component's Kubernetes side
    /// wired in) and stages its effects.
    pub fn run<H: UpgradeHooks + ?Sized>(
        &mut self,
        event: UpgradeEvent,
        model: &mut Model<'_>,
        hooks: &mut H,
    ) -> Result<crate::Effects, ModelError> {
        let mut wired = Wired {
            hooks,
            kubernetes: &mut self.kubernetes,
        };
        run_event(&self.config, &self.endpoint, &event, model, &mut wired)
    }
}

/// A boolean action parameter, true when absent (every one of these actions' defaults).
/// `None`, with the action failed, when it is not a boolean.
fn bool_param(model: &mut Model<'_>, name: &str) -> Result<Option<bool>, ModelError> {
    let value = model.action_params()?.get(name).cloned();
    match value {
        None | Some(serde_json::Value::Null) => Ok(Some(true)),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => {
            model.fail_action(&format!(
                "{name} must be true or false, not {}",
                crate::wire::truncate(&other.to_string(), 40)
            ))?;
            Ok(None)
        }
    }
}

/// The charm's hooks with the component's Kubernetes side.
struct Wired<'a, H: ?Sized> {
    hooks: &'a mut H,
    kubernetes: &'a mut Kubernetes,
}

impl<H: UpgradeHooks + ?Sized> UpgradeHooks for Wired<'_, H> {
    fn pre_upgrade_check(&mut self, cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        self.hooks.pre_upgrade_check(cx)?;
        if cx.substrate() == Substrate::K8s {
            // `juju refresh` recreates only the highest pod; the rest waits for
            // `resume-upgrade` (as the data-platform Kubernetes charms do).
            let highest = cx
                .peers()
                .iter()
                .map(UnitName::number)
                .chain([cx.unit().number()])
                .max()
                .unwrap_or(0);
            self.kubernetes
                .client()
                .and_then(|c| c.set_partition(highest))
                .map_err(|e| {
                    ClusterNotReady::new(
                        PRE_CHECK_FAILED,
                        format!("cannot set the rolling-update partition: {e}"),
                    )
                    .with_resolution(e.0.resolution.clone())
                })?;
        }
        Ok(())
    }

    fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        self.hooks.build_upgrade_stack(cx)
    }

    fn on_upgrade_granted(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        self.hooks.on_upgrade_granted(cx)
    }

    fn on_pod_upgraded(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        self.hooks.on_pod_upgraded(cx)
    }

    fn on_upgrade_finished(&mut self, cx: &mut UpgradeContext<'_>) {
        self.hooks.on_upgrade_finished(cx)
    }

    fn log_rollback_instructions(&mut self, cx: &mut UpgradeContext<'_>) {
        self.hooks.log_rollback_instructions(cx)
    }

    fn unit_health(&mut self, cx: &UpgradeContext<'_>, unit: &UnitName) -> UnitHealth {
        self.hooks.unit_health(cx, unit)
    }

    fn may_patch_partition(
        &mut self,
        _cx: &mut UpgradeContext<'_>,
    ) -> Result<bool, KubernetesClientError> {
        self.kubernetes.client()?.can_patch()
    }

    fn set_rolling_update_partition(
        &mut self,
        _cx: &mut UpgradeContext<'_>,
        partition: u32,
    ) -> Result<(), KubernetesClientError> {
        self.kubernetes.client()?.set_partition(partition)
    }
}
