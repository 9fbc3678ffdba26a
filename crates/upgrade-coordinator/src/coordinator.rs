//! The state machine: one event in, [`Effects`] out. A line-by-line behavioural port of the
//! reference library's handlers (LIBPATCH 18), with the deviations listed in DEVIATIONS.md.

use std::collections::BTreeMap;

use juju_hooks::{LogLevel, Status, StringMap, UnitName};

use crate::deps::{DependencyModel, StoredDependencies};
use crate::effects::{Call, Effects};
use crate::hooks::{GrantOutcome, StackError, UnitHealth, UpgradeContext, UpgradeHooks};
use crate::state::{cluster_state, PausePolicy, Substrate, UnitState};
use crate::view::View;
use crate::wire::{format_stack, parse_stack, truncate};

/// Unit databag key holding the unit's [`UnitState`].
pub const STATE_KEY: &str = "state";
/// Application databag key holding the upgrade stack.
pub const STACK_KEY: &str = "upgrade-stack";
/// Application databag key holding the dependency model of the last completed upgrade.
pub const DEPENDENCIES_KEY: &str = "dependencies";
/// Application and unit databag key (ours; Python peers ignore it): the upgrade round. The
/// leader starts a new round with every stack it writes (`pre-upgrade-check`, including the
/// rollback's); a unit records the round when it becomes ready, upgrading or completed, so
/// that a `completed` left over from an earlier round is never taken for this round's.
pub const ROUND_KEY: &str = "upgrade-round";
/// Application databag key (ours; Kubernetes): the round in which `resume-upgrade` last set
/// the partition. From then on the leader no longer points the partition at a unit that
/// joined, which would take back what the operator asked for.
pub const RESUMED_KEY: &str = "upgrade-resumed";

/// Unit databag key (ours; Python peers ignore it): why this unit is `failed`, when the
/// coordinator knows (`Versions incompatible: workload 1.0.0 does not satisfy >=2.0`), for
/// the leader's application status. Written (or cleared) whenever the unit fails, so it is
/// true whenever the state is `failed`; stale otherwise, and then never read.
pub const FAILURE_KEY: &str = "upgrade-failure";

/// Application databag key (ours): the unit the operator's last `resume-upgrade` let go,
/// as `<round>:<unit number>`. A pause holds the next unit until this names the round (the
/// `first` policy) or the round and that unit (`all`).
pub const RELEASED_KEY: &str = "upgrade-released";

/// Application databag key (ours): the charm URL the application ran before the upgrade
/// (`ch:amd64/noble/app-12`, from the leader's `.juju-charm` at `pre-upgrade-check`), from
/// which the exact refresh back is built ([`refresh_back_command`]).
pub const ROLLBACK_CHARM_KEY: &str = "rollback-charm";

/// Unit databag key: the unit's workload health as it last saw it, `healthy` or
/// `unhealthy: <why>` (read by the default [`UpgradeHooks::unit_health`]).
pub const HEALTH_KEY: &str = "workload-health";

/// The charm config option that decides when a refresh waits for `resume-upgrade`
/// ([`PausePolicy`]): `all`, `first` or `none`; unset, the substrate's default.
pub const PAUSE_CONFIG: &str = "pause-after-unit-refresh";

/// Unit databag key: the workload version the unit runs (published by the charm; read for
/// the unit's upgrade statuses).
pub const VERSION_KEY: &str = "workload-version";

/// Unit status while waiting for the turn (machines).
pub const WAITING_MESSAGE: &str = "other units upgrading first...";

/// Unit status of the next unit while the upgrade is paused (machines).
pub const PAUSED_MESSAGE: &str = "paused: waiting for resume-upgrade";

/// Juju shows status messages whole, but operators read them in a table: ours stay within
/// this many characters.
pub const MAX_STATUS: usize = 120;

/// The exact command that refreshes `app` back to the charm `url` (a `.juju-charm` value):
/// `--revision N` for a Charmhub charm, `--path` for a local one, and a placeholder when
/// the URL is unknown or unreadable.
pub fn refresh_back_command(app: &str, url: Option<&str>) -> String {
    let revision = url
        .and_then(|u| u.rsplit_once('-'))
        .and_then(|(_, r)| r.parse::<u32>().ok());
    match (url, revision) {
        (Some(u), Some(r)) if u.starts_with("ch:") || u.starts_with("cs:") => {
            format!("juju refresh {app} --revision {r}")
        }
        (Some(u), Some(r)) if u.starts_with("local:") => format!(
            "juju refresh {app} --path <the .charm file deployed as local revision {r}>"
        ),
        _ => format!(
            "juju refresh {app} --revision <the previous revision> (or --path <the previous .charm file>)"
        ),
    }
}

/// The text of the missing-trust status and action failure.
pub fn trust_message(app: &str) -> String {
    format!("Run juju trust {app} --scope=cluster. Needed for in-place upgrades")
}

/// The events the coordinator handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeEvent {
    /// The peer relation's `relation-created`.
    RelationCreated,
    /// The peer relation's `relation-changed` (the reference's public `on_upgrade_changed`).
    RelationChanged,
    /// The peer relation's `relation-departed` (a unit left: ours; the reference ignores it).
    RelationDeparted,
    /// `upgrade-charm`.
    UpgradeCharm,
    /// The `pre-upgrade-check` action.
    PreUpgradeCheck,
    /// The `resume-upgrade` action: the paused upgrade goes on with the next unit.
    ResumeUpgrade {
        /// `check-health-of-refreshed-units` (default true): refuse while a refreshed unit
        /// is unhealthy.
        check_health: bool,
    },
    /// The `force-upgrade` action (ours): go past a check the operator overrides. At least
    /// one of the two is false.
    ForceUpgrade {
        /// `check-compatibility` (default true): false lets a unit that refused the refresh
        /// on the versions check upgrade anyway.
        check_compatibility: bool,
        /// `run-pre-upgrade-checks` (default true): false runs `pre-upgrade-check` without
        /// the charm's checks.
        run_pre_upgrade_checks: bool,
    },
    /// The charm reports, from any hook, that this unit's upgrade completed
    /// (the reference's `set_unit_completed()`).
    UnitCompleted,
    /// The charm reports that this unit's upgrade failed (`set_unit_failed(cause)`).
    UnitFailed {
        /// Blocked status message.
        cause: Option<String>,
    },
    /// The reference's `upgrade_finished` handler on its own (normally reached through
    /// [`UpgradeEvent::UnitCompleted`] on Kubernetes).
    UpgradeFinished,
    /// Kubernetes: the completion step of a pod that runs the new charm. When this unit's
    /// state is `upgrading`, [`UpgradeHooks::on_pod_upgraded`] brings the workload up and its
    /// outcome marks the unit `completed` or `failed` (the reference leaves this to each
    /// charm's `set_unit_completed()` call). Anywhere else (machines, another state) it does
    /// nothing and reads nothing but this unit's databag. Send it after the other upgrade
    /// events of a dispatch; [`InPlaceUpgrade`](crate::InPlaceUpgrade) does.
    PodUpgraded,
}

/// The coordinator's fixed configuration, built once by the charm.
#[derive(Debug, Clone)]
pub struct UpgradeConfig {
    /// Machines or Kubernetes.
    pub substrate: Substrate,
    /// The versions this charm ships.
    pub dependency_model: DependencyModel,
    /// Produce every DEBUG line of the reference (the default). When false (DEBUG lines are
    /// not being sent anywhere), a `relation-changed` that provably changes nothing returns
    /// without computing the cluster state, which reads every unit's databag.
    pub exact_logs: bool,
    /// The charm URL this unit runs (`.juju-charm`, e.g. `ch:amd64/noble/app-12`): the leader
    /// records it at `pre-upgrade-check` as the revision to refresh back to.
    pub charm_url: Option<String>,
}

impl UpgradeConfig {
    /// A configuration with exact logs.
    pub fn new(substrate: Substrate, dependency_model: DependencyModel) -> Self {
        UpgradeConfig {
            substrate,
            dependency_model,
            exact_logs: true,
            charm_url: None,
        }
    }
}

/// A failure that fails the hook (Juju retries it): only reading from Juju can fail.
#[derive(Debug, thiserror::Error)]
#[error("reading the upgrade relation failed: {0}")]
pub struct CoordinatorError<E: std::error::Error + 'static>(#[source] pub E);

/// Handles one event for `unit`, reading through `view` and calling into `hooks`.
pub fn handle<V: View, H: UpgradeHooks + ?Sized>(
    config: &UpgradeConfig,
    unit: &UnitName,
    event: &UpgradeEvent,
    view: &mut V,
    hooks: &mut H,
) -> Result<Effects, CoordinatorError<V::Error>> {
    let mut session = Session {
        config,
        unit,
        view,
        hooks,
        relation: None,
        leader: None,
        peers: None,
        bags: BTreeMap::new(),
        own_pending: StringMap::new(),
        app: None,
        stack: None,
        stack_problem_logged: false,
        departed: matches!(event, UpgradeEvent::RelationDeparted),
        policy: None,
        skip_compatibility: false,
        skip_pre_check: false,
        rollback_for_hooks: None,
        fx: Effects::default(),
    };
    session.run(event).map_err(CoordinatorError)?;
    Ok(session.fx)
}

