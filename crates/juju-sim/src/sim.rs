//! The simulated model: units with their own charm directory, workload directory, event
//! queue and databag; a peer relation; leadership; the scheduler; commits with Juju's
//! semantics; `relation-changed` fan-out; faults; invariants checked after every hook.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use juju_hooks::{ActionEvent, Event, RelationEvent, RelationEventKind, RelationId, UnitName};
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use crate::wire::{ActionContext, Bag, Entry, ToolContext};

/// The application's name in the simulated model.
pub const APP: &str = "upgrade-reference";
/// The peer relation.
pub const RELATION: &str = "upgrade:1";

/// Where a unit's workload keeps its files (the charm contract, point 5).
pub use upgrade_coordinator::component::WORKLOAD_DIR_VAR;

/// Machines or Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Substrate {
    /// Machines.
    Vm,
    /// Kubernetes.
    K8s,
}

/// How the next unit to run a hook is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Uniformly among the units with pending events, from a seeded generator.
    Random,
    /// The oldest pending event first.
    Fifo,
    /// These unit numbers in turn (a unit with nothing pending is skipped), then FIFO.
    Script(Vec<u32>),
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The unit's workload fails to install the new version.
    FailUpgrade(u32),
    /// The unit's workload is stopped before `pre-upgrade-check`.
    UnhealthyAtPreCheck(u32),
    /// The first call of `tool` the unit makes once the faults are armed (just before the
    /// refresh) fails, in whichever hook or action makes it; Juju retries that hook.
    ToolFailsOnce {
        /// Unit number.
        unit: u32,
        /// Tool name.
        tool: String,
    },
    /// The unit's dispatch is killed (SIGKILL) as it makes its `after`-th hook-tool call:
    /// with `hook`, in its `hook`-th dispatch (hooks and actions, counted from 1) since the
    /// scenario's first `pre-upgrade-check` ([`Sim::start_counting`]); without, in the first
    /// dispatch that makes that many calls once the faults are armed (just before the
    /// refresh). A hook is retried by Juju; an action is not.
    KillMidHook {
        /// Unit number.
        unit: u32,
        /// The call at which the dispatch dies (1 = the first call).
        after: usize,
        /// Which dispatch since arming (`None`: the first that makes `after` calls).
        hook: Option<usize>,
    },
    /// The refresh goes to a revision whose workload cannot be upgraded to.
    IncompatibleRefresh,
    /// The operator refreshes without running `pre-upgrade-check` first.
    NoPreCheck,
    /// `juju add-unit` at this point.
    AddUnit(Phase),
    /// `juju remove-unit` of this unit at this point.
    RemoveUnit(u32, Phase),
    /// The application was deployed without `juju trust`: the API server refuses to let
    /// the charm patch its StatefulSet (and says so to an access review) until
    /// [`Sim::trust`].
    Untrusted,
}

/// When a scaling fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// After the pre-upgrade check, before the refresh.
    AfterPreCheck,
    /// After this many hooks of the rolling upgrade.
    MidUpgrade(usize),
    /// After this many hooks of the rollback's refresh.
    MidRollback(usize),
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::AfterPreCheck => write!(f, "after-pre-check"),
            Phase::MidUpgrade(k) => write!(f, "mid-upgrade:{k}"),
            Phase::MidRollback(k) => write!(f, "mid-rollback:{k}"),
        }
    }
}

impl Phase {
    fn parse(parts: &[&str]) -> Result<Phase> {
        let hooks = |k: &str, what: &str| {
            k.parse::<usize>()
                .with_context(|| format!("{what}:HOOKS needs a number of hooks, not {k:?}"))
        };
        match parts {
            ["after-pre-check"] => Ok(Phase::AfterPreCheck),
            ["mid-upgrade", k] => Ok(Phase::MidUpgrade(hooks(k, "mid-upgrade")?)),
            ["mid-rollback", k] => Ok(Phase::MidRollback(hooks(k, "mid-rollback")?)),
            other => bail!(
                "unknown phase {:?}: after-pre-check, mid-upgrade:HOOKS or mid-rollback:HOOKS",
                other.join(":")
            ),
        }
    }
}

/// The `--fault` syntax: what [`Fault`]'s `FromStr` reads and `Display` writes.
pub const FAULT_SYNTAX: &str = "fail-upgrade:UNIT, unhealthy:UNIT, tool-fails-once:UNIT:TOOL, kill-mid-hook:UNIT:CALL[:DISPATCH], incompatible, no-pre-check, untrusted, add-unit:PHASE, remove-unit:UNIT:PHASE (PHASE: after-pre-check, mid-upgrade:HOOKS, mid-rollback:HOOKS)";

impl std::str::FromStr for Fault {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Fault> {
        let parts: Vec<&str> = s.split(':').collect();
        let number = |i: usize, what: &str| -> Result<usize> {
            let text = parts
                .get(i)
                .with_context(|| format!("{s:?}: missing {what}"))?;
            text.parse()
                .with_context(|| format!("{s:?}: {what} must be a number, not {text:?}"))
        };
        let unit = |i: usize| -> Result<u32> {
            u32::try_from(number(i, "unit number")?).context("unit number too large")
        };
        let fault = match parts[0] {
            "fail-upgrade" => Fault::FailUpgrade(unit(1)?),
            "unhealthy" => Fault::UnhealthyAtPreCheck(unit(1)?),
            "tool-fails-once" => Fault::ToolFailsOnce {
                unit: unit(1)?,
                tool: parts
                    .get(2)
                    .filter(|t| !t.is_empty())
                    .with_context(|| format!("{s:?}: missing tool name"))?
                    .to_string(),
            },
            "kill-mid-hook" => {
                let after = number(2, "call number")?;
                if after == 0 {
                    bail!("{s:?}: calls are counted from 1");
                }
                let hook = match parts.get(3) {
                    None => None,
                    Some(_) => match number(3, "dispatch number")? {
                        0 => bail!("{s:?}: dispatches are counted from 1"),
                        h => Some(h),
                    },
                };
                Fault::KillMidHook {
                    unit: unit(1)?,
                    after,
                    hook,
                }
            }
            "incompatible" => Fault::IncompatibleRefresh,
            "no-pre-check" => Fault::NoPreCheck,
            "untrusted" => Fault::Untrusted,
            "add-unit" => Fault::AddUnit(Phase::parse(&parts[1..])?),
            "remove-unit" => Fault::RemoveUnit(unit(1)?, Phase::parse(&parts[2..])?),
            other => bail!("unknown fault {other:?}: one of {FAULT_SYNTAX}"),
        };
        let arity = match &fault {
            Fault::IncompatibleRefresh | Fault::NoPreCheck | Fault::Untrusted => 1,
            Fault::FailUpgrade(_) | Fault::UnhealthyAtPreCheck(_) => 2,
            Fault::ToolFailsOnce { .. } => 3,
            Fault::KillMidHook { hook, .. } => 3 + usize::from(hook.is_some()),
            Fault::AddUnit(_) | Fault::RemoveUnit(..) => parts.len(),
        };
        if parts.len() != arity {
            bail!("{s:?}: unexpected {:?}", parts[arity..].join(":"));
        }
        Ok(fault)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::FailUpgrade(u) => write!(f, "fail-upgrade:{u}"),
            Fault::UnhealthyAtPreCheck(u) => write!(f, "unhealthy:{u}"),
            Fault::ToolFailsOnce { unit, tool } => write!(f, "tool-fails-once:{unit}:{tool}"),
            Fault::KillMidHook { unit, after, hook } => {
                write!(f, "kill-mid-hook:{unit}:{after}")?;
                match hook {
                    Some(h) => write!(f, ":{h}"),
                    None => Ok(()),
                }
            }
            Fault::IncompatibleRefresh => write!(f, "incompatible"),
            Fault::NoPreCheck => write!(f, "no-pre-check"),
            Fault::Untrusted => write!(f, "untrusted"),
            Fault::AddUnit(p) => write!(f, "add-unit:{p}"),
            Fault::RemoveUnit(u, p) => write!(f, "remove-unit:{u}:{p}"),
        }
    }
}

/// One charm revision: its number and its `versions.json`.
#[derive(Debug, Clone)]
pub struct Revision {
    /// Revision number (written to `.juju-charm`).
    pub number: u32,
    /// The workload version it ships.
    pub workload: String,
    /// `versions.json`.
    pub versions: String,
}

impl Revision {
    /// A revision shipping `workload`, upgradable from versions matching `supported`.
    pub fn new(number: u32, workload: &str, supported: &str) -> Revision {
        let versions = format!(
            r#"{{"workload": {{"dependencies": {{}}, "name": "upgrade-reference-workload", "upgrade_supported": "{supported}", "version": "{workload}"}}, "charm": {{"dependencies": {{}}, "name": "upgrade-reference", "upgrade_supported": ">=1", "version": "{number}"}}}}"#
        );
        Revision {
            number,
            workload: workload.to_owned(),
            versions,
        }
    }

    /// A revision with the versions file `versions`, whose `workload` entry names the
    /// workload version a unit runs on it (the simulator's contract with a charm).
    pub fn from_versions(number: u32, versions: &str) -> Result<Revision> {
        let model = upgrade_coordinator::DependencyModel::from_json(versions)
            .map_err(|e| anyhow::anyhow!("not a valid versions file: {e}"))?;
        let workload = model
            .get("workload")
            .map(|d| d.version.clone())
            .ok_or_else(|| anyhow::anyhow!("no \"workload\" entry: the simulator checks each unit's workload against it (see juju-sim's charm contract)"))?;
        Ok(Revision {
            number,
            workload,
            versions: versions.to_owned(),
        })
    }

    /// The `dependencies` value the coordinator stores for this revision.
    pub fn wire(&self) -> String {
        upgrade_coordinator::DependencyModel::from_json(&self.versions)
            .map(|m| m.to_wire())
            .unwrap_or_default()
    }
}

/// The revisions a scenario deploys and refreshes to.
#[derive(Debug, Clone)]
pub struct Revisions {
    /// Deployed (revision 1).
    pub old: Revision,
    /// Refreshed to (revision 2).
    pub new: Revision,
    /// One the deployed revision cannot be upgraded to (revision 3).
    pub incompatible: Revision,
}

impl Default for Revisions {
    /// The simulator's own: workload 1.0.0, 1.1.0, and 3.0.0 (which needs 2.x first).
    fn default() -> Self {
        Revisions {
            old: crate::scenario::old_revision(),
            new: crate::scenario::new_revision(),
            incompatible: crate::scenario::incompatible_revision(),
        }
    }
}

/// The charm's files beyond `dispatch` (`juju-sim --charm`): each unit's charm directory
/// gets a copy of them, with the revision's `versions.json` and `.juju-charm` written over.
#[derive(Debug, Clone, Default)]
pub struct CharmFiles {
    /// The deployed charm's directory (a packed `.charm` is unpacked first).
    pub deployed: Option<PathBuf>,
    /// The charm a refresh installs (default: the deployed one's).
    pub target: Option<PathBuf>,
    /// The application's name (`juju deploy` names it after the charm: its metadata.yaml
    /// `name`); default [`APP`].
    pub app: Option<String>,
}

impl CharmFiles {
    /// The application's name.
    pub fn app_name(&self) -> String {
        self.app.clone().unwrap_or_else(|| APP.to_owned())
    }
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of units.
    pub units: usize,
    /// Substrate.
    pub substrate: Substrate,
    /// Seed of the random scheduler.
    pub seed: u64,
    /// Scheduling policy.
    pub schedule: Schedule,
    /// The charm's `dispatch` binary.
    pub dispatch: PathBuf,
    /// The fake hook tool (this program).
    pub tool: PathBuf,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// Print a line per hook.
    pub verbose: bool,
    /// Redraw a live per-unit table on the terminal (stderr) as hooks run.
    pub live: bool,
    /// The operator model (`scenario::Operator`): the most times the simulated operator
    /// takes each step a status names or retries a failed action. `None`: the operator only
    /// runs the scenario's script.
    pub operator: Option<usize>,
    /// With the operator model: an action whose dispatch died is run again (the operator
    /// saw `juju run` fail). Off: the operator goes on with the scenario and then follows
    /// the statuses only, which the charm must make name the way on.
    pub retry_actions: bool,
    /// The application's config (`juju deploy --config k=v`), e.g.
    /// `pause-after-unit-refresh=all`; [`Sim::set_config`] changes it later.
    pub charm_config: BTreeMap<String, String>,
    /// The charm deployed before any refresh, if not `dispatch` (e.g. the Python
    /// reference's, for a fleet refreshed from the Python charm to ours mid-flight).
    pub deploy_dispatch: Option<PathBuf>,
    /// The charm's other files (none: the charm is its `dispatch` alone).
    pub charm_files: CharmFiles,
    /// The revisions (their versions files).
    pub revisions: Revisions,
}

/// An event waiting on a unit.
#[derive(Debug, Clone)]
struct Pending {
    event: Event,
    seq: u64,
}

/// Where a unit's next hook comes from (how to consume it once it succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Lifecycle,
    AfterJoin,
    Join,
    Changed(String),
}

/// One unit.
#[derive(Debug)]
struct UnitSim {
    name: UnitName,
    charm_dir: PathBuf,
    workload_dir: PathBuf,
    revision: u32,
    /// Non-relation hooks (and relation-created), in order: Juju runs these first.
    queue: VecDeque<Pending>,
    /// Units whose relation-joined is pending, in order.
    joins: VecDeque<(String, u64)>,
    /// The relation-changed owed right after a relation-joined.
    after_join: Option<(String, u64)>,
    /// relation-changed owed per remote unit ("" = the application bag), with the time the
    /// first unseen change happened: Juju's resolver compares versions, so several changes
    /// make one hook, which always shows the latest data.
    owed: std::collections::BTreeMap<String, u64>,
    joined: BTreeSet<String>,
    in_relation: bool,
    bag: Bag,
    charm_state: Option<Bag>,
    status: (String, String),
    hooks_run: usize,
    tool_calls: usize,
    errors: usize,
    failing: Option<(String, usize)>,
    workload_upgrades: usize,
    pod_gen: u32,
    /// Being removed (`goal-state` says dying), and removed (runs nothing any more).
    dying: bool,
    gone: bool,
    /// Added after the refresh: installed the new revision fresh, not upgraded in place.
    fresh: bool,
    fail_tool_once: Option<String>,
    kill_after: Option<usize>,
    /// `KillMidHook`'s dispatch index, if it names one.
    kill_in_dispatch: Option<usize>,
    /// Dispatches run since the faults were armed (`None`: not armed).
    armed_dispatches: Option<usize>,
    /// The version the unit last gave `application-version-set` (what `juju status` shows).
    reported_version: Option<String>,
    /// Every unit status it showed, in order (`status-set` is immediate: a killed or failed
    /// dispatch's statuses were shown too).
    statuses_shown: Vec<(String, String)>,
    /// The hook that kept failing, if one did: Juju shows the unit in error on it and runs
    /// nothing more on it.
    error_hook: Option<String>,
    /// When its workload status last changed.
    status_since: std::time::SystemTime,
    /// When (the model's step) it last set its workload version.
    version_step: usize,
}

/// What an action returned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActionOutcome {
    /// `action-set` results.
    pub results: Bag,
    /// `action-fail` message.
    pub failure: Option<String>,
    /// The dispatch's exit code.
    pub exit: Option<i32>,
    /// `action-log` lines.
    pub log: Vec<String>,
}

impl ActionOutcome {
    /// Why the action failed as the operator sees it (`juju run` exits non-zero), if it did:
    /// its `action-fail` message, or the dispatch's death or exit code.
    pub fn failed(&self) -> Option<String> {
        match (&self.failure, self.exit) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(0)) => None,
            (None, Some(c)) => Some(format!("the action's dispatch exited {c}")),
            (None, None) => Some("the action's dispatch was killed".into()),
        }
    }
}

/// A status as the report shows it: `name message`.
fn status_text((name, message): &(String, String)) -> String {
    format!("{name} {message}").trim().to_owned()
}

/// A step of the trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceLine {
    /// Step number.
    pub step: usize,
    /// Unit.
    pub unit: String,
    /// Hook or action.
    pub event: String,
    /// Exit code (`None`: killed).
    pub exit: Option<i32>,
    /// State after the hook.
    pub state: String,
    /// Status after the hook.
    pub status: String,
}

impl std::fmt::Display for TraceLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exit = self
            .exit
            .map_or_else(|| "kill".to_owned(), |c| c.to_string());
        write!(
            f,
            "{:>5} {:<22} {:<34} exit {:<4} state={:<10} {}",
            self.step, self.unit, self.event, exit, self.state, self.status
        )
    }
}

/// Per-unit figures for the report.
#[derive(Debug, Clone, Serialize)]
pub struct UnitReport {
    /// Unit.
    pub unit: String,
    /// Leader?
    pub leader: bool,
    /// Position in the upgrade order (1 = first), if it upgraded.
    pub upgraded: Option<usize>,
    /// Hooks and actions run.
    pub hooks: usize,
    /// Hook-tool calls made.
    pub tool_calls: usize,
    /// Failed dispatches.
    pub errors: usize,
    /// Final state.
    pub state: String,
    /// Final status name (`active`, `blocked`, ...).
    pub status: String,
    /// Final status message.
    pub message: String,
    /// The version `juju status` shows for the unit (its last `application-version-set`).
    pub version: String,
    /// Final workload version (the workload's own file).
    pub workload: String,
}

/// The version of the `--json` report's shape (bumped when a field changes meaning or goes).
pub const REPORT_SCHEMA: u32 = 1;

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// Scenario.
    pub scenario: String,
    /// Substrate.
    pub substrate: Substrate,
    /// Seed.
    pub seed: u64,
    /// Units.
    pub units: Vec<UnitReport>,
    /// Unit names in upgrade order.
    pub order: Vec<String>,
    /// Hooks run in total.
    pub hooks: usize,
    /// Hook-tool calls in total.
    pub tool_calls: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Invariant violations (empty on success).
    pub violations: Vec<String>,
    /// The application status at the end, as `juju status` shows it: its name.
    pub app_status: String,
    /// Its message.
    pub app_message: String,
    /// When an invariant broke: the hooks up to the first violation (the last 30).
    pub trace: Vec<TraceLine>,
    /// Notes from the scenario (outcomes of operator steps).
    pub notes: Vec<String>,
    /// The injected faults that fired, in words.
    pub faults_fired: Vec<String>,
    /// With the operator model on: converged, guided or stuck.
    pub outcome: Option<crate::scenario::Outcome>,
}