struct Session<'a, V: View, H: UpgradeHooks + ?Sized> {
    config: &'a UpgradeConfig,
    unit: &'a UnitName,
    view: &'a mut V,
    hooks: &'a mut H,
    relation: Option<bool>,
    leader: Option<bool>,
    peers: Option<Vec<UnitName>>,
    bags: BTreeMap<UnitName, StringMap>,
    /// Writes to this unit's bag made before it was read (a write needs no read).
    own_pending: StringMap,
    app: Option<StringMap>,
    /// The reference's `_upgrade_stack` cache: `None` = not loaded (an empty stored stack
    /// never gets cached, as in the reference, so every access re-reads the bag).
    stack: Option<Vec<u32>>,
    stack_problem_logged: bool,
    /// This dispatch is a `relation-departed`: the membership just shrank.
    departed: bool,
    /// `pause-after-unit-refresh`, read once when needed (`Err`: an invalid value).
    policy: Option<Result<PausePolicy, String>>,
    /// `force-upgrade check-compatibility=false`.
    skip_compatibility: bool,
    /// `force-upgrade run-pre-upgrade-checks=false`.
    skip_pre_check: bool,
    /// [`UpgradeContext::rollback_command`], once a failure path has read it.
    rollback_for_hooks: Option<String>,
    fx: Effects,
}

type R<T, V> = Result<T, <V as View>::Error>;

impl<V: View, H: UpgradeHooks + ?Sized> Session<'_, V, H> {
    // ----- reading -----

    fn has_relation(&mut self) -> R<bool, V> {
        if self.relation.is_none() {
            self.relation = Some(self.view.has_relation()?);
        }
        Ok(self.relation == Some(true))
    }

    fn is_leader(&mut self) -> R<bool, V> {
        if self.leader.is_none() {
            self.leader = Some(self.view.is_leader()?);
        }
        Ok(self.leader == Some(true))
    }

    fn peers(&mut self) -> R<&[UnitName], V> {
        if self.peers.is_none() {
            let mut peers = if self.has_relation()? {
                self.view.peers()?
            } else {
                Vec::new()
            };
            peers.retain(|p| p != self.unit);
            peers.sort();
            peers.dedup();
            self.peers = Some(peers);
        }
        Ok(self.peers.as_deref().unwrap_or_default())
    }

    /// Self and peers, ascending.
    fn app_units(&mut self) -> R<Vec<UnitName>, V> {
        let mut all = self.peers()?.to_vec();
        all.push(self.unit.clone());
        all.sort();
        Ok(all)
    }

    fn bag(&mut self, unit: &UnitName) -> R<&StringMap, V> {
        if !self.bags.contains_key(unit) {
            let mut data = self.view.unit_data(unit)?;
            if unit == self.unit {
                data.extend(std::mem::take(&mut self.own_pending));
            }
            self.bags.insert(unit.clone(), data);
        }
        Ok(&self.bags[unit])
    }

    fn raw_state(&mut self, unit: &UnitName) -> R<Option<String>, V> {
        Ok(self.bag(unit)?.get(STATE_KEY).cloned())
    }

    fn own_state(&mut self) -> R<Option<String>, V> {
        let me = self.unit.clone();
        self.raw_state(&me)
    }

    fn own_state_is(&mut self, states: &[UnitState]) -> R<bool, V> {
        Ok(self
            .own_state()?
            .as_deref()
            .and_then(UnitState::parse)
            .is_some_and(|s| states.contains(&s)))
    }

    /// Raw states of every unit (the reference's `unit_states`).
    fn unit_states(&mut self) -> R<Vec<Option<String>>, V> {
        let units = self.app_units()?;
        units.iter().map(|u| self.raw_state(u)).collect()
    }

    fn other_unit_states(&mut self) -> R<Vec<Option<String>>, V> {
        let peers = self.peers()?.to_vec();
        peers.iter().map(|u| self.raw_state(u)).collect()
    }

    fn cluster_state(&mut self) -> R<Option<UnitState>, V> {
        let states = self.unit_states()?;
        let cs = cluster_state(states.iter().map(|s| s.as_deref()));
        if cs.is_none() {
            self.note_unknown_states()?;
        }
        Ok(cs)
    }

    fn note_unknown_states(&mut self) -> R<(), V> {
        for unit in self.app_units()? {
            if let Some(raw) = self.raw_state(&unit)? {
                if UnitState::parse(&raw).is_none() {
                    self.fx.log(
                        LogLevel::Warning,
                        format!(
                            "{unit} has an unknown upgrade state {:?}: the cluster state is unknown until it writes one of recovery, failed, idle, ready, upgrading, completed",
                            truncate(&raw, 40)
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn any_upgrading(states: &[Option<String>]) -> bool {
        states.iter().any(|s| s.as_deref() == Some("upgrading"))
    }

    fn app(&mut self) -> R<&StringMap, V> {
        if self.app.is_none() {
            self.app = Some(self.view.app_data()?);
        }
        Ok(self.app.get_or_insert_with(StringMap::new))
    }

    /// The reference's `upgrade_stack` getter: the cached list, or the stored one when it is
    /// non-empty. A malformed stored value is logged and treated as no stack.
    fn stack_loaded(&mut self) -> R<bool, V> {
        if let Some(stack) = &self.stack {
            return Ok(!stack.is_empty());
        }
        let Some(text) = self.app()?.get(STACK_KEY).cloned() else {
            return Ok(false);
        };
        match parse_stack(&text) {
            Ok(stack) if stack.is_empty() => Ok(false),
            Ok(stack) => {
                self.stack = Some(stack);
                Ok(true)
            }
            Err(e) => {
                if !self.stack_problem_logged {
                    self.stack_problem_logged = true;
                    self.fx.log(
                        LogLevel::Error,
                        format!(
                            "ignoring the stored upgrade-stack {:?}: {e}; run pre-upgrade-check on the leader to write a new one",
                            truncate(&text, 60)
                        ),
                    );
                }
                Ok(false)
            }
        }
    }

    fn set_stack(&mut self, stack: Vec<u32>) -> R<(), V> {
        self.app_set(STACK_KEY, format_stack(&stack))?;
        self.stack = Some(stack);
        Ok(())
    }

    // ----- writing -----

    fn set_own(&mut self, key: &str, value: &str) -> R<(), V> {
        match self.bags.get_mut(self.unit) {
            Some(bag) => bag.insert(key.to_owned(), value.to_owned()),
            None => self.own_pending.insert(key.to_owned(), value.to_owned()),
        };
        self.fx.unit_data.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn set_own_state(&mut self, state: UnitState) -> R<(), V> {
        self.set_own(STATE_KEY, state.as_str())?;
        if matches!(
            state,
            UnitState::Ready | UnitState::Upgrading | UnitState::Completed
        ) {
            if let Some(round) = self.current_round()? {
                self.set_own(ROUND_KEY, &round.to_string())?;
            }
        }
        Ok(())
    }

    /// The round the leader started last (`None`: no round marker, e.g. a stack written by
    /// the Python library).
    fn current_round(&mut self) -> R<Option<u64>, V> {
        Ok(self.app()?.get(ROUND_KEY).and_then(|r| r.parse().ok()))
    }

    /// Leader: a new stack, a new round.
    fn start_round(&mut self) -> R<(), V> {
        let next = self.current_round()?.unwrap_or(0) + 1;
        self.app_set(ROUND_KEY, next.to_string())
    }

    /// Is `unit`'s `completed` from an earlier round? (A unit without a round marker, e.g. a
    /// Python peer, is taken at its word, as the reference does.)
    fn completed_earlier(&mut self, unit: &UnitName) -> R<bool, V> {
        let Some(current) = self.current_round()? else {
            return Ok(false);
        };
        let mine = self
            .bag(unit)?
            .get(ROUND_KEY)
            .and_then(|r| r.parse::<u64>().ok());
        Ok(mine.is_some_and(|r| r != current))
    }

    /// Has `unit` begun (or finished) its upgrade in the current round? A state without a
    /// round marker (a Python peer) is taken at its word.
    fn started_this_round(&mut self, unit: &UnitName) -> R<bool, V> {
        let moving = matches!(
            self.raw_state(unit)?.as_deref(),
            Some("ready" | "upgrading" | "completed")
        );
        Ok(moving && !self.completed_earlier(unit)?)
    }

    /// The pause policy in force, read once: `Err(value)` when the option holds none of the
    /// three values (then [`PausePolicy::All`] applies, the safe choice).
    fn policy_setting(&mut self) -> R<Result<PausePolicy, String>, V> {
        if let Some(p) = &self.policy {
            return Ok(p.clone());
        }
        let raw = self.view.config_value(PAUSE_CONFIG)?;
        let substrate = self.config.substrate;
        let p = PausePolicy::from_config(raw.as_deref())
            .map(|p| p.unwrap_or(PausePolicy::default_for(substrate)));
        self.policy = Some(p.clone());
        Ok(p)
    }

    fn pause_policy(&mut self) -> R<PausePolicy, V> {
        Ok(self.policy_setting()?.unwrap_or(PausePolicy::All))
    }

    /// The unit the last `resume-upgrade` let go: (round, unit number).
    fn released(&mut self) -> R<Option<(u64, u32)>, V> {
        Ok(self.app()?.get(RELEASED_KEY).and_then(|v| {
            let (r, u) = v.split_once(':')?;
            Some((r.parse().ok()?, u.parse().ok()?))
        }))
    }

    /// Machines: must `top`, next in line, wait for `resume-upgrade`? Some other unit
    /// finished in this round and the policy pauses here: `first` until a resume in this
    /// round, `all` until a resume that named `top`. Rounds come from our leader; without
    /// them (a Python leader) nothing pauses, as in the reference.
    fn held_for_resume(&mut self, top: u32) -> R<bool, V> {
        let policy = self.pause_policy()?;
        if policy == PausePolicy::None {
            return Ok(false);
        }
        let Some(round) = self.current_round()? else {
            return Ok(false);
        };
        let mut done = false;
        for unit in self.app_units()? {
            if unit.number() != top
                && self.raw_state(&unit)?.as_deref() == Some("completed")
                && self.started_this_round(&unit)?
            {
                done = true;
            }
        }
        if !done {
            return Ok(false);
        }
        let released = self.released()?;
        Ok(match policy {
            PausePolicy::First => released.map(|(r, _)| r) != Some(round),
            PausePolicy::All => released != Some((round, top)),
            PausePolicy::None => false,
        })
    }

    /// Kubernetes leader: the pods wait at the partition, but the policy (changed since) is
    /// `none`: let the next one go, as `resume-upgrade` would. (On machines the held unit
    /// sees the policy itself.) Read only when the states show such a wait.
    fn release_when_not_pausing(&mut self) -> R<(), V> {
        if self.config.substrate != Substrate::K8s || !self.is_leader()? {
            return Ok(());
        }
        let Some(stack) = self.stack.clone() else {
            return Ok(());
        };
        if !self.waiting_after_done(&stack)? || self.pause_policy()? != PausePolicy::None {
            return Ok(());
        }
        let Some(&next) = stack.last() else {
            return Ok(());
        };
        let round = self.current_round()?.unwrap_or(0);
        if self.released()? == Some((round, next)) {
            return Ok(()); // already let go
        }
        self.info(format!(
            "{PAUSE_CONFIG}=none: the upgrade goes on with unit {next} without resume-upgrade"
        ));
        if self.set_partition(next)?.is_ok() {
            self.app_set(RELEASED_KEY, format!("{round}:{next}"))?;
        }
        Ok(())
    }

    /// The first refreshed (`completed`) unit whose workload is not healthy, and why.
    fn unhealthy_refreshed(&mut self) -> R<Option<(UnitName, String)>, V> {
        for unit in self.app_units()? {
            if self.raw_state(&unit)?.as_deref() != Some("completed") {
                continue;
            }
            let health = self.with_hooks(|h, cx| h.unit_health(cx, &unit))?;
            match health {
                UnitHealth::Healthy => {}
                UnitHealth::Unhealthy(why) => {
                    return Ok(Some((unit, format!("workload {}", truncate(&why, 60)))))
                }
                UnitHealth::Unknown => {
                    return Ok(Some((unit, "it has not reported its health".into())))
                }
            }
        }
        Ok(None)
    }

    /// The refresh back, when the leader recorded what the application ran before.
    fn rollback_command(&mut self) -> R<Option<String>, V> {
        let app = self.unit.app().to_owned();
        Ok(self
            .app()?
            .get(ROLLBACK_CHARM_KEY)
            .map(|url| refresh_back_command(&app, Some(url))))
    }

    /// Is the upgrade paused, waiting for `resume-upgrade`? Some unit finished in this
    /// round, nobody is upgrading, the top of the stack has not started, and the pause
    /// policy holds it (Kubernetes: any policy but `none`, the partition holds the pods).
    fn paused_for_resume(&mut self, stack: &[u32]) -> R<bool, V> {
        if !self.waiting_after_done(stack)? {
            return Ok(false);
        }
        match (self.config.substrate, stack.last()) {
            (Substrate::K8s, _) => Ok(self.pause_policy()? != PausePolicy::None),
            (Substrate::Vm, Some(&top)) => self.held_for_resume(top),
            (Substrate::Vm, None) => Ok(false),
        }
    }

    /// Do the states show the upgrade waiting (some unit done in this round, nobody
    /// upgrading, the top not started), whatever the policy? On Kubernetes: at the partition.
    fn waiting_after_done(&mut self, stack: &[u32]) -> R<bool, V> {
        let Some(&top) = stack.last() else {
            return Ok(false);
        };
        let mut done_in_round = false;
        for unit in self.app_units()? {
            match self.raw_state(&unit)?.as_deref() {
                Some("upgrading") => return Ok(false),
                Some("completed") if self.started_this_round(&unit)? => {
                    if unit.number() == top {
                        return Ok(false);
                    }
                    done_in_round = true;
                }
                _ => {}
            }
        }
        Ok(done_in_round)
    }

    fn app_set(&mut self, key: &str, value: String) -> R<(), V> {
        self.app()?;
        if let Some(app) = self.app.as_mut() {
            app.insert(key.to_owned(), value.clone());
        }
        self.fx.app_data.insert(key.to_owned(), value);
        Ok(())
    }

    fn status(&mut self, status: Status) {
        self.fx.status = Some(status);
    }

    fn debug(&mut self, m: impl Into<String>) {
        self.fx.log(LogLevel::Debug, m);
    }

    fn info(&mut self, m: impl Into<String>) {
        self.fx.log(LogLevel::Info, m);
    }

    fn error(&mut self, m: impl Into<String>) {
        self.fx.log(LogLevel::Error, m);
    }

    fn unit_name(&self, id: u32) -> Option<UnitName> {
        UnitName::new(self.unit.app(), id).ok()
    }

    /// Runs `f` with a hook context over what this dispatch has read.
    fn with_hooks<T>(&mut self, f: impl FnOnce(&mut H, &mut UpgradeContext<'_>) -> T) -> R<T, V> {
        let leader = self.is_leader()?;
        self.peers()?;
        let peers = self.peers.as_deref().unwrap_or_default();
        let view = &mut *self.view;
        let mut publish = |status: &Status| view.publish_status(status).map_err(|e| e.to_string());
        let mut cx = UpgradeContext {
            unit: self.unit,
            substrate: self.config.substrate,
            leader,
            model: &self.config.dependency_model,
            peers,
            bags: &mut self.bags,
            own_pending: &mut self.own_pending,
            effects: &mut self.fx,
            publish: &mut publish,
            rollback: self.rollback_for_hooks.as_deref(),
        };
        Ok(f(self.hooks, &mut cx))
    }

    // ----- handlers -----

    fn run(&mut self, event: &UpgradeEvent) -> R<(), V> {
        if *event == UpgradeEvent::PodUpgraded
            && (self.config.substrate != Substrate::K8s
                || !self.has_relation()?
                || !self.own_state_is(&[UnitState::Upgrading])?)
        {
            // Nothing to finish: no effect at all (not even the statuses' summary).
            return Ok(());
        }
        self.dispatch_event(event)?;
        self.describe_unit()?;
        self.summarise()
    }

    /// While a refresh is under way, an upgrade status of this unit also says what it runs:
    /// `other units upgrading first... (workload 1.0.0, new charm)`. The reference's text
    /// comes first, unchanged (peers never read statuses).
    fn describe_unit(&mut self) -> R<(), V> {
        let Some(status) = self.fx.status.clone() else {
            return Ok(());
        };
        let upgrade_status = matches!(
            (&status, status.message()),
            (Status::Waiting(_), WAITING_MESSAGE | PAUSED_MESSAGE)
                | (
                    Status::Maintenance(_),
                    "upgrading..." | "upgrade completed" | "upgrading unit"
                )
        );
        if !upgrade_status || self.relation != Some(true) {
            return Ok(());
        }
        // On machines only what this dispatch knows already (no databag is read for a
        // status: these come often); a pod's two upgrade statuses come once per upgrade
        // and read what they need.
        if self.config.substrate == Substrate::K8s {
            let me = self.unit.clone();
            self.bag(&me)?;
            self.app()?;
        }
        let version = match self.fx.workload_version.clone() {
            Some(v) => Some(v),
            None => self
                .bags
                .get(self.unit)
                .and_then(|b| b.get(VERSION_KEY))
                .cloned(),
        };
        if version.as_deref().is_none_or(str::is_empty) || self.app.is_none() {
            return Ok(());
        }
        let Some(version) = version.filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        let charm = if self.runs_new_versions()? {
            "new charm"
        } else {
            "original charm"
        };
        let text = format!(
            "{} (workload {}, {charm})",
            status.message(),
            truncate(&version, 24)
        );
        self.fx.status = Some(match status {
            Status::Waiting(_) => Status::Waiting(text),
            _ => Status::Maintenance(text),
        });
        Ok(())
    }

    /// The charm's versions differ from the stored ones: this unit runs a refreshed charm.
    fn runs_new_versions(&mut self) -> R<bool, V> {
        let wire = self.config.dependency_model.to_wire();
        Ok(matches!(self.app()?.get(DEPENDENCIES_KEY), Some(stored) if *stored != wire))
    }

    /// Leader, when every unit's bag is at hand: the application status.
    fn summarise(&mut self) -> R<(), V> {
        // Only where this dispatch already knows it leads (no extra `is-leader`).
        if self.relation != Some(true) || self.leader != Some(true) {
            return Ok(());
        }
        if self.fx.app_status.is_some() {
            return Ok(()); // a handler said what matters most (e.g. a missing trust)
        }
        let units = self.app_units()?;
        if units.len() == 1 {
            // Alone, no peer's change will ever bring the leader back: read its own bag.
            let me = self.unit.clone();
            self.bag(&me)?;
        }
        if !units.iter().all(|u| self.bags.contains_key(u)) {
            return Ok(()); // not read in this dispatch: leave the status as it is
        }
        let app = self.unit.app().to_owned();
        let states: Vec<(u32, Option<UnitState>)> = units
            .iter()
            .map(|u| {
                let s = self.bags[u]
                    .get(STATE_KEY)
                    .and_then(|s| UnitState::parse(s));
                (u.number(), s)
            })
            .collect();
        let stack = self
            .app()?
            .get(STACK_KEY)
            .and_then(|s| parse_stack(s).ok())
            .unwrap_or_default();
        let failed = states
            .iter()
            .find(|(_, s)| *s == Some(UnitState::Failed))
            .map(|(n, _)| *n);
        let failure = units
            .iter()
            .find(|u| Some(u.number()) == failed)
            .and_then(|u| self.bags[u].get(FAILURE_KEY))
            .filter(|why| why.starts_with("Versions incompatible"))
            .cloned();
        let back = self.rollback_command()?;
        // Recovery first: the operator already ran the pre-check after the failure, and the
        // next step is the refresh back (the failed unit stays failed until it).
        let status = if states.iter().any(|(_, s)| *s == Some(UnitState::Recovery)) {
            // Has the refresh back begun (some unit rolled back in this round)? Only a
            // unit that recorded this round counts: a `completed` without a round marker
            // (a Python peer) may be left from the failed round.
            let round = self.current_round()?;
            let mut rolled_back = 0;
            for unit in &units {
                let bag = self.bag(unit)?;
                let marked = bag.get(ROUND_KEY).and_then(|r| r.parse::<u64>().ok());
                if bag.get(STATE_KEY).map(String::as_str) == Some("completed")
                    && round.is_some()
                    && marked == round
                {
                    rolled_back += 1;
                }
            }
            let next = stack.last().copied().unwrap_or_default();
            if rolled_back == 0 {
                Status::Blocked(match &back {
                    Some(cmd) => with_next_step("Ready to roll back", &format!(": {cmd}"), ""),
                    None => {
                        format!("Ready to roll back: juju refresh {app} to the previous revision")
                    }
                })
            } else if self.paused_for_resume(&stack)? {
                Status::Active(format!(
                    "Rolling back: {rolled_back}/{} units done; when they are healthy: juju run {app}/leader resume-upgrade",
                    states.len()
                ))
            } else {
                Status::Maintenance(format!(
                    "Rolling back: {rolled_back}/{} units done, unit {next} next",
                    states.len()
                ))
            }
        } else if let Some(why) = failure {
            // Nothing was upgraded: the way out is the refresh back alone, or forcing it.
            // (The next step is never cut: the reason is, if the whole is over 120.)
            let next = match &back {
                Some(cmd) => format!("; roll back: {cmd}"),
                None => "; juju refresh back".to_owned(),
            };
            Status::Blocked(with_next_step(&why, &next, "; juju refresh back"))
        } else if let Some(n) = failed {
            Status::Blocked(match &back {
                Some(cmd) => with_next_step(
                    &format!("Upgrade failed on unit {n}"),
                    &format!(": juju run {app}/leader pre-upgrade-check, then {cmd}"),
                    ": run pre-upgrade-check on the leader, then juju refresh back",
                ),
                None => format!(
                    "Upgrade failed on unit {n}: run pre-upgrade-check on the leader, then juju refresh back"
                ),
            })
        } else if !stack.is_empty() {
            let done = states
                .iter()
                .filter(|(_, s)| *s == Some(UnitState::Completed))
                .count();
            let busy = states.iter().any(|(_, s)| {
                matches!(
                    s,
                    Some(UnitState::Ready | UnitState::Upgrading | UnitState::Completed)
                )
            });
            let next = stack.last().copied().unwrap_or_default();
            let roll_back = back
                .as_ref()
                .map(|cmd| format!("; roll back: {cmd}"))
                .unwrap_or_default();
            if self.paused_for_resume(&stack)? {
                Status::Active(append_if_fits(
                    &format!(
                        "Upgrading: {done}/{} units done; when they are healthy: juju run {app}/leader resume-upgrade",
                        states.len()
                    ),
                    &roll_back,
                ))
            } else if busy {
                Status::Maintenance(append_if_fits(
                    &format!(
                        "Upgrading: {done}/{} units done, unit {next} next",
                        states.len()
                    ),
                    &roll_back,
                ))
            } else if self.runs_new_versions()? {
                Status::Maintenance(append_if_fits(
                    &format!("Upgrading: 0/{} units done, unit {next} next", states.len()),
                    &roll_back,
                ))
            } else {
                Status::Active(format!("Ready to upgrade: juju refresh {app}"))
            }
        } else if states.iter().all(|(_, s)| *s == Some(UnitState::Idle))
            && self.runs_new_versions()?
        {
            Status::Blocked(format!(
                "Refreshed without pre-upgrade-check: run juju run {app}/leader pre-upgrade-check"
            ))
        } else {
            Status::Active(String::new())
        };
        // An invalid pause policy, when this dispatch read it (a pause decision, above or in
        // the handler; the config is not read otherwise), is the operator's to fix first (it
        // is treated as `all` meanwhile).
        let status = match self.policy.clone() {
            Some(Err(value)) if !stack.is_empty() => {
                let head = format!(
                    "Invalid {PAUSE_CONFIG}={:?} (all, first or none)",
                    truncate(&value, 16)
                );
                Status::Blocked(if self.paused_for_resume(&stack)? {
                    with_next_step(
                        &head,
                        &format!(": paused; juju run {app}/leader resume-upgrade"),
                        ": paused; run resume-upgrade on the leader",
                    )
                } else {
                    with_next_step(&head, ": pausing after every unit", "")
                })
            }
            _ => status,
        };
        self.fx.app_status = Some(status);
        Ok(())
    }

    fn dispatch_event(&mut self, event: &UpgradeEvent) -> R<(), V> {
        match event {
            UpgradeEvent::RelationCreated => self.on_created(),
            UpgradeEvent::RelationChanged | UpgradeEvent::RelationDeparted => {
                self.on_upgrade_changed()
            }
            UpgradeEvent::UpgradeCharm => self.on_upgrade_charm(),
            UpgradeEvent::PreUpgradeCheck => self.on_pre_upgrade_check(),
            UpgradeEvent::ResumeUpgrade { check_health } => self.on_resume_upgrade(*check_health),
            UpgradeEvent::ForceUpgrade {
                check_compatibility,
                run_pre_upgrade_checks,
            } => self.on_force_upgrade(*check_compatibility, *run_pre_upgrade_checks),
            UpgradeEvent::UnitCompleted => self.set_unit_completed(),
            UpgradeEvent::UnitFailed { cause } => self.set_unit_failed(cause.as_deref()),
            UpgradeEvent::UpgradeFinished => self.on_upgrade_finished(),
            UpgradeEvent::PodUpgraded => self.on_pod_upgraded(),
        }
    }

    fn on_created(&mut self) -> R<(), V> {
        if !self.has_relation()? {
            self.fx.deferred = true;
            return Ok(());
        }
        // A unit that joins in the middle of an upgrade already running the new charm has
        // nothing to upgrade: it counts as upgraded (the reference writes `idle`, which holds
        // the whole cluster back).
        let joins_upgraded = self.stack_loaded()? && self.runs_new_versions()?;
        self.set_own_state(if joins_upgraded {
            UnitState::Completed
        } else {
            UnitState::Idle
        })?;
        if self.is_leader()? {
            self.debug("Persisting dependencies to upgrade relation data...");
            let deps = self.config.dependency_model.to_wire();
            self.app_set(DEPENDENCIES_KEY, deps)?;
        }
        Ok(())
    }

    fn fail_action(&mut self, message: &str) {
        self.fx.action_failure = Some(message.to_owned());
    }

    /// The checks both actions start with; false when the action already failed.
    fn action_preamble(&mut self) -> R<bool, V> {
        if !self.has_relation()? {
            self.fail_action("Could not find upgrade relation.");
            return Ok(false);
        }
        if !self.is_leader()? {
            self.fail_action("Action must be ran on the Juju leader.");
            return Ok(false);
        }
        Ok(true)
    }

    fn on_pre_upgrade_check(&mut self) -> R<(), V> {
        if !self.action_preamble()? {
            return Ok(());
        }
        let cs = self.cluster_state()?;
        if cs == Some(UnitState::Failed) {
            self.info("Entering recovery state for rolling-back to previous version...");
            self.repair_upgrade_stack()?;
            self.start_round()?;
            self.status(Status::Blocked("ready to rollback application".into()));
            self.set_own_state(UnitState::Recovery)?;
            if let Some(cmd) = self.rollback_command()? {
                self.fx
                    .action_results
                    .insert("message".into(), format!("Ready to roll back: {cmd}"));
                self.fx
                    .action_results
                    .insert("rollback-command".into(), cmd);
            }
            return Ok(());
        }
        if cs != Some(UnitState::Idle) {
            self.fail_action("Cannot run pre-upgrade checks, cluster already upgrading.");
            return Ok(());
        }
        if self.config.substrate == Substrate::K8s && !self.trusted(true)? {
            return Ok(());
        }
        self.info("Running pre-upgrade-check...");
        if self.skip_pre_check {
            self.fx.log(
                LogLevel::Warning,
                "Skipping the charm's pre-upgrade checks (force-upgrade run-pre-upgrade-checks=false)",
            );
            if self.config.substrate == Substrate::K8s {
                // The checks are skipped, not the preparation: hold every pod but the
                // highest, as a passing pre-check would.
                let highest = self.app_units()?.iter().map(UnitName::number).max();
                if let Some(highest) = highest {
                    if let Err(e) = self.set_partition(highest)? {
                        self.error(format!("the partition could not be set: {e}"));
                        self.fail_action("Cannot set rolling update partition.");
                        return Ok(());
                    }
                }
            }
        } else {
            self.fx.calls.push(Call::PreUpgradeCheck);
            if let Err(e) = self.with_hooks(|h, cx| h.pre_upgrade_check(cx))? {
                self.error(e.0.py_log_line());
                self.fail_action(e.message());
                return Ok(());
            }
        }
        let units = self.app_units()?;
        let stack = match self.config.substrate {
            Substrate::K8s => {
                self.info("Building upgrade-stack for K8s...");
                units.iter().map(UnitName::number).collect::<Vec<_>>()
            }
            Substrate::Vm => {
                self.info("Building upgrade-stack for VMs...");
                self.fx.calls.push(Call::BuildUpgradeStack);
                match self.with_hooks(|h, cx| h.build_upgrade_stack(cx))? {
                    Ok(stack) => {
                        if let Err(problem) = validate_stack(&stack, &units) {
                            self.error(format!(
                                "the charm's upgrade stack {} is unusable: {problem}",
                                shown_stack(&stack)
                            ));
                            self.fail_action(&format!(
                                "The charm built an unusable upgrade stack {}: {problem}.",
                                shown_stack(&stack)
                            ));
                            return Ok(());
                        }
                        stack
                    }
                    Err(e) => {
                        // The reference logs `str(e)`: empty for NotImplementedError.
                        let text = match &e {
                            StackError::NotImplemented => String::new(),
                            StackError::Failed(m) => m.clone(),
                        };
                        self.error(text);
                        self.fail_action("Unknown error found.");
                        return Ok(());
                    }
                }
            }
        };
        self.debug(format!("Built upgrade stack of {}", shown_stack(&stack)));
        self.info("Setting upgrade-stack to relation data...");
        self.set_stack(stack)?;
        self.start_round()?;
        self.report_plan()?;
        if self.runs_new_versions()? {
            // `juju refresh` already happened without a pre-check: every unit (every pod, on
            // Kubernetes) already runs the new charm, so its upgrade-charm has come and gone.
            // Start now: the others run their upgrade-charm logic when they see the stack;
            // this unit (the leader: Juju tells it nothing of its own write) does it here,
            // on Kubernetes only when it is the highest unit (the first to go).
            self.info(
                "The charm was refreshed before this pre-upgrade-check: starting the upgrade now",
            );
            if self.config.substrate == Substrate::Vm || self.late_turn()? {
                self.on_upgrade_charm()?;
            }
        }
        Ok(())
    }

    /// After a successful pre-check: record what to refresh back to (this unit runs the
    /// charm the application runs now, unless the refresh already happened) and tell the
    /// operator the refresh, the way back and the pause policy.
    fn report_plan(&mut self) -> R<(), V> {
        let app = self.unit.app().to_owned();
        if !self.runs_new_versions()? {
            if let Some(url) = self.config.charm_url.clone() {
                self.app_set(ROLLBACK_CHARM_KEY, url)?;
            }
        }
        let back = self
            .rollback_command()?
            .unwrap_or_else(|| refresh_back_command(&app, None));
        let (policy, note) = match self.policy_setting()? {
            Ok(p) => (p, String::new()),
            Err(value) => (
                PausePolicy::All,
                format!(" ({PAUSE_CONFIG}={value:?} is not all, first or none: treated as all)"),
            ),
        };
        let r = &mut self.fx.action_results;
        r.insert(
            "message".into(),
            format!(
                "Ready to upgrade: juju refresh {app}. If it goes wrong, roll back with: {back}. \
                 Pause policy {PAUSE_CONFIG}={}: {}{note}; change it with juju config {app} {PAUSE_CONFIG}=all|first|none",
                policy.as_str(),
                policy.describe()
            ),
        );
        r.insert("rollback-command".into(), back);
        r.insert(PAUSE_CONFIG.into(), policy.as_str().into());
        Ok(())
    }

    /// Kubernetes: may the charm patch its StatefulSet? When not, the application is Blocked with the `juju trust` command and, in an
    /// action, the action fails with it; nothing is written.
    fn trusted(&mut self, in_action: bool) -> R<bool, V> {
        let app = self.unit.app().to_owned();
        let message = match self.with_hooks(|h, cx| h.may_patch_partition(cx))? {
            Ok(true) => return Ok(true),
            Ok(false) => trust_message(&app),
            Err(e) => {
                // Only a definite no stops the upgrade: a partition patch that then fails
                // says so itself (and a single pod never needs one).
                self.fx.log(
                    LogLevel::Warning,
                    format!(
                        "cannot tell whether this charm may patch its StatefulSet, going on: {e}"
                    ),
                );
                return Ok(true);
            }
        };
        self.error(format!("{message} (the upgrade waits until then)"));
        if in_action {
            self.fail_action(&message);
        }
        if self.is_leader()? {
            self.fx.app_status = Some(Status::Blocked(truncate_to(&message, MAX_STATUS)));
        }
        Ok(false)
    }

    /// The reference's `_repair_upgrade_stack`, inserting missing units in ascending order
    /// (the reference iterates a Python set: its order among several units is arbitrary).
    fn repair_upgrade_stack(&mut self) -> R<(), V> {
        self.fx.calls.push(Call::RepairStack);
        let cs = self.cluster_state()?;
        if !matches!(cs, Some(UnitState::Failed | UnitState::Recovery)) || !self.stack_loaded()? {
            return Ok(());
        }
        let units = self.app_units()?;
        let mut stack = self.stack.clone().unwrap_or_default();
        if stack.len() == units.len() || !self.is_leader()? {
            return Ok(());
        }
        let listed: std::collections::HashSet<u32> = stack.iter().copied().collect();
        for unit in &units {
            let id = unit.number();
            if !listed.contains(&id) {
                let at = stack.len().saturating_sub(1);
                stack.insert(at, id);
                self.debug(format!(
                    "Inserted {id} in to upgrade-stack - {}",
                    shown_stack(&stack)
                ));
            }
        }
        self.set_stack(stack)
    }

    fn on_resume_upgrade(&mut self, check_health: bool) -> R<(), V> {
        if !self.action_preamble()? {
            return Ok(());
        }
        if !self.stack_loaded()? {
            self.fail_action("Nothing to resume, upgrade stack unset.");
            return Ok(());
        }
        let stack = self.stack.clone().unwrap_or_default();
        let resumable = match self.config.substrate {
            // The reference counts: exactly one unit (the highest) left the stack. Units
            // added or removed since the pre-check break that count, so a pause is also
            // recognised from the states (read only then).
            Substrate::K8s => {
                stack.len() == self.peers()?.len() || self.paused_for_resume(&stack)?
            }
            Substrate::Vm => self.paused_for_resume(&stack)?,
        };
        if !resumable {
            let not_pausing = self.pause_policy()? == PausePolicy::None;
            self.fail_action(&if not_pausing {
                format!("{PAUSE_CONFIG} is \"none\": the upgrade does not pause, so there is nothing to resume.")
            } else if self.config.substrate == Substrate::K8s {
                "Upgrade can be resumed only once after juju refresh is called.".to_owned()
            } else {
                "Nothing to resume: the upgrade is not paused (it waits for no resume-upgrade now)."
                    .to_owned()
            });
            return Ok(());
        }
        let next = *stack.last().unwrap_or(&0);
        if check_health {
            if let Some((unit, why)) = self.unhealthy_refreshed()? {
                self.fail_action(&format!(
                    "Unit {} is unhealthy ({why}). The upgrade will not resume: fix it, or resume anyway with juju run {}/leader resume-upgrade check-health-of-refreshed-units=false",
                    unit.number(),
                    self.unit.app()
                ));
                return Ok(());
            }
        } else {
            self.fx.log(
                LogLevel::Warning,
                "Resuming without checking the health of the refreshed units (check-health-of-refreshed-units=false)",
            );
        }
        let unchecked = if check_health {
            ""
        } else {
            " (the health of the refreshed units was not checked)"
        };
        let round = self.current_round()?.unwrap_or(0);
        if self.config.substrate == Substrate::K8s {
            match self.set_partition(next)? {
                Ok(()) => {
                    self.fx.action_results.insert(
                        "message".into(),
                        format!("Upgrade will resume on unit {next}{unchecked}"),
                    );
                    self.app_set(RESUMED_KEY, round.to_string())?;
                    self.app_set(RELEASED_KEY, format!("{round}:{next}"))?;
                }
                Err(_) => self.fail_action("Cannot set rolling update partition."),
            }
            return Ok(());
        }
        // Machines: the released unit sees the app bag change (a relation-changed) and takes
        // its turn; the leader, when it is next, takes it here.
        self.app_set(RELEASED_KEY, format!("{round}:{next}"))?;
        self.fx.action_results.insert(
            "message".into(),
            format!("Upgrade will resume on unit {next}{unchecked}"),
        );
        if next == self.unit.number() {
            self.on_upgrade_changed()?;
        }
        Ok(())
    }

    /// `force-upgrade`: past a refused refresh (`check-compatibility=false`, on the unit that
    /// refused) or a failing pre-check (`run-pre-upgrade-checks=false`, on the leader).
    fn on_force_upgrade(&mut self, check_compatibility: bool, run_checks: bool) -> R<(), V> {
        if check_compatibility && run_checks {
            self.fail_action(
                "Nothing to force: set check-compatibility=false or run-pre-upgrade-checks=false.",
            );
            return Ok(());
        }
        if !self.has_relation()? {
            self.fail_action("Could not find upgrade relation.");
            return Ok(());
        }
        let app = self.unit.app().to_owned();
        let mut refused = None;
        for unit in self.app_units()? {
            if self.raw_state(&unit)?.as_deref() == Some("failed")
                && self
                    .bag(&unit)?
                    .get(FAILURE_KEY)
                    .is_some_and(|why| why.starts_with("Versions incompatible"))
            {
                refused = Some(unit);
                break;
            }
        }
        if let Some(unit) = refused {
            let n = unit.number();
            let command = format!("juju run {unit} force-upgrade check-compatibility=false");
            if check_compatibility {
                self.fail_action(&format!(
                    "Unit {n} refused the refresh on the versions check; to override it: {command}"
                ));
                return Ok(());
            }
            if unit != *self.unit {
                self.fail_action(&format!(
                    "Must run on unit {n}, which refused the refresh: {command}"
                ));
                return Ok(());
            }
            self.fx.log(
                LogLevel::Warning,
                "Skipping the check of the stored versions against this charm's (force-upgrade check-compatibility=false)",
            );
            self.skip_compatibility = true;
            self.set_own(FAILURE_KEY, "")?;
            self.on_upgrade_charm()?;
            self.fx.action_results.insert(
                "message".into(),
                format!("Unit {n} skipped the versions check: the upgrade proceeds"),
            );
            return Ok(());
        }
        if !run_checks {
            if !self.is_leader()? {
                self.fail_action(&format!(
                    "Must run on the leader: juju run {app}/leader force-upgrade run-pre-upgrade-checks=false"
                ));
                return Ok(());
            }
            if self.cluster_state()? != Some(UnitState::Idle) {
                self.fail_action("No pre-upgrade check to force: the upgrade has already started.");
                return Ok(());
            }
            self.skip_pre_check = true;
            return self.on_pre_upgrade_check();
        }
        self.fail_action("Nothing to force: no unit refused the refresh on the versions check.");
        Ok(())
    }

    fn set_partition(
        &mut self,
        partition: u32,
    ) -> R<Result<(), crate::errors::KubernetesClientError>, V> {
        if self.config.substrate == Substrate::Vm {
            return Ok(Ok(()));
        }
        self.fx.calls.push(Call::SetPartition(partition));
        self.with_hooks(|h, cx| h.set_rolling_update_partition(cx, partition))
    }

    /// The version check on the unit that runs it; false when it failed (unit marked failed).
    fn upgrade_supported_check(&mut self) -> R<bool, V> {
        if self.skip_compatibility {
            return Ok(true);
        }
        let stored = self.app()?.get(DEPENDENCIES_KEY).cloned();
        let stored = match stored.as_deref() {
            None | Some("") => {
                self.fx.log(
                    LogLevel::Warning,
                    "no dependencies stored in the upgrade relation: nothing to compare the new versions with, allowing the upgrade",
                );
                return Ok(true);
            }
            Some(text) => StoredDependencies::parse(text),
        };
        for problem in &stored.problems {
            self.fx.log(
                LogLevel::Warning,
                format!("{problem}: that entry is not compared with the new versions"),
            );
        }
        for (key, _) in self.config.dependency_model.entries() {
            if stored.version_of(key).is_none() && stored.problems.is_empty() {
                self.fx.log(
                    LogLevel::Warning,
                    format!("no stored version for {key:?} (new in this charm): not compared"),
                );
            }
        }
        match self.config.dependency_model.check_upgrade_from(&stored) {
            Ok(()) => Ok(true),
            Err(e) => {
                self.error(e.0.py_log_line());
                let found = self.config.dependency_model.incompatibilities(&stored);
                let mut why = String::from("Versions incompatible:");
                if let Some((key, old, constraint)) = found.first() {
                    why.push_str(&format!(
                        " {} {} does not satisfy {}",
                        truncate(key, 24),
                        truncate(old, 16),
                        truncate(constraint, 24)
                    ));
                }
                if found.len() > 1 {
                    why.push_str(&format!(" (+{} more)", found.len() - 1));
                }
                self.set_unit_failed(None)?;
                self.set_own(FAILURE_KEY, &why)?;
                Ok(false)
            }
        }
    }

    fn on_upgrade_charm(&mut self) -> R<(), V> {
        if !self.has_relation()? {
            self.fx.deferred = true;
            return Ok(());
        }
        if !self.stack_loaded()? {
            self.error("Cluster upgrade failed, ensure pre-upgrade checks are ran first.");
            if self.runs_new_versions()? && self.is_leader()? {
                // Refreshed without the pre-check: say what to do (the reference only logs).
                let app = self.unit.app().to_owned();
                self.fx.app_status = Some(Status::Blocked(format!(
                    "Refreshed without pre-upgrade-check: run juju run {app}/leader pre-upgrade-check"
                )));
            }
            return Ok(());
        }
        match self.config.substrate {
            Substrate::Vm => {
                if self.is_leader()? {
                    if !self.upgrade_supported_check()? {
                        return Ok(());
                    }
                    // The check may have dropped the cache; the stored stack is non-empty.
                    if !self.stack_loaded()? {
                        return Ok(());
                    }
                    let top = self.stack.as_ref().and_then(|s| s.last().copied());
                    if top == Some(self.unit.number())
                        && self.own_state()?.as_deref() == Some("recovery")
                    {
                        self.set_own_state(UnitState::Ready)?;
                        return self.on_upgrade_changed();
                    }
                }
                self.status(Status::Waiting(WAITING_MESSAGE.into()));
                self.set_own_state(UnitState::Ready)?;
                if self.app_units()?.len() == 1 {
                    self.grant()?;
                } else if self.is_top_of_stack()? {
                    // Juju tells no unit of its own write, and the others may have nothing
                    // new to write (already `ready` from a round whose recovery pre-check
                    // never ran): the unit next in line looks at once, as its
                    // relation-changed would (D19).
                    self.on_upgrade_changed()?;
                }
            }
            Substrate::K8s => {
                if self.is_leader()? && !self.trusted(false)? {
                    // Retried at every dispatch until `juju trust` (update-status at least).
                    self.status(Status::Blocked(trust_message(self.unit.app())));
                    self.fx.deferred = true;
                    return Ok(());
                }
                let planned = self.view.planned_units()?;
                let highest = planned.checked_sub(1).and_then(|n| u32::try_from(n).ok());
                if highest == Some(self.unit.number()) && !self.upgrade_supported_check()? {
                    return Ok(());
                }
                self.status(Status::Maintenance("upgrading unit".into()));
                self.set_own_state(UnitState::Upgrading)?;
            }
        }
        Ok(())
    }

    /// Leader: the stack follows the relation's members. A unit that departed leaves it. On
    /// machines a unit that joined after the stack was built and got this round's
    /// upgrade-charm (`ready`) goes just above the leader (so the leader still goes last).
    /// Written back when it changes.
    ///
    /// Kubernetes keeps joiners out of the stack (a pod added before the refresh is recreated
    /// by it, highest first; one added after already runs the new charm) and moves the
    /// partition instead, while nothing has started: see [`Self::partition_follows_units`].
    fn reconcile_stack(&mut self) -> R<(), V> {
        let Some(mut stack) = self.stack.clone() else {
            return Ok(());
        };
        if stack.is_empty() {
            return Ok(());
        }
        let members = self.app_units()?;
        let member_ids: std::collections::HashSet<u32> =
            members.iter().map(UnitName::number).collect();
        let listed: std::collections::HashSet<u32> = stack.iter().copied().collect();
        let is_member = |id: &u32| member_ids.contains(id);
        let gone = stack.iter().any(|id| !is_member(id));
        let k8s = self.config.substrate == Substrate::K8s;
        let mut joiners = Vec::new();
        for unit in &members {
            if !listed.contains(&unit.number()) && *unit != *self.unit {
                let state = self.raw_state(unit)?;
                if state.as_deref() == Some(if k8s { "idle" } else { "ready" }) {
                    joiners.push(unit.number());
                }
            }
        }
        // Leadership is asked only when there is something to reconcile.
        let k8s_departure = k8s && self.departed;
        if (!gone && joiners.is_empty() && !k8s_departure) || !self.is_leader()? {
            return Ok(());
        }
        let before = stack.clone();
        stack.retain(|id| is_member(id));
        if !k8s {
            for &id in &joiners {
                let at = stack
                    .iter()
                    .position(|s| *s == self.unit.number())
                    .map_or(stack.len(), |p| p + 1);
                stack.insert(at, id);
            }
        }
        if stack != before {
            self.fx.log(
                LogLevel::Warning,
                format!(
                    "upgrade-stack {} follows the units in the relation: {}",
                    shown_stack(&before),
                    shown_stack(&stack)
                ),
            );
            self.app_set(STACK_KEY, format_stack(&stack))?;
            self.stack = Some(stack.clone());
        }
        if k8s {
            self.partition_follows_units(&members, &stack, !joiners.is_empty())?;
        }
        Ok(())
    }

    /// Kubernetes, leader, after units joined or departed. The first pod the refresh must
    /// recreate is the highest unit, and only it (the rest waits for `resume-upgrade`):
    /// - a unit departed before any remaining unit started in this round (the top of the
    ///   stack may be gone, leaving the partition above every pod): the partition goes to
    ///   the top of the stack;
    /// - a unit joined while every unit is still idle (before the refresh; the new pod runs
    ///   the old charm and has the highest ordinal): the partition goes to it, so the refresh
    ///   recreates it alone and pauses, then `resume-upgrade` goes on with the stack. (Not
    ///   during a rollback: the units are not all idle, and a pod added then already runs the
    ///   charm being rolled back to.)
    fn partition_follows_units(
        &mut self,
        members: &[UnitName],
        stack: &[u32],
        joined: bool,
    ) -> R<(), V> {
        let Some(&top) = stack.last() else {
            return Ok(());
        };
        let mut all_idle = true;
        for unit in members {
            if self.started_this_round(unit)? {
                return Ok(());
            }
            all_idle &= self.raw_state(unit)?.as_deref() == Some("idle");
        }
        let first = if joined {
            let round = self.current_round()?.unwrap_or(0).to_string();
            let resumed = self.app()?.get(RESUMED_KEY) == Some(&round);
            if !all_idle || resumed {
                return Ok(());
            }
            members.iter().map(UnitName::number).max().unwrap_or(top)
        } else {
            top
        };
        self.info(format!(
            "The units changed before the first upgrade: the rolling update starts at unit {first}"
        ));
        if let Err(e) = self.set_partition(first)? {
            self.fx.log(
                LogLevel::Error,
                format!(
                    "Cannot set rolling update partition to {first}: {e}; fix access to the Kubernetes API (juju trust), then run pre-upgrade-check on the leader again"
                ),
            );
        }
        Ok(())
    }

    /// A unit that joined while an upgrade (or rollback) is under way already runs the charm
    /// the others are being refreshed to: when it sees others moving in this round and it is
    /// idle and not in the stack, it counts itself upgraded. True when it did.
    fn joined_mid_upgrade(&mut self) -> R<bool, V> {
        if self.own_state()?.as_deref() != Some("idle") || !self.stack_loaded()? {
            return Ok(false);
        }
        let me = self.unit.number();
        if self.stack.as_ref().is_some_and(|s| s.contains(&me)) {
            return Ok(false);
        }
        let current = self.current_round()?;
        let peers = self.peers()?.to_vec();
        let mut moving = false;
        for peer in &peers {
            let bag = self.bag(peer)?;
            let in_round = match (
                current,
                bag.get(ROUND_KEY).and_then(|r| r.parse::<u64>().ok()),
            ) {
                (Some(c), Some(r)) => c == r,
                _ => true,
            };
            if in_round
                && matches!(
                    bag.get(STATE_KEY).map(String::as_str),
                    Some("ready" | "upgrading" | "completed")
                )
            {
                moving = true;
                break;
            }
        }
        if !moving {
            return Ok(false);
        }
        self.info(
            "Joined while an upgrade is under way, already on its charm: counting as upgraded",
        );
        self.status(Status::Maintenance("upgrade completed".into()));
        self.set_own_state(UnitState::Completed)?;
        Ok(true)
    }

    /// A unit refreshed before the pre-upgrade check (its upgrade-charm found no stack) that
    /// now sees one: it does what its upgrade-charm would have done. True when it did.
    ///
    /// On Kubernetes the pods were recreated one at a time by the refresh, before any stack
    /// existed; they take their turn from the top of the stack (highest ordinal first), so
    /// the highest still checks the versions first and each unit reports in order.
    fn late_upgrade_charm(&mut self) -> R<bool, V> {
        if self.own_state()?.as_deref() != Some("idle")
            || !self.stack_loaded()?
            || !self.runs_new_versions()?
        {
            return Ok(false);
        }
        if self.config.substrate == Substrate::K8s && !self.late_turn()? {
            return Ok(false);
        }
        self.fx.log(
            LogLevel::Warning,
            "The charm was refreshed before the pre-upgrade-check: joining the upgrade now",
        );
        self.on_upgrade_charm()?;
        Ok(true)
    }

    /// Is this unit the last element (the next to go) of the loaded stack?
    fn is_top_of_stack(&mut self) -> R<bool, V> {
        if !self.stack_loaded()? {
            return Ok(false);
        }
        let top = self.stack.as_ref().and_then(|s| s.last().copied());
        Ok(top == Some(self.unit.number()))
    }

    /// Kubernetes: is it this unit's turn to run its late `upgrade-charm` (top of the stack,
    /// nobody else upgrading)?
    fn late_turn(&mut self) -> R<bool, V> {
        let top = self.stack.as_ref().and_then(|s| s.last().copied());
        Ok(top == Some(self.unit.number()) && !Self::any_upgrading(&self.other_unit_states()?))
    }

    /// Without exact logs: can this `relation-changed` provably change nothing? (Then the
    /// cluster state, and with it every peer's databag, is not needed.) What the reference
    /// would still produce in that case is at most a DEBUG line, or a Waiting status the unit
    /// already shows.
    fn nothing_to_do(&mut self) -> R<bool, V> {
        if self.config.exact_logs {
            return Ok(false);
        }
        let own = self.own_state()?;
        if !self.stack_loaded()? {
            // Only a completed unit acts (it goes idle once everyone is done).
            return Ok(own.as_deref() != Some("completed"));
        }
        let top = self.stack.as_ref().and_then(|s| s.last().copied());
        if top == Some(self.unit.number()) || self.is_leader()? {
            return Ok(false); // may be granted, or may pop the stack
        }
        match own.as_deref() {
            // At most the Waiting status: nothing to do if it is already shown.
            Some("idle" | "ready") => Ok(matches!(
                self.view.current_status()?,
                Some(Status::Waiting(m)) if m.starts_with(WAITING_MESSAGE)
            )),
            _ => Ok(true),
        }
    }

    fn on_upgrade_changed(&mut self) -> R<(), V> {
        self.fx.calls.push(Call::UpgradeChanged);
        if !self.has_relation()? {
            return Ok(());
        }
        if self.late_upgrade_charm()? || self.joined_mid_upgrade()? {
            return Ok(());
        }
        if self.nothing_to_do()? {
            return Ok(());
        }
        let cs = self.cluster_state()?;
        if cs == Some(UnitState::Failed) {
            self.debug("Cluster failed to upgrade, exiting...");
            return Ok(());
        }
        if self.config.substrate == Substrate::Vm && cs == Some(UnitState::Recovery) {
            self.debug("Cluster in recovery, skip...");
            return Ok(());
        }
        if !self.stack_loaded()? {
            let own_completed = self.own_state()?.as_deref() == Some("completed");
            if own_completed && matches!(cs, Some(UnitState::Idle | UnitState::Completed)) {
                self.info("All units completed upgrade, setting idle upgrade state...");
                self.status(Status::Active(String::new()));
                self.set_own_state(UnitState::Idle)?;
                if self.is_leader()? {
                    self.debug("Persisting new dependencies to upgrade relation data...");
                    let deps = self.config.dependency_model.to_wire();
                    self.app_set(DEPENDENCIES_KEY, deps)?;
                }
                return Ok(());
            }
            if cs == Some(UnitState::Idle) {
                self.debug("upgrade-changed event handled before pre-checks, exiting...");
            } else {
                self.debug("Did not find upgrade-stack or completed cluster state, skipping...");
            }
            return Ok(());
        }

        self.reconcile_stack()?;
        self.release_when_not_pausing()?;
        let states = self.unit_states()?;
        if Self::any_upgrading(&states)
            && self.own_state_is(&[UnitState::Idle, UnitState::Ready])?
        {
            self.status(Status::Waiting(WAITING_MESSAGE.into()));
        }

        let Some(top_id) = self.stack.as_mut().and_then(Vec::pop) else {
            return Ok(());
        };
        let Some(top_unit) = self.unit_name(top_id) else {
            return Ok(());
        };
        let is_member = top_unit == *self.unit || self.peers()?.contains(&top_unit);
        if !is_member {
            self.fx.log(
                LogLevel::Warning,
                format!(
                    "{top_unit} is next in the upgrade-stack but is not in the upgrade relation: waiting for it to join (or for the stack to be rebuilt)"
                ),
            );
            return Ok(());
        }
        let top_state = self.raw_state(&top_unit)?;

        // (Leadership asked second: a unit whose top is not completed never needs it.)
        if top_state.as_deref() == Some("completed")
            && self.is_leader()?
            && !self.completed_earlier(&top_unit)?
        {
            self.debug(format!(
                "<ops.model.Unit {top_unit}> has finished upgrading, updating stack..."
            ));
            let stack = self.stack.clone().unwrap_or_default();
            self.app_set(STACK_KEY, format_stack(&stack))?;
            self.on_upgrade_changed()?;
        }

        if top_unit == *self.unit
            && matches!(top_state.as_deref(), Some("ready" | "upgrading"))
            && self.cluster_state()? == Some(UnitState::Ready)
            && !Self::any_upgrading(&self.other_unit_states()?)
        {
            if top_state.as_deref() == Some("ready")
                && self.config.substrate == Substrate::Vm
                && self.held_for_resume(top_id)?
            {
                let policy = self.pause_policy()?.as_str();
                self.info(format!(
                    "{top_unit} is next to upgrade; {PAUSE_CONFIG}={policy}: waiting for juju run {}/leader resume-upgrade",
                    self.unit.app()
                ));
                self.status(Status::Waiting(PAUSED_MESSAGE.into()));
                return Ok(());
            }
            self.debug(format!(
                "{top_unit} is next to upgrade, emitting `upgrade_granted` event and upgrading..."
            ));
            self.status(Status::Maintenance("upgrading...".into()));
            self.set_own_state(UnitState::Upgrading)?;
            self.grant()?;
        }
        Ok(())
    }

    /// Emits `upgrade_granted` and acts on the charm's outcome.
    fn grant(&mut self) -> R<(), V> {
        self.fx.calls.push(Call::UpgradeGranted);
        if self.config.substrate == Substrate::Vm {
            // The workload work that follows can take minutes: show it now, as the
            // reference's immediate status-set does (the final status comes at the end).
            self.view
                .publish_status(&Status::Maintenance("upgrading...".into()))?;
        }
        match self.with_hooks(|h, cx| h.on_upgrade_granted(cx))? {
            Err(e) => {
                self.error(e.0.py_log_line());
                self.set_unit_failed(None)
            }
            Ok(GrantOutcome::Completed) => {
                self.set_unit_completed()?;
                if self.config.substrate == Substrate::Vm && self.is_leader()? {
                    self.on_upgrade_changed()?;
                }
                Ok(())
            }
            Ok(GrantOutcome::Failed { cause }) => self.set_unit_failed(cause.as_deref()),
            Ok(GrantOutcome::InProgress) => Ok(()),
        }
    }

    /// Kubernetes, state `upgrading` (checked by [`Self::run`]): the charm finishes the pod.
    fn on_pod_upgraded(&mut self) -> R<(), V> {
        self.fx.calls.push(Call::PodUpgraded);
        match self.with_hooks(|h, cx| h.on_pod_upgraded(cx))? {
            Err(e) => {
                self.error(e.0.py_log_line());
                self.set_unit_failed(None)
            }
            Ok(GrantOutcome::Completed) => self.set_unit_completed(),
            Ok(GrantOutcome::Failed { cause }) => self.set_unit_failed(cause.as_deref()),
            Ok(GrantOutcome::InProgress) => Ok(()),
        }
    }

    fn set_unit_failed(&mut self, cause: Option<&str>) -> R<(), V> {
        if !self.has_relation()? {
            return Ok(());
        }
        if self.is_leader()? {
            self.stack = None;
        }
        self.status(Status::Blocked(cause.unwrap_or_default().to_owned()));
        self.set_own_state(UnitState::Failed)?;
        // The reason, when the caller knows it, is written after this; any other failure
        // clears a reason left from an earlier one (an empty value deletes the key).
        self.set_own(FAILURE_KEY, "")?;
        self.fx.calls.push(Call::LogRollbackInstructions);
        // The way back the leader recorded at the pre-check (the app bag is read on every
        // path that fails a unit anyway).
        self.rollback_for_hooks = self.rollback_command()?;
        self.with_hooks(|h, cx| h.log_rollback_instructions(cx))
    }

    fn set_unit_completed(&mut self) -> R<(), V> {
        if !self.has_relation()? {
            return Ok(());
        }
        if self.is_leader()? {
            self.stack = None;
        }
        self.status(Status::Maintenance("upgrade completed".into()));
        self.set_own_state(UnitState::Completed)?;
        if self.config.substrate == Substrate::K8s {
            self.debug(format!(
                "{} has completed the upgrade, emitting `upgrade_finished` event...",
                self.unit
            ));
            self.on_upgrade_finished()?;
            self.with_hooks(|h, cx| h.on_upgrade_finished(cx))?;
        }
        Ok(())
    }

    fn on_upgrade_finished(&mut self) -> R<(), V> {
        self.fx.calls.push(Call::UpgradeFinished);
        if self.config.substrate == Substrate::Vm || !self.has_relation()? {
            return Ok(());
        }
        if self.is_leader()? {
            self.on_upgrade_changed()?;
        }
        let number = self.unit.number();
        let highest = usize::try_from(number).ok() == Some(self.peers()?.len());
        let pause = match self.pause_policy()? {
            PausePolicy::First => highest,
            PausePolicy::All => highest || number != 0,
            PausePolicy::None => false,
        };
        if pause {
            self.info(format!(
                "{} unit upgraded. Evaluate and run `resume-upgrade` action to continue upgrade",
                self.unit
            ));
            return Ok(());
        }
        if number == 0 {
            self.info(format!("{} unit upgraded. Upgrade is complete", self.unit));
            return Ok(());
        }
        let next = number - 1;
        self.debug(format!("Set rolling update partition to unit {next}"));
        if let Err(e) = self.set_partition(next)? {
            self.error("Cannot set rolling update partition");
            self.fx.log(
                LogLevel::Warning,
                format!("the partition could not be set: {e}"),
            );
            // The reference also calls log_rollback_instructions a second time here; once
            // is enough (set_unit_failed already does).
            self.set_unit_failed(None)?;
        }
        Ok(())
    }
}

/// Checks a charm-built stack: every unit of the application exactly once.
fn validate_stack(stack: &[u32], units: &[UnitName]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for id in stack {
        if !seen.insert(*id) {
            return Err(format!("unit {id} appears more than once"));
        }
        if !units.iter().any(|u| u.number() == *id) {
            return Err(format!("unit {id} is not a unit of the application"));
        }
    }
    let missing: Vec<String> = units
        .iter()
        .filter(|u| !seen.contains(&u.number()))
        .map(|u| u.number().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!("it leaves out unit(s) {}", missing.join(", ")));
    }
    Ok(())
}

/// A stack as a log line shows it: exactly as stored (`[0, 1, 2]`, the reference's bytes)
/// unless it is absurdly long, then cut (a log line never carries a peer's megabyte).
fn shown_stack(stack: &[u32]) -> String {
    truncate(&format_stack(stack), 200)
}

/// A status of `head` then `next` (the step the operator takes, never cut), within
/// [`MAX_STATUS`]: `head` is cut if needed; when `next` alone leaves no room for 24
/// characters of `head`, `fallback` (a shorter next step) is used instead.
fn with_next_step(head: &str, next: &str, fallback: &str) -> String {
    let room = MAX_STATUS.saturating_sub(next.chars().count());
    if room >= 24 {
        format!("{}{next}", truncate_to(head, room))
    } else {
        let room = MAX_STATUS.saturating_sub(fallback.chars().count());
        format!("{}{fallback}", truncate_to(head, room))
    }
}

/// `head` then `extra` if the whole fits in [`MAX_STATUS`], else `head` alone.
fn append_if_fits(head: &str, extra: &str) -> String {
    if head.chars().count() + extra.chars().count() <= MAX_STATUS {
        format!("{head}{extra}")
    } else {
        head.to_owned()
    }
}

/// `s` within `max` characters, the cut marked with `...` (for statuses Juju shows).
fn truncate_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        truncate(s, max.saturating_sub(3))
    }
}