/// The simulated model.
pub struct Sim {
    cfg: SimConfig,
    /// The application status the leader set.
    pub app_status: (String, String),
    dir: tempfile::TempDir,
    tools: PathBuf,
    units: Vec<UnitSim>,
    leader: usize,
    app_bag: Bag,
    rng: rand_chacha::ChaCha8Rng,
    seq: u64,
    step: usize,
    started: Instant,
    script_pos: usize,
    /// The revision being upgraded to (for the invariants).
    target: Option<Revision>,
    upgrade_order: Vec<String>,
    /// Trace of every hook (for violation reports).
    pub trace: Vec<TraceLine>,
    /// Invariant violations so far.
    pub violations: Vec<String>,
    injected: bool,
    /// Kubernetes: the API server serving the StatefulSet.
    api: Option<crate::k8s::ApiServer>,
    account_dir: PathBuf,
    /// Kubernetes: the revision the StatefulSet's template runs, and the pod being recreated.
    k8s_target: Option<Revision>,
    /// The pod template's generation: every refresh changes the template (even back to an
    /// earlier revision), so every pod at or above the partition is recreated.
    template_gen: u32,
    rolling: Option<usize>,
    /// Live display: lines drawn last time, when.
    drawn: usize,
    /// What the scenario is doing now (the live table's first line).
    phase: String,
    last_draw: Option<Instant>,
    last_hook: BTreeMap<usize, String>,
    first_violation_step: Option<usize>,
    /// The injected faults that fired, in words.
    fired: Vec<String>,
    /// Every dispatch since the faults were armed: what a crash-point sweep enumerates.
    armed_log: Vec<ArmedDispatch>,
    /// Every `juju-log` line the units sent, in order (`juju debug-log`).
    logs: Vec<LogLine>,
    /// Charms deployed from a file: `.juju-charm` is `local:<base>/<app>-<revision>`.
    local_charms: bool,
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The unit that sent it.
    pub unit: String,
    /// Its level (`DEBUG` ... `ERROR`).
    pub level: String,
    /// Its text.
    pub message: String,
    /// When (UTC, `HH:MM:SS`).
    pub time: String,
}

/// The time of day, UTC, `HH:MM:SS`.
fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// What `juju status` and `juju show-unit` read of a unit ([`Sim::view`]).
#[derive(Debug, Clone, Serialize)]
pub struct UnitView {
    /// `app/N`.
    pub name: String,
    /// The leader?
    pub leader: bool,
    /// Workload status (name, message) as the unit last set it.
    pub status: (String, String),
    /// Its number.
    pub number: u32,
    /// What its agent is doing.
    pub agent: Agent,
    /// When its workload status last changed.
    pub status_since: std::time::SystemTime,
    /// The workload version it last set (`application-version-set`), and when (the step).
    pub version: Option<(String, usize)>,
    /// The charm revision it runs.
    pub revision: u32,
    /// Its workload's directory (the machine, or the pod's volume).
    pub workload_dir: PathBuf,
    /// Its peer-relation databag.
    pub bag: Bag,
    /// In the peer relation?
    pub in_relation: bool,
    /// Being removed.
    pub dying: bool,
}

/// A unit agent's state, as `juju status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// Nothing due.
    Idle,
    /// A hook is due: this one.
    Executing(String),
    /// This hook kept failing: the unit is in error.
    Error(String),
}

/// One dispatch run after the faults were armed (see [`Sim::armed_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedDispatch {
    /// Unit number.
    pub unit: u32,
    /// Its index among that unit's dispatches since arming (1 = the first).
    pub index: usize,
    /// Hook or action name.
    pub event: String,
    /// Hook-tool calls it made.
    pub calls: usize,
    /// The tools it called, in order.
    pub tools: Vec<String>,
}

const MAX_RETRIES: usize = 6;

impl Sim {
    /// A model of `cfg.units` units, not deployed yet.
    pub fn new(cfg: SimConfig) -> Result<Sim> {
        let dir = tempfile::Builder::new().prefix("juju-sim-").tempdir()?;
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools)?;
        for t in crate::tool::TOOLS {
            std::os::unix::fs::symlink(&cfg.tool, tools.join(t))?;
        }
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        let injected = !cfg.faults.is_empty();
        let account_dir = dir.path().join("serviceaccount");
        let api = match cfg.substrate {
            Substrate::K8s => {
                let api = crate::k8s::ApiServer::start("sim", &cfg.charm_files.app_name())?;
                if cfg.faults.contains(&Fault::Untrusted) {
                    api.sts.lock().unwrap_or_else(|e| e.into_inner()).forbid = true;
                }
                std::fs::create_dir_all(&account_dir)?;
                std::fs::write(account_dir.join("token"), &api.token)?;
                Some(api)
            }
            Substrate::Vm => None,
        };
        Ok(Sim {
            app_status: ("unknown".into(), String::new()),
            dir,
            tools,
            units: Vec::new(),
            leader: 0,
            app_bag: Bag::new(),
            rng,
            seq: 0,
            step: 0,
            started: Instant::now(),
            script_pos: 0,
            target: None,
            upgrade_order: Vec::new(),
            trace: Vec::new(),
            violations: Vec::new(),
            injected,
            api,
            account_dir,
            k8s_target: None,
            template_gen: 0,
            rolling: None,
            drawn: 0,
            phase: "deploying".into(),
            last_draw: None,
            last_hook: BTreeMap::new(),
            first_violation_step: None,
            fired: Vec::new(),
            armed_log: Vec::new(),
            logs: Vec::new(),
            local_charms: false,
            cfg,
        })
    }

    fn relation_id() -> RelationId {
        RELATION.parse().expect("a valid relation id")
    }

    fn install_charm(&self, charm_dir: &Path, rev: &Revision) -> Result<()> {
        std::fs::create_dir_all(charm_dir)?;
        let dispatch = charm_dir.join("dispatch");
        // The deployed charm may be another one (`deploy_dispatch`, e.g. the Python
        // reference); every charm a refresh installs is `dispatch`.
        let program = match (&self.cfg.deploy_dispatch, &self.target) {
            (Some(d), None) => d,
            _ => &self.cfg.dispatch,
        };
        let files = match (&self.cfg.charm_files, &self.target) {
            (CharmFiles { deployed, .. }, None) => deployed.as_ref(),
            (
                CharmFiles {
                    deployed, target, ..
                },
                Some(_),
            ) => target.as_ref().or(deployed.as_ref()),
        };
        if let Some(source) = files {
            copy_charm_files(source, charm_dir)
                .with_context(|| format!("installing the charm {}", source.display()))?;
        }
        let _ = std::fs::remove_file(&dispatch);
        std::os::unix::fs::symlink(program, &dispatch)?;
        std::fs::write(charm_dir.join("versions.json"), &rev.versions)?;
        let url = if self.local_charms {
            format!("local:noble/{}-{}\n", self.app(), rev.number)
        } else {
            format!("ch:amd64/noble/{}-{}\n", self.app(), rev.number)
        };
        std::fs::write(charm_dir.join(".juju-charm"), url)?;
        Ok(())
    }

    fn push(&mut self, unit: usize, event: Event) {
        self.seq += 1;
        let seq = self.seq;
        self.units[unit].queue.push_back(Pending { event, seq });
    }

    fn relation_event(&self, kind: RelationEventKind, remote: Option<&str>) -> Event {
        Event::Relation(RelationEvent {
            kind,
            relation: Self::relation_id(),
            remote_app: self.app().into(),
            remote_unit: remote.and_then(|r| r.parse().ok()),
            departing_unit: None,
        })
    }

    /// A new unit `n` running `rev` (nothing queued yet); returns its index.
    fn make_unit(&mut self, n: u32, rev: &Revision, fresh: bool) -> Result<usize> {
        let name = UnitName::new(self.app(), n)?;
        let base = self.dir.path().join(format!("unit-{}-{n}", self.app()));
        let charm_dir = base.join("charm");
        self.install_charm(&charm_dir, rev)?;
        self.units.push(UnitSim {
            name,
            charm_dir,
            workload_dir: base.join("workload"),
            revision: rev.number,
            queue: VecDeque::new(),
            joins: VecDeque::new(),
            after_join: None,
            owed: BTreeMap::new(),
            joined: BTreeSet::new(),
            in_relation: false,
            bag: Bag::new(),
            charm_state: None,
            status: ("waiting".into(), "agent initialising".into()),
            hooks_run: 0,
            tool_calls: 0,
            errors: 0,
            failing: None,
            workload_upgrades: 0,
            pod_gen: self.template_gen,
            dying: false,
            gone: false,
            fresh,
            fail_tool_once: None,
            kill_after: None,
            kill_in_dispatch: None,
            armed_dispatches: None,
            reported_version: None,
            statuses_shown: Vec::new(),
            error_hook: None,
            status_since: std::time::SystemTime::now(),
            version_step: 0,
        });
        Ok(self.units.len() - 1)
    }

    /// Queues a new unit's setup hooks: install, relation-created, leadership,
    /// config-changed, start.
    fn queue_setup(&mut self, i: usize) {
        let leadership = if i == self.leader {
            Event::LeaderElected
        } else {
            Event::LeaderSettingsChanged
        };
        for e in [
            Event::Install,
            self.relation_event(RelationEventKind::Created, None),
            leadership,
            Event::ConfigChanged,
            Event::Start,
        ] {
            self.push(i, e);
        }
    }

    /// Deploys `cfg.units` units of `rev`, unit 0 leading, and queues their setup hooks.
    pub fn deploy(&mut self, rev: &Revision) -> Result<()> {
        for n in 0..self.cfg.units as u32 {
            self.make_unit(n, rev, false)?;
        }
        let names: Vec<String> = self.units.iter().map(|u| u.name.to_string()).collect();
        for i in 0..self.units.len() {
            self.queue_setup(i);
            for other in &names {
                if *other != names[i] {
                    self.seq += 1;
                    let seq = self.seq;
                    self.units[i].joins.push_back((other.clone(), seq));
                }
            }
        }
        Ok(())
    }

    /// The hook unit `i` runs next, in the uniter's order: lifecycle hooks (install, upgrade-
    /// charm, config-changed, ...) before relation hooks; among these, the changed owed after
    /// a join, then joins, then the application bag's change, then units' changes.
    fn next_item(&self, i: usize) -> Option<(Event, u64, Source)> {
        let u = &self.units[i];
        if u.gone || u.error_hook.is_some() {
            return None;
        }
        if let Some(p) = u.queue.front() {
            return Some((p.event.clone(), p.seq, Source::Lifecycle));
        }
        if let Some((remote, seq)) = &u.after_join {
            let e = self.relation_event(RelationEventKind::Changed, Some(remote));
            return Some((e, *seq, Source::AfterJoin));
        }
        if let Some((remote, seq)) = u.joins.front() {
            let e = self.relation_event(RelationEventKind::Joined, Some(remote));
            return Some((e, *seq, Source::Join));
        }
        if !u.in_relation {
            return None;
        }
        if let Some(seq) = u.owed.get("") {
            let e = self.relation_event(RelationEventKind::Changed, None);
            return Some((e, *seq, Source::Changed(String::new())));
        }
        let (remote, seq) = u.owed.iter().min_by_key(|(_, s)| **s)?;
        let e = self.relation_event(RelationEventKind::Changed, Some(remote));
        Some((e, *seq, Source::Changed(remote.clone())))
    }

    fn pick(&mut self) -> Option<usize> {
        let ready: Vec<usize> = (0..self.units.len())
            .filter(|&i| self.next_item(i).is_some())
            .collect();
        if ready.is_empty() {
            return None;
        }
        let fifo = |s: &Sim| {
            ready
                .iter()
                .copied()
                .min_by_key(|&i| s.next_item(i).map(|(_, seq, _)| seq).unwrap_or(u64::MAX))
        };
        match &self.cfg.schedule {
            Schedule::Random => {
                let k = (self.rng.next_u64() % ready.len() as u64) as usize;
                Some(ready[k])
            }
            Schedule::Fifo => fifo(self),
            Schedule::Script(order) => {
                while self.script_pos < order.len() {
                    let n = order[self.script_pos] as usize;
                    self.script_pos += 1;
                    if ready.contains(&n) {
                        return Some(n);
                    }
                }
                fifo(self)
            }
        }
    }

    fn context(&self, i: usize, journal: &Path, action: Option<ActionContext>) -> ToolContext {
        let u = &self.units[i];
        let in_rel: Vec<&UnitSim> = self.units.iter().filter(|v| v.in_relation).collect();
        ToolContext {
            unit: u.name.to_string(),
            app: self.app().into(),
            leader: i == self.leader,
            relation: u.in_relation.then(|| RELATION.to_owned()),
            members: u.joined.iter().cloned().collect(),
            departed: self
                .units
                .iter()
                .filter(|v| v.dying || v.gone)
                .map(|v| v.name.to_string())
                .collect(),
            bags: in_rel
                .iter()
                .map(|v| (v.name.to_string(), v.bag.clone()))
                .collect(),
            app_bag: self.app_bag.clone(),
            charm_state: u.charm_state.clone(),
            goal_units: self
                .units
                .iter()
                .filter(|v| !v.gone)
                .map(|v| {
                    (
                        v.name.to_string(),
                        if v.dying { "dying" } else { "active" }.to_owned(),
                    )
                })
                .collect(),
            config: self
                .cfg
                .charm_config
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
            action,
            unit_status: u.status.clone(),
            fail_tool_once: u.fail_tool_once.clone(),
            kill_after_calls: match u.kill_in_dispatch {
                Some(h) if u.armed_dispatches != Some(h) => None,
                _ => u.kill_after,
            },
            journal: journal.to_path_buf(),
        }
    }

    /// Runs `event` on unit `i`: returns (exit code, journal).
    fn dispatch(
        &mut self,
        i: usize,
        event: &Event,
        action: Option<ActionContext>,
    ) -> Result<(Option<i32>, Vec<Entry>)> {
        if let Some(n) = self.units[i].armed_dispatches.as_mut() {
            *n += 1;
        }
        let work = self.dir.path().join("run");
        std::fs::create_dir_all(&work)?;
        let journal = work.join("journal.jsonl");
        let _ = std::fs::remove_file(&journal);
        let ctx_file = work.join("context.json");
        std::fs::write(
            &ctx_file,
            serde_json::to_string(&self.context(i, &journal, action))?,
        )?;
        let u = &self.units[i];
        let mut cmd = Command::new(u.charm_dir.join("dispatch"));
        cmd.env_clear()
            .current_dir(&u.charm_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("PATH", format!("{}:/usr/bin:/bin", self.tools.display()))
            .env("JUJU_UNIT_NAME", u.name.to_string())
            .env("JUJU_MODEL_NAME", "sim")
            .env("JUJU_MODEL_UUID", "00000000-0000-4000-8000-000000000000")
            .env("JUJU_CHARM_DIR", &u.charm_dir)
            .env("CHARM_DIR", &u.charm_dir)
            .env("JUJU_VERSION", "3.6.7")
            .env(
                "JUJU_CONTEXT_ID",
                format!("{}-{}-{}", u.name, event.name(), self.step),
            )
            .env("JUJU_DISPATCH_PATH", event.dispatch_path())
            .env("JUJU_SIM_CONTEXT", &ctx_file)
            .env(WORKLOAD_DIR_VAR, &u.workload_dir)
            .env(
                "UPGRADE_COORDINATOR_SUBSTRATE",
                match self.cfg.substrate {
                    Substrate::Vm => "vm",
                    Substrate::K8s => "k8s",
                },
            );
        if let Some(api) = &self.api {
            cmd.env("UPGRADE_COORDINATOR_K8S_API", &api.url)
                .env("UPGRADE_COORDINATOR_K8S_ACCOUNT_DIR", &self.account_dir);
        }
        match event {
            Event::Relation(r) => {
                cmd.env("JUJU_HOOK_NAME", event.name())
                    .env("JUJU_RELATION", r.relation.endpoint())
                    .env("JUJU_RELATION_ID", r.relation.to_string())
                    .env("JUJU_REMOTE_APP", &r.remote_app)
                    .env(
                        "JUJU_REMOTE_UNIT",
                        r.remote_unit
                            .as_ref()
                            .map(|u| u.to_string())
                            .unwrap_or_default(),
                    );
            }
            Event::Action(a) => {
                cmd.env("JUJU_HOOK_NAME", "")
                    .env("JUJU_ACTION_NAME", &a.name)
                    .env("JUJU_ACTION_UUID", &a.id)
                    .env("JUJU_ACTION_TAG", format!("action-{}", a.id));
            }
            _ => {
                cmd.env("JUJU_HOOK_NAME", event.name());
            }
        }
        let out = cmd.output().context("running dispatch")?;
        let entries: Vec<Entry> = std::fs::read_to_string(&journal)
            .map(|t| {
                t.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default();
        if !out.status.success() && self.cfg.verbose {
            let err = String::from_utf8_lossy(&out.stderr);
            eprintln!(
                "    {} {} failed: {}",
                self.units[i].name,
                event.name(),
                err.trim()
            );
        }
        self.after_dispatch(i, event, &entries, out.status.code());
        Ok((out.status.code(), entries))
    }

    /// Bookkeeping of the faults after a dispatch: the dispatch log since arming, the faults
    /// that fired (in words), a kill aimed at this dispatch that did not fire.
    fn after_dispatch(&mut self, i: usize, event: &Event, entries: &[Entry], code: Option<i32>) {
        let name = match event {
            Event::Action(a) => format!("action {}", a.name),
            other => other.name(),
        };
        let tools: Vec<String> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Call { tool, .. } => Some(tool.clone()),
                _ => None,
            })
            .collect();
        let u = &mut self.units[i];
        if let Some(index) = u.armed_dispatches {
            if u.kill_in_dispatch == Some(index) {
                // Aimed at this dispatch: it fired or it never will.
                u.kill_after = None;
                u.kill_in_dispatch = None;
            }
            self.armed_log.push(ArmedDispatch {
                unit: u.name.number(),
                index,
                event: name.clone(),
                calls: tools.len(),
                tools: tools.clone(),
            });
        }
        let after = match (code, event) {
            (Some(0), _) => "the charm handled it and the hook succeeded",
            (_, Event::Action(_)) => "the action failed (Juju does not retry an action)",
            _ => "the hook failed and Juju retried it",
        };
        for e in entries {
            if let Entry::Fault { what } = e {
                self.fired
                    .push(format!("{}: {what} in {name}; {after}", self.units[i].name));
            }
        }
    }

    /// Every dispatch run since the faults were armed.
    pub fn armed_log(&self) -> &[ArmedDispatch] {
        &self.armed_log
    }

    /// The injected faults that fired, in words.
    pub fn fired(&self) -> &[String] {
        &self.fired
    }

    /// Applies a finished dispatch: immediate effects always, buffered ones on success;
    /// then the fan-out. Returns the action outcome if any.
    fn commit(&mut self, i: usize, ok: bool, entries: &[Entry]) -> ActionOutcome {
        let mut outcome = ActionOutcome::default();
        let before_bag = self.units[i].bag.clone();
        let before_app = self.app_bag.clone();
        for e in entries {
            match e {
                Entry::Call { .. } => self.units[i].tool_calls += 1,
                Entry::StatusSet {
                    app: false,
                    status,
                    message,
                } => {
                    let shown = (status.clone(), message.clone());
                    self.units[i].statuses_shown.push(shown.clone());
                    if self.units[i].status != shown {
                        self.units[i].status_since = std::time::SystemTime::now();
                    }
                    self.units[i].status = shown;
                }
                Entry::StatusSet {
                    app: true,
                    status,
                    message,
                } => self.app_status = (status.clone(), message.clone()),
                Entry::ActionSet { data } => outcome.results.extend(data.clone()),
                Entry::ActionFail { message } => outcome.failure = Some(message.clone()),
                Entry::AppVersion { version } => {
                    self.units[i].reported_version = Some(version.clone());
                    self.units[i].version_step = self.step;
                }
                Entry::Log { level, message } => self.logs.push(LogLine {
                    unit: self.units[i].name.to_string(),
                    level: level.clone(),
                    message: message.clone(),
                    time: clock(),
                }),
                Entry::ActionLog { message } => outcome.log.push(message.clone()),
                Entry::Fault { .. } => {
                    self.units[i].fail_tool_once = None;
                    self.units[i].kill_after = None;
                }
                Entry::RelationSet { app, data } if ok => {
                    let bag = if *app {
                        &mut self.app_bag
                    } else {
                        &mut self.units[i].bag
                    };
                    for (k, v) in data {
                        if v.is_empty() {
                            bag.remove(k);
                        } else {
                            bag.insert(k.clone(), v.clone());
                        }
                    }
                }
                Entry::StateSet { data } if ok => self.units[i]
                    .charm_state
                    .get_or_insert_with(Bag::new)
                    .extend(data.clone()),
                Entry::StateDelete { key } if ok => {
                    if let Some(s) = self.units[i].charm_state.as_mut() {
                        s.remove(key);
                    }
                }
                _ => {}
            }
        }
        if !ok {
            return outcome;
        }
        let writer = self.units[i].name.to_string();
        if self.units[i].bag != before_bag {
            for j in 0..self.units.len() {
                if j != i && !self.units[j].gone && self.units[j].joined.contains(&writer) {
                    self.queue_changed(j, Some(&writer));
                }
            }
        }
        if self.app_bag != before_app {
            for j in 0..self.units.len() {
                if j != i && j != self.leader && self.units[j].in_relation && !self.units[j].gone {
                    self.queue_changed(j, None);
                }
            }
        }
        outcome
    }

    /// Queues `relation-changed` on unit `j` about `remote` (None: the app bag), unless one
    /// is already waiting (Juju coalesces).
    fn queue_changed(&mut self, j: usize, remote: Option<&str>) {
        self.seq += 1;
        let seq = self.seq;
        self.units[j]
            .owed
            .entry(remote.unwrap_or_default().to_owned())
            .or_insert(seq);
    }

    fn state_of(&self, i: usize) -> String {
        self.units[i].bag.get("state").cloned().unwrap_or_default()
    }

    /// Unit `i`'s workload moved from `before` to the target's version: one more upgrade.
    fn note_workload_upgrade(&mut self, i: usize, before: &str) {
        let after = self.workload_version(i);
        if after != before {
            if let Some(t) = &self.target {
                if after == t.workload && !self.units[i].fresh {
                    self.units[i].workload_upgrades += 1;
                    self.upgrade_order.push(self.units[i].name.to_string());
                }
            }
        }
    }

    fn workload_version(&self, i: usize) -> String {
        std::fs::read_to_string(self.units[i].workload_dir.join("version"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    /// Runs one pending hook. Returns false when nothing is pending.
    pub fn step(&mut self) -> Result<bool> {
        let Some(i) = self.pick() else {
            return Ok(false);
        };
        let Some((event, _, source)) = self.next_item(i) else {
            return Ok(false);
        };
        self.step += 1;
        // Entering the relation / seeing a unit join happens as the hook starts.
        if let Event::Relation(r) = &event {
            match r.kind {
                RelationEventKind::Created => self.units[i].in_relation = true,
                RelationEventKind::Joined => {
                    if let Some(u) = &r.remote_unit {
                        self.units[i].joined.insert(u.to_string());
                    }
                }
                RelationEventKind::Departed => {
                    if let Some(u) = &r.remote_unit {
                        self.units[i].joined.remove(&u.to_string());
                        self.units[i].owed.remove(&u.to_string());
                    }
                }
                _ => {}
            }
        }
        let workload_before = self.workload_version(i);
        let (code, entries) = self.dispatch(i, &event, None)?;
        let ok = code == Some(0);
        self.units[i].hooks_run += 1;
        self.commit(i, ok, &entries);
        if ok {
            self.check_reported_version(i);
            self.units[i].failing = None;
            match &source {
                Source::Lifecycle => {
                    self.units[i].queue.pop_front();
                }
                Source::AfterJoin => {
                    if let Some((remote, _)) = self.units[i].after_join.take() {
                        // The hook showed the latest data of that unit.
                        self.units[i].owed.remove(&remote);
                    }
                }
                Source::Join => {
                    if let Some((remote, _)) = self.units[i].joins.pop_front() {
                        self.seq += 1;
                        self.units[i].after_join = Some((remote, self.seq));
                    }
                }
                Source::Changed(remote) => {
                    self.units[i].owed.remove(remote);
                }
            }
            if event == Event::UpgradeCharm {
                self.push(i, Event::ConfigChanged);
            }
            if event == Event::Remove {
                self.units[i].gone = true;
                self.units[i].in_relation = false;
            }
        } else {
            self.units[i].errors += 1;
            let name = event.name();
            let tries = match &self.units[i].failing {
                Some((h, n)) if *h == name => n + 1,
                _ => 1,
            };
            self.units[i].failing = Some((name.clone(), tries));
            if !self.injected {
                self.violations.push(format!(
                    "step {}: {} failed {} with no fault injected",
                    self.step, self.units[i].name, name
                ));
            }
            if tries > MAX_RETRIES {
                // Juju leaves the unit in error (`juju resolve` would retry it): the model
                // goes on without it and the run fails with this violation.
                self.violations.push(format!(
                    "step {}: {} keeps failing {name} ({tries} tries): the unit is in error",
                    self.step, self.units[i].name
                ));
                self.first_violation_step.get_or_insert(self.step);
                self.units[i].error_hook = Some(name.to_string());
            }
        }
        self.note_workload_upgrade(i, &workload_before);
        let line = self.record(i, event.name(), code);
        if self.cfg.verbose {
            eprintln!("{line}");
        }
        self.last_hook.insert(i, event.name());
        self.draw(false);
        self.check_invariants();
        self.k8s_roll()?;
        Ok(true)
    }

    /// What the scenario is doing now (the live table's first line): `deploying`,
    /// `pre-upgrade-check`, `refresh to revision 2`, `waiting for resume-upgrade`, ...
    pub fn set_phase(&mut self, phase: impl Into<String>) {
        self.phase = phase.into();
        self.draw(true);
    }

    /// The live table's lines, each cut to `width` characters.
    pub fn frame(&self, width: usize) -> Vec<String> {
        let (app, app_message) = self.shown_app_status();
        let mut lines = vec![
            format!(
                "juju-sim: {} | {} hooks, {:.1} s, {} upgraded{}",
                self.phase,
                self.step,
                self.started.elapsed().as_secs_f64(),
                self.upgrade_order.len(),
                if self.violations.is_empty() {
                    String::new()
                } else {
                    format!(", {} VIOLATIONS", self.violations.len())
                }
            ),
            format!("application: {app} {app_message}")
                .trim_end()
                .to_owned(),
            format!(
                "  {:<23} {:<10} {:<8} {:<8} {:<24} status",
                "unit", "state", "workload", "shown", "last hook"
            ),
        ];
        let shown = self.units.len().min(20);
        for i in 0..shown {
            let u = &self.units[i];
            lines.push(format!(
                "  {:<22}{} {:<10} {:<8} {:<8} {:<24} {} {}",
                u.name.to_string(),
                if i == self.leader { "*" } else { " " },
                self.state_of(i),
                self.workload_version(i),
                u.reported_version.as_deref().unwrap_or("-"),
                self.last_hook.get(&i).map(String::as_str).unwrap_or(""),
                u.status.0,
                u.status.1
            ));
        }
        if self.units.len() > shown {
            lines.push(format!("  ... and {} more units", self.units.len() - shown));
        }
        for l in &mut lines {
            if let Some((at, _)) = l.char_indices().nth(width) {
                l.truncate(at);
            }
        }
        lines
    }

    /// Redraws the live table on the terminal (stderr) in place, at most every 50 ms unless
    /// `force`: each line cut to the terminal's width (a wrapped line would break the
    /// redraw into stale half-frames), the previous frame overwritten, not repeated.
    pub fn draw(&mut self, force: bool) {
        use crossterm::{cursor, queue, style::Print, terminal};
        use std::io::Write as _;
        if !self.cfg.live {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(50))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let width = terminal::size().map_or(80, |(w, _)| usize::from(w.max(20)) - 1);
        let lines = self.frame(width);
        let mut err = std::io::stderr().lock();
        let mut draw = || -> std::io::Result<()> {
            if self.drawn > 0 {
                queue!(err, cursor::MoveToPreviousLine(self.drawn as u16))?;
            }
            for l in &lines {
                queue!(
                    err,
                    terminal::Clear(terminal::ClearType::CurrentLine),
                    Print(l),
                    Print("\n")
                )?;
            }
            queue!(err, terminal::Clear(terminal::ClearType::FromCursorDown))?;
            err.flush()
        };
        // A terminal that went away only loses the table.
        let _ = draw();
        self.drawn = lines.len();
    }

    /// Appends the trace line of the hook just run on unit `i`.
    fn record(&mut self, i: usize, event: String, exit: Option<i32>) -> TraceLine {
        let line = TraceLine {
            step: self.step,
            unit: self.units[i].name.to_string(),
            event,
            exit,
            state: self.state_of(i),
            status: status_text(&self.units[i].status),
        };
        self.trace.push(line.clone());
        line
    }

    /// After a hook that succeeded: what `juju status` shows as the unit's version is the
    /// workload version it runs.
    fn check_reported_version(&mut self, i: usize) {
        let running = self.workload_version(i);
        if running.is_empty() {
            return; // nothing installed (yet)
        }
        let shown = self.units[i].reported_version.clone();
        if shown.as_deref() != Some(running.as_str()) {
            self.violations.push(format!(
                "step {}: {} runs workload {running} but Juju shows version {}",
                self.step,
                self.units[i].name,
                shown.as_deref().unwrap_or("(none)")
            ));
            self.first_violation_step.get_or_insert(self.step);
        }
    }

    fn check_invariants(&mut self) {
        let before = self.violations.len();
        self.check_invariants_inner();
        if self.violations.len() > before && self.first_violation_step.is_none() {
            self.first_violation_step = Some(self.step);
        }
    }

    fn check_invariants_inner(&mut self) {
        let upgrading: Vec<String> = (0..self.units.len())
            .filter(|&i| self.state_of(i) == "upgrading")
            .map(|i| self.units[i].name.to_string())
            .collect();
        if upgrading.len() > 1 {
            self.violations.push(format!(
                "step {}: units upgrading at once: {}",
                self.step,
                upgrading.join(", ")
            ));
        }
        for i in 0..self.units.len() {
            if self.units[i].workload_upgrades > 1 {
                self.violations.push(format!(
                    "step {}: {} upgraded its workload {} times",
                    self.step, self.units[i].name, self.units[i].workload_upgrades
                ));
                self.units[i].workload_upgrades = 1;
            }
        }
        if self.cfg.substrate == Substrate::Vm && self.target.is_some() {
            let leader = self.units[self.leader].name.to_string();
            if self.upgrade_order.last() == Some(&leader) {
                let missing: Vec<String> = self
                    .units
                    .iter()
                    .filter(|u| !u.gone && !u.dying && !u.fresh)
                    .map(|u| u.name.to_string())
                    .filter(|u| !self.upgrade_order.contains(u))
                    .collect();
                if !missing.is_empty() {
                    self.violations.push(format!(
                        "step {}: the leader upgraded before {}",
                        self.step,
                        missing.join(", ")
                    ));
                }
            }
        }
    }

    /// Runs hooks until nothing is pending (at most `max_steps`).
    pub fn settle(&mut self, max_steps: usize) -> Result<usize> {
        let start = self.step;
        while self.step - start < max_steps {
            if !self.step()? {
                self.k8s_roll()?;
                if !self.step()? {
                    return Ok(self.step - start);
                }
            }
        }
        self.violations.push(format!(
            "step {}: the model did not settle in {max_steps} hooks",
            self.step
        ));
        self.first_violation_step.get_or_insert(self.step);
        Ok(self.step - start)
    }

    /// Kubernetes: the StatefulSet controller. When the pod being recreated has run its
    /// hooks, the next pod with an ordinal at or above the partition that does not run the
    /// template's revision is recreated, highest first, one at a time: it loses its charm
    /// container (the unit's hints go), gets the new charm, and runs `upgrade-charm`,
    /// `config-changed`, `start`.
    fn k8s_roll(&mut self) -> Result<()> {
        let (Some(api), Some(target)) = (&self.api, self.k8s_target.clone()) else {
            return Ok(());
        };
        if let Some(i) = self.rolling {
            // (A pod removed while it was being recreated no longer holds the rollout.)
            if !self.units[i].queue.is_empty() && !self.units[i].gone && !self.units[i].dying {
                return Ok(());
            }
            self.rolling = None;
        }
        let partition = api.sts.lock().map(|s| s.partition).unwrap_or(0);
        let next = (0..self.units.len())
            .filter(|&i| {
                !self.units[i].gone
                    && !self.units[i].dying
                    && self.units[i].name.number() >= partition
                    && self.units[i].pod_gen != self.template_gen
            })
            .max_by_key(|&i| self.units[i].name.number());
        let Some(i) = next else {
            return Ok(());
        };
        let dir = self.units[i].charm_dir.clone();
        let _ = std::fs::remove_file(dir.join(juju_hooks::HINTS_FILE));
        self.install_charm(&dir, &target)?;
        self.units[i].revision = target.number;
        self.units[i].pod_gen = self.template_gen;
        self.push(i, Event::UpgradeCharm);
        self.push(i, Event::Start);
        self.rolling = Some(i);
        if self.cfg.verbose {
            eprintln!(
                "      (statefulset: partition {partition}, pod {} recreated with revision {})",
                self.units[i].name, target.number
            );
        }
        Ok(())
    }

    /// Kubernetes: the partitions the charm patched, in order.
    pub fn partitions(&self) -> Vec<u32> {
        self.api
            .as_ref()
            .and_then(|a| a.sts.lock().ok().map(|s| s.patches.clone()))
            .unwrap_or_default()
    }

    /// Runs an action on unit `i` (between hooks, as Juju holds actions until the unit is
    /// idle).
    pub fn run_action(&mut self, i: usize, name: &str) -> Result<ActionOutcome> {
        self.run_action_with(i, name, serde_json::Map::new())
    }

    /// Runs an action with parameters (`juju run <unit> <action> k=v ...`).
    pub fn run_action_with(
        &mut self,
        i: usize,
        name: &str,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> Result<ActionOutcome> {
        self.seq += 1;
        let event = Event::Action(ActionEvent {
            name: name.into(),
            id: self.seq.to_string(),
        });
        self.step += 1;
        let action = ActionContext {
            name: name.into(),
            params,
        };
        let workload_before = self.workload_version(i);
        let (code, entries) = self.dispatch(i, &event, Some(action))?;
        // An action may upgrade the workload too (resume-upgrade on a machine leader that
        // is next, force-upgrade on a single unit).
        self.note_workload_upgrade(i, &workload_before);
        self.units[i].hooks_run += 1;
        let mut outcome = self.commit(i, code == Some(0), &entries);
        outcome.exit = code;
        if code == Some(0) {
            self.check_reported_version(i);
        }
        self.record(i, format!("action {name}"), code);
        if self.cfg.verbose {
            eprintln!(
                "{:>5} {:<22} action {:<27} exit {:<4} {}",
                self.step,
                self.units[i].name,
                name,
                code.map(|c| c.to_string()).unwrap_or_else(|| "kill".into()),
                match &outcome.failure {
                    Some(f) => format!("failed: {f}"),
                    None => format!("results: {:?}", outcome.results),
                }
            );
        }
        self.draw(true);
        self.check_invariants();
        self.k8s_roll()?;
        Ok(outcome)
    }

    /// Units in the order they upgraded their workload to the target revision.
    pub fn upgrade_order(&self) -> &[String] {
        &self.upgrade_order
    }

    /// Applies the scaling faults of `phase`.
    pub fn scale(&mut self, phase: Phase) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        for f in self.cfg.faults.clone() {
            match f {
                Fault::AddUnit(p) if p == phase => {
                    let n = self.add_unit()?;
                    notes.push(format!("juju add-unit: unit {n} added ({phase})"));
                }
                Fault::RemoveUnit(n, p) if p == phase => {
                    self.remove_unit(n)?;
                    notes.push(format!("juju remove-unit: unit {n} removed ({phase})"));
                }
                _ => {}
            }
        }
        Ok(notes)
    }

    /// Runs up to `n` hooks.
    pub fn run_steps(&mut self, n: usize) -> Result<usize> {
        let mut done = 0;
        while done < n && self.step()? {
            done += 1;
        }
        Ok(done)
    }

    /// The application's name.
    pub fn app(&self) -> &str {
        self.cfg.charm_files.app.as_deref().unwrap_or(APP)
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Is this a Kubernetes model?
    pub fn is_k8s(&self) -> bool {
        self.api.is_some()
    }

    /// The leader's index.
    pub fn leader(&self) -> usize {
        self.leader
    }

    /// `juju refresh`: on machines every unit gets `rev` and an `upgrade-charm`; on
    /// Kubernetes the StatefulSet's template changes and its controller recreates pods.
    pub fn refresh(&mut self, rev: &Revision) -> Result<()> {
        self.target = Some(rev.clone());
        self.upgrade_order.clear();
        for u in &mut self.units {
            u.workload_upgrades = 0;
        }
        if self.api.is_some() {
            self.k8s_target = Some(rev.clone());
            self.template_gen += 1;
            return self.k8s_roll();
        }
        for i in 0..self.units.len() {
            let dir = self.units[i].charm_dir.clone();
            self.install_charm(&dir, rev)?;
            self.units[i].revision = rev.number;
            self.push(i, Event::UpgradeCharm);
        }
        Ok(())
    }

    /// Arms the faults that apply at `refresh` (and `pre-upgrade-check`) time.
    pub fn arm_faults(&mut self, target: &Revision) -> Result<()> {
        self.start_counting()?;
        for f in self.cfg.faults.clone() {
            match f {
                Fault::FailUpgrade(n) => {
                    let u = self.unit_index(n)?;
                    std::fs::create_dir_all(&self.units[u].workload_dir)?;
                    std::fs::write(
                        self.units[u].workload_dir.join("fail-install"),
                        &target.workload,
                    )?;
                }
                Fault::ToolFailsOnce { unit, tool } => {
                    let u = self.unit_index(unit)?;
                    self.units[u].fail_tool_once = Some(tool);
                }
                Fault::KillMidHook {
                    unit,
                    after,
                    hook: None,
                } => {
                    let u = self.unit_index(unit)?;
                    self.units[u].kill_after = Some(after);
                }
                Fault::KillMidHook { hook: Some(_), .. } => {} // armed by start_counting
                Fault::UnhealthyAtPreCheck(_)
                | Fault::IncompatibleRefresh
                | Fault::NoPreCheck
                | Fault::Untrusted
                | Fault::AddUnit(_)
                | Fault::RemoveUnit(..) => {}
            }
        }
        Ok(())
    }

    /// `juju config <app> key=value`: every unit gets `config-changed`.
    pub fn set_config(&mut self, key: &str, value: &str) {
        self.cfg.charm_config.insert(key.into(), value.into());
        if self.cfg.verbose {
            eprintln!("juju config {} {key}={value}", self.app());
        }
        self.config_changed_everywhere();
    }

    /// `juju config <app> --reset <key>`: back to the charm's default (unset).
    pub fn reset_config(&mut self, key: &str) {
        self.cfg.charm_config.remove(key);
        self.config_changed_everywhere();
    }

    /// `juju trust <app> --scope=cluster`: the API server lets the charm patch its
    /// StatefulSet from now on, and every unit gets `config-changed` (trust is application
    /// config to Juju).
    pub fn trust(&mut self) {
        if let Some(api) = &self.api {
            api.sts.lock().unwrap_or_else(|e| e.into_inner()).forbid = false;
        }
        if self.cfg.verbose {
            eprintln!("juju trust {} --scope=cluster", self.app());
        }
        self.config_changed_everywhere();
    }

    fn config_changed_everywhere(&mut self) {
        for i in 0..self.units.len() {
            if !self.units[i].gone && !self.units[i].dying {
                self.push(i, Event::ConfigChanged);
            }
        }
    }

    /// Kills unit `n`'s next dispatch (hook or action) at its `call`-th hook-tool call.
    pub fn kill_next_dispatch(&mut self, n: u32, call: usize) -> Result<()> {
        let u = self.unit_index(n)?;
        self.injected = true;
        self.units[u].kill_after = Some(call);
        self.units[u].kill_in_dispatch = None;
        Ok(())
    }

    /// From now on each unit's dispatches are counted (the `DISPATCH` of
    /// `kill-mid-hook:UNIT:CALL:DISPATCH` is the unit's dispatch number from here, 1 = the
    /// next), and the kills aimed at a numbered dispatch are armed. The scenarios call it
    /// just before their first `pre-upgrade-check` (and `arm_faults` calls it, for a
    /// scenario that has none); later calls change nothing.
    pub fn start_counting(&mut self) -> Result<()> {
        if self.units.iter().any(|u| u.armed_dispatches.is_some()) {
            return Ok(());
        }
        for u in &mut self.units {
            u.armed_dispatches = Some(0);
        }
        for f in self.cfg.faults.clone() {
            if let Fault::KillMidHook {
                unit,
                after,
                hook: Some(h),
            } = f
            {
                let u = self.unit_index(unit)?;
                self.units[u].kill_after = Some(after);
                self.units[u].kill_in_dispatch = Some(h);
            }
        }
        Ok(())
    }

    /// `juju add-unit`: a new unit of the application's current revision (the one the
    /// others run or are being refreshed to), which installs, enters the relation and joins
    /// every other unit (and they it).
    pub fn add_unit(&mut self) -> Result<u32> {
        let n = self
            .units
            .iter()
            .map(|u| u.name.number())
            .max()
            .map_or(0, |m| m + 1);
        let rev = self
            .target
            .clone()
            .unwrap_or_else(|| self.cfg.revisions.old.clone());
        let i = self.make_unit(n, &rev, self.target.is_some())?;
        self.queue_setup(i);
        let name = self.units[i].name.clone();
        let others: Vec<(usize, String)> = (0..i)
            .filter(|&j| !self.units[j].gone && !self.units[j].dying)
            .map(|j| (j, self.units[j].name.to_string()))
            .collect();
        for (j, other) in others {
            self.seq += 1;
            let seq = self.seq;
            self.units[i].joins.push_back((other, seq));
            self.units[j].joins.push_back((name.to_string(), seq));
        }
        if self.cfg.verbose {
            eprintln!("      (juju add-unit: {name} with revision {})", rev.number);
        }
        Ok(n)
    }

    /// `juju remove-unit`: unit `n` departs (its peers and itself run relation-departed),
    /// then stops and is removed. The leader is not removed (no leadership change here).
    pub fn remove_unit(&mut self, n: u32) -> Result<()> {
        let i = self.unit_index(n)?;
        if i == self.leader {
            bail!("the simulator does not remove the leader");
        }
        if self.api.is_some() {
            let highest = self
                .units
                .iter()
                .filter(|u| !u.gone && !u.dying)
                .map(|u| u.name.number())
                .max();
            if highest != Some(n) {
                bail!("on Kubernetes a StatefulSet scales down from its highest ordinal: unit {n} cannot be removed first");
            }
        }
        self.units[i].dying = true;
        let name = self.units[i].name.to_string();
        let peers: Vec<(usize, String)> = (0..self.units.len())
            .filter(|&j| j != i && !self.units[j].gone)
            .map(|j| (j, self.units[j].name.to_string()))
            .collect();
        let app = self.app().to_owned();
        let departed = |remote: &str, departing: &str| {
            Event::Relation(RelationEvent {
                kind: RelationEventKind::Departed,
                relation: Self::relation_id(),
                remote_app: app.clone(),
                remote_unit: remote.parse().ok(),
                departing_unit: departing.parse().ok(),
            })
        };
        for (j, peer) in &peers {
            if self.units[*j].joined.contains(&name)
                || self.units[*j].joins.iter().all(|(r, _)| *r != name)
            {
                self.units[*j].joins.retain(|(r, _)| *r != name);
                self.push(*j, departed(&name, &name));
            }
            self.units[i].joins.retain(|(r, _)| r != peer);
            if self.units[i].joined.contains(peer) {
                self.push(i, departed(peer, &name));
            }
        }
        self.push(i, Event::Stop);
        self.push(i, Event::Remove);
        if self.cfg.verbose {
            eprintln!("      (juju remove-unit: {name})");
        }
        Ok(())
    }

    /// Removes the workload faults (the operator fixed the machine before rolling back).
    pub fn clear_injected_workload_faults(&mut self) -> Result<()> {
        for u in &self.units {
            let _ = std::fs::remove_file(u.workload_dir.join("fail-install"));
        }
        Ok(())
    }

    /// Stops unit `n`'s workload and lets it notice (`update-status`).
    pub fn break_workload(&mut self, n: u32) -> Result<()> {
        let u = self.unit_index(n)?;
        let _ = std::fs::remove_file(self.units[u].workload_dir.join("running"));
        self.push(u, Event::UpdateStatus);
        Ok(())
    }

    /// Starts unit `n`'s workload again at the version installed, and lets it notice.
    pub fn heal_workload(&mut self, n: u32) -> Result<()> {
        let u = self.unit_index(n)?;
        let dir = self.units[u].workload_dir.clone();
        if let Ok(version) = std::fs::read_to_string(dir.join("version")) {
            std::fs::write(dir.join("running"), version)?;
        }
        self.push(u, Event::UpdateStatus);
        Ok(())
    }

    /// How many units the model has had (removed ones included: indexes stay).
    pub fn units_len(&self) -> usize {
        self.units.len()
    }

    /// The number of the unit at index `i`, if it is still in the model.
    pub fn unit_number(&self, i: usize) -> Option<u32> {
        self.units
            .get(i)
            .filter(|u| !u.gone && !u.dying)
            .map(|u| u.name.number())
    }

    fn unit_index(&self, n: u32) -> Result<usize> {
        self.units
            .iter()
            .position(|u| u.name.number() == n)
            .with_context(|| format!("there is no unit {n}"))
    }

    /// Checks the end state of a finished upgrade to `rev`: every unit idle, Active, on
    /// `rev`'s workload, and `rev`'s dependencies stored.
    pub fn check_final(&mut self, rev: &Revision) {
        let problems = self.final_problems(rev);
        self.violations.extend(problems);
    }

    /// What stands between the model and the end state of a finished upgrade to `rev` (see
    /// [`Sim::check_final`]), read from what an operator sees (states, statuses, the version
    /// `juju status` shows, the charm revision) and the workload's own files. Empty when
    /// converged.
    pub fn final_problems(&self, rev: &Revision) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..self.units.len() {
            let u = &self.units[i];
            if u.gone {
                continue;
            }
            let state = self.state_of(i);
            let mut problems = Vec::new();
            if state != "idle" {
                problems.push(format!("state {state:?}"));
            }
            if u.status.0 != "active" {
                problems.push(format!("status {} {:?}", u.status.0, u.status.1));
            }
            let w = self.workload_version(i);
            if w != rev.workload {
                problems.push(format!("workload {w:?}"));
            }
            if u.reported_version.as_deref() != Some(rev.workload.as_str()) {
                problems.push(format!(
                    "Juju shows version {:?}",
                    u.reported_version.as_deref().unwrap_or_default()
                ));
            }
            if u.revision != rev.number {
                problems.push(format!("charm revision {}", u.revision));
            }
            if !problems.is_empty() {
                out.push(format!(
                    "end: {} expected idle, active, workload {}: {}",
                    u.name,
                    rev.workload,
                    problems.join(", ")
                ));
            }
        }
        let (status, message) = self.shown_app_status();
        if status != "active" || !message.is_empty() {
            out.push(format!(
                "end: the application status is {status} {message:?}, not active"
            ));
        }
        if self.app_bag.get("dependencies") != Some(&rev.wire()) {
            out.push(format!(
                "end: stored dependencies are {:?}, not revision {}'s",
                self.app_bag.get("dependencies"),
                rev.number
            ));
        }
        out
    }

    /// Every unit upgraded exactly once.
    pub fn check_each_upgraded_once(&mut self) {
        for u in &self.units {
            if u.gone || u.fresh {
                continue;
            }
            if u.workload_upgrades != 1 {
                self.violations.push(format!(
                    "end: {} upgraded {} times",
                    u.name, u.workload_upgrades
                ));
            }
        }
    }

    /// A unit's committed state and status.
    pub fn unit_view(&self, n: u32) -> Option<(String, (String, String))> {
        let i = self.unit_index(n).ok()?;
        Some((self.state_of(i), self.units[i].status.clone()))
    }

    /// Every unit status unit `n` showed, in order.
    pub fn statuses_shown(&self, n: u32) -> &[(String, String)] {
        self.unit_index(n)
            .map(|i| self.units[i].statuses_shown.as_slice())
            .unwrap_or_default()
    }

    /// The upgrade state of every unit still in the model.
    pub fn unit_states(&self) -> Vec<String> {
        (0..self.units.len())
            .filter(|&i| !self.units[i].gone && !self.units[i].dying)
            .map(|i| self.state_of(i))
            .collect()
    }

    /// The application databag.
    pub fn app_bag(&self) -> &Bag {
        &self.app_bag
    }

    /// The report so far.
    pub fn report(&self, scenario: &str, notes: Vec<String>) -> Report {
        let units = (0..self.units.len())
            .map(|i| {
                let u = &self.units[i];
                UnitReport {
                    unit: u.name.to_string(),
                    leader: i == self.leader,
                    upgraded: self
                        .upgrade_order
                        .iter()
                        .position(|n| *n == u.name.to_string())
                        .map(|p| p + 1),
                    hooks: u.hooks_run,
                    tool_calls: u.tool_calls,
                    errors: u.errors,
                    state: self.state_of(i),
                    status: u.status.0.clone(),
                    message: u.status.1.clone(),
                    version: u.reported_version.clone().unwrap_or_default(),
                    workload: self.workload_version(i),
                }
            })
            .collect::<Vec<_>>();
        let (app_status, app_message) = self.shown_app_status();
        Report {
            schema: REPORT_SCHEMA,
            scenario: scenario.into(),
            substrate: self.cfg.substrate,
            seed: self.cfg.seed,
            hooks: units.iter().map(|u| u.hooks).sum(),
            tool_calls: units.iter().map(|u| u.tool_calls).sum(),
            units,
            order: self.upgrade_order.clone(),
            seconds: self.started.elapsed().as_secs_f64(),
            violations: self.violations.clone(),
            app_status,
            app_message,
            trace: match self.first_violation_step {
                Some(step) => {
                    let upto: Vec<TraceLine> = self
                        .trace
                        .iter()
                        .filter(|t| t.step <= step)
                        .cloned()
                        .collect();
                    upto[upto.len().saturating_sub(30)..].to_vec()
                }
                None if !self.violations.is_empty() => {
                    self.trace[self.trace.len().saturating_sub(30)..].to_vec()
                }
                None => Vec::new(),
            },
            notes,
            faults_fired: self.fired.clone(),
            outcome: None,
        }
    }

    /// The application status as `juju status` shows it: the one the leader set, or, while
    /// none was ever set, the most significant of the units' (Juju derives it: blocked over
    /// maintenance over waiting over active).
    pub fn shown_app_status(&self) -> (String, String) {
        if self.app_status.0 != "unknown" {
            return self.app_status.clone();
        }
        let rank = |s: &str| match s {
            "error" => 0,
            "blocked" => 1,
            "maintenance" => 2,
            "waiting" => 3,
            "active" => 4,
            _ => 5,
        };
        self.units
            .iter()
            .filter(|u| !u.gone)
            .map(|u| u.status.clone())
            .min_by_key(|(s, _)| rank(s))
            .unwrap_or_else(|| self.app_status.clone())
    }

    /// The statuses the operator reads, the application's first, then each unit's (the
    /// leader first): `(who, status name, message)`.
    pub fn shown_statuses(&self) -> Vec<(String, String, String)> {
        let (status, message) = self.shown_app_status();
        let mut out = vec![(self.app().to_owned(), status, message)];
        let mut order: Vec<usize> = (0..self.units.len())
            .filter(|&i| !self.units[i].gone)
            .collect();
        order.sort_by_key(|&i| (i != self.leader, i));
        for i in order {
            let u = &self.units[i];
            out.push((u.name.to_string(), u.status.0.clone(), u.status.1.clone()));
        }
        out
    }

    /// Charms come from files (`juju deploy ./x.charm`): `.juju-charm` says `local:`.
    pub fn set_local_charms(&mut self, on: bool) {
        self.local_charms = on;
    }

    /// The charm the next [`Sim::refresh`] installs: its directory (files and `dispatch`).
    pub fn set_refresh_charm(&mut self, dir: PathBuf) {
        self.cfg.dispatch = dir.join("dispatch");
        self.cfg.deploy_dispatch = None;
        self.cfg.charm_files.target = Some(dir);
    }

    /// The index of unit `n`, if it is in the model.
    pub fn index_of(&self, n: u32) -> Option<usize> {
        self.unit_index(n).ok().filter(|&i| !self.units[i].gone)
    }

    /// Every `juju-log` line so far.
    pub fn logs(&self) -> &[LogLine] {
        &self.logs
    }

    /// The units still in the model, as `juju status` shows them (in unit order).
    pub fn view(&self) -> Vec<UnitView> {
        (0..self.units.len())
            .filter(|&i| !self.units[i].gone)
            .map(|i| {
                let u = &self.units[i];
                UnitView {
                    name: u.name.to_string(),
                    leader: i == self.leader,
                    status: u.status.clone(),
                    number: u.name.number(),
                    agent: match (&u.error_hook, self.next_item(i)) {
                        (Some(hook), _) => Agent::Error(hook.clone()),
                        (None, Some((e, _, _))) => Agent::Executing(e.name()),
                        (None, None) => Agent::Idle,
                    },
                    status_since: u.status_since,
                    version: u.reported_version.clone().map(|v| (v, u.version_step)),
                    revision: u.revision,
                    workload_dir: u.workload_dir.clone(),
                    bag: u.bag.clone(),
                    in_relation: u.in_relation,
                    dying: u.dying,
                }
            })
            .collect()
    }

    /// Runs the next due hook, letting the StatefulSet controller recreate a pod when none
    /// is due; false when the model is settled.
    pub fn advance(&mut self) -> Result<bool> {
        if self.step()? {
            return Ok(true);
        }
        self.k8s_roll()?;
        self.step()
    }

    /// Elapsed wall time.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Copies a charm's files from `source` into a unit's `charm_dir`, as the unit agent unpacks
/// a charm: every file and directory but `dispatch` (linked by the caller), the versions file
/// and `.juju-charm` (the revision's, written by the caller), what the agent keeps of its
/// own (`.juju-hooks.json`), and a build tree (`target`, `.git`).
fn copy_charm_files(source: &Path, charm_dir: &Path) -> Result<()> {
    const SKIP: [&str; 6] = [
        "dispatch",
        "versions.json",
        ".juju-charm",
        juju_hooks::HINTS_FILE,
        "target",
        ".git",
    ];
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let name = entry.file_name();
        if SKIP.iter().any(|s| name == *s) {
            continue;
        }
        copy_tree(&entry.path(), &charm_dir.join(&name))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = std::fs::metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
    }
    Ok(())
}
