//! The operator's scenarios: what `juju-sim upgrade` and `juju-sim rollback` do, step by step,
//! and the end state each must reach.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;
use upgrade_coordinator::PausePolicy;

use crate::sim::{ActionOutcome, Fault, Phase, Report, Revision, Sim, SimConfig};

/// The deployed revision: workload 1.0.0.
pub fn old_revision() -> Revision {
    Revision::new(1, "1.0.0", ">=1.0")
}

/// The revision refreshed to: workload 1.1.0, upgradable from 1.x.
pub fn new_revision() -> Revision {
    Revision::new(2, "1.1.0", ">=1.0")
}

/// A revision the deployed one cannot be upgraded to (workload 3.0.0 needs 2.x first).
pub fn incompatible_revision() -> Revision {
    Revision::new(3, "3.0.0", ">=2.0")
}

/// Hooks allowed per settling phase (a 100-unit model needs a few thousand).
fn budget(units: usize) -> usize {
    2_000 + units * units * 8
}

fn has(cfg: &SimConfig, f: impl Fn(&Fault) -> bool) -> bool {
    cfg.faults.iter().any(f)
}

/// Deploy, `pre-upgrade-check` on the leader, `juju refresh`, run to the end, check.
/// With a fault that stops the upgrade, the run ends where the fault leaves it and the
/// documented end state is checked instead. With the operator model on, the operator then
/// acts on what Juju shows (see [`Operator`]) and the report says how the run ended.
pub fn upgrade(cfg: SimConfig) -> Result<(Sim, Report)> {
    let mut op = Operator::new(&cfg);
    let (mut sim, notes, end) = upgrade_steps(cfg, &mut op)?;
    let report = finish(&mut sim, notes, "upgrade", &mut op, end)?;
    Ok((sim, report))
}

/// How the scripted part of a scenario ended.
enum End {
    /// The upgrade ran to its end: check it (each unit upgraded once, unless scaled).
    Finished { once: bool },
    /// A fault stopped it where the scenario expected (its own checks are done).
    Stopped,
}

/// The scripted steps and checks of [`upgrade`].
fn upgrade_steps(cfg: SimConfig, op: &mut Operator) -> Result<(Sim, Vec<String>, End)> {
    let units = cfg.units;
    let incompatible = has(&cfg, |f| *f == Fault::IncompatibleRefresh);
    let fail_unit = cfg.faults.iter().find_map(|f| match f {
        Fault::FailUpgrade(n) => Some(*n),
        _ => None,
    });
    let unhealthy = cfg.faults.iter().find_map(|f| match f {
        Fault::UnhealthyAtPreCheck(n) => Some(*n),
        _ => None,
    });
    let revisions = cfg.revisions.clone();
    let mut sim = Sim::new(cfg)?;
    let mut notes = Vec::new();
    let old = revisions.old.clone();
    let target = if incompatible {
        revisions.incompatible.clone()
    } else {
        revisions.new.clone()
    };
    op.aim(&target);

    sim.deploy(&old)?;
    let n = sim.settle(budget(units))?;
    notes.push(format!(
        "deployed {units} units of revision {} in {n} hooks",
        old.number
    ));
    if let Some(u) = unhealthy {
        sim.break_workload(u)?;
        sim.settle(budget(units))?;
    }

    let leader = sim.leader();
    sim.start_counting()?;
    if has(sim.config(), |f| *f == Fault::NoPreCheck) {
        // The operator forgets the pre-upgrade-check: the refresh must be detected, the
        // application Blocked with the next step, nobody upgraded; then the check starts it.
        sim.arm_faults(&target)?;
        sim.set_phase(format!(
            "refresh to revision {} (no pre-check)",
            target.number
        ));
        sim.refresh(&target)?;
        op.intend(&target);
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "refreshed to revision {} without pre-upgrade-check: settled in {n} hooks",
            target.number
        ));
        let want = format!(
            "Refreshed without pre-upgrade-check: run juju run {}/leader pre-upgrade-check",
            sim.app()
        );
        if sim.app_status != ("blocked".to_owned(), want.clone()) {
            sim.violations.push(format!(
                "after a refresh without pre-check the application is {:?}, not blocked {want:?}",
                sim.app_status
            ));
        } else {
            notes.push(format!("application blocked: {want}"));
        }
        if !sim.upgrade_order().is_empty() {
            sim.violations.push(format!(
                "units upgraded without a pre-check: {:?}",
                sim.upgrade_order()
            ));
        }
        sim.set_phase("pre-upgrade-check (after the refresh)");
        let pre = op.run_action(&mut sim, &mut notes, leader, "pre-upgrade-check")?;
        if let Some(m) = pre.failed() {
            op.unexpected(
                &mut sim,
                &mut notes,
                format!("pre-upgrade-check after the refresh failed: {m}"),
            );
        }
        let n = sim.settle(budget(units))?;
        notes.push(format!("pre-upgrade-check, then settled in {n} hooks"));
        if sim.is_k8s() {
            // Every pod already runs the new charm: the units take their turns without
            // waiting for the partition, so nothing is left to resume.
            if finished(&sim) {
                notes.push(
                    "finished without resume-upgrade (every pod was already recreated)".into(),
                );
            } else {
                let resume = op.run_action(&mut sim, &mut notes, leader, "resume-upgrade")?;
                notes.push(describe("resume-upgrade", &resume));
                let n = sim.settle(budget(units))?;
                notes.push(format!("settled in {n} hooks"));
            }
        }
        op.intend(&target);
        return Ok((sim, notes, End::Finished { once: true }));
    }
    if has(sim.config(), |f| *f == Fault::Untrusted) && sim.is_k8s() {
        untrusted_pre_check(&mut sim, &mut notes, leader)?;
    }
    sim.set_phase("pre-upgrade-check");
    let pre = op.run_action(&mut sim, &mut notes, leader, "pre-upgrade-check")?;
    match pre.failed() {
        Some(msg) => {
            notes.push(format!("pre-upgrade-check failed: {msg}"));
            if unhealthy.is_none() {
                op.unexpected(
                    &mut sim,
                    &mut notes,
                    format!("pre-upgrade-check failed unexpectedly: {msg}"),
                );
            }
            if sim.app_bag().contains_key("upgrade-stack") {
                sim.violations
                    .push("a failed pre-upgrade-check wrote an upgrade stack".into());
            }
            return Ok((sim, notes, End::Stopped));
        }
        None => {
            notes.push(format!(
                "pre-upgrade-check: upgrade-stack {}",
                sim.app_bag()
                    .get("upgrade-stack")
                    .cloned()
                    .unwrap_or_default()
            ));
            if unhealthy.is_some() {
                sim.violations
                    .push("pre-upgrade-check passed on an unhealthy cluster".into());
            }
        }
    }

    let scaled = sim.scale(Phase::AfterPreCheck)?;
    if !scaled.is_empty() {
        notes.extend(scaled);
        let n = sim.settle(budget(units))?;
        notes.push(format!("settled in {n} hooks"));
    }
    sim.arm_faults(&target)?;
    sim.set_phase(format!("refresh to revision {}", target.number));
    sim.refresh(&target)?;
    op.intend(&target);
    scale_midway(&mut sim, &mut notes, "upgrade", |p| match p {
        Phase::MidUpgrade(k) => Some(k),
        _ => None,
    })?;
    let n = sim.settle(budget(units))?;
    notes.push(format!(
        "refreshed to revision {} and settled in {n} hooks",
        target.number
    ));
    let any_failed =
        |sim: &Sim| (0..units as u32).any(|u| sim.unit_view(u).is_some_and(|(s, _)| s == "failed"));
    let scaled = has(sim.config(), |f| {
        matches!(f, Fault::AddUnit(_) | Fault::RemoveUnit(..))
    });
    if sim.is_k8s() && !any_failed(&sim) && !incompatible {
        // Only the highest pod was recreated; the operator checks it and resumes.
        if !scaled && sim.upgrade_order().len() != 1 {
            sim.violations.push(format!(
                "Kubernetes: before resume-upgrade exactly the highest unit should have upgraded, not {:?}",
                sim.upgrade_order()
            ));
        }
        sim.set_phase("resume-upgrade");
        let resume = op.run_action(&mut sim, &mut notes, leader, "resume-upgrade")?;
        match resume.failed() {
            Some(m) => op.unexpected(&mut sim, &mut notes, format!("resume-upgrade failed: {m}")),
            None => notes.push(format!(
                "resume-upgrade: {}",
                resume.results.get("message").cloned().unwrap_or_default()
            )),
        }
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "settled in {n} hooks; partitions set: {}",
            partitions(&sim)
        ));
    }

    if incompatible {
        // The unit that checks versions (the leader on machines, the highest pod on
        // Kubernetes) refuses them: it is failed and Blocked, nobody upgrades.
        let checker = if sim.is_k8s() {
            units as u32 - 1
        } else {
            leader as u32
        };
        match sim.unit_view(checker) {
            Some((state, (status, _))) if state == "failed" && status == "blocked" => notes.push(
                format!("unit {checker} refused the versions and is Blocked"),
            ),
            other => sim.violations.push(format!(
                "incompatible refresh: unit {checker} is {other:?}, not failed/blocked"
            )),
        }
        if !sim.upgrade_order().is_empty() {
            sim.violations.push(format!(
                "incompatible refresh, yet {:?} upgraded",
                sim.upgrade_order()
            ));
        }
        // The application says why and what to do.
        let (status, message) = sim.shown_app_status();
        if status != "blocked"
            || !message.starts_with("Versions incompatible: workload 1.0.0 does not satisfy >=2.0")
            || !message.ends_with(&format!(
                "; roll back: juju refresh {} --revision {}",
                sim.app(),
                sim.config().revisions.old.number
            ))
            || message.chars().count() > 120
        {
            sim.violations.push(format!(
                "incompatible refresh: the application shows {status} {message:?}, not why and the refresh back"
            ));
        } else {
            notes.push(format!("application status: {message}"));
        }
        return Ok((sim, notes, End::Stopped));
    }
    if let Some(u) = fail_unit {
        match sim.unit_view(u) {
            Some((state, (status, _))) if state == "failed" && status == "blocked" => notes.push(
                format!("unit {u} failed its upgrade and is Blocked, as injected"),
            ),
            other => sim.violations.push(format!(
                "unit {u} should have failed its upgrade, it is {other:?}"
            )),
        }
        return Ok((sim, notes, End::Stopped));
    }
    Ok((sim, notes, End::Finished { once: true }))
}

/// The scaling fault set `k` hooks into the `during` phase (`hooks_into` picks `k` out of
/// that phase): run those hooks, then add or remove the unit.
fn scale_midway(
    sim: &mut Sim,
    notes: &mut Vec<String>,
    during: &str,
    hooks_into: fn(Phase) -> Option<usize>,
) -> Result<()> {
    let phase = sim.config().faults.iter().find_map(|f| match f {
        Fault::AddUnit(p) | Fault::RemoveUnit(_, p) => hooks_into(*p).map(|k| (*p, k)),
        _ => None,
    });
    if let Some((p, k)) = phase {
        let ran = sim.run_steps(k)?;
        notes.push(format!("{ran} hooks into the {during}:"));
        notes.extend(sim.scale(p)?);
    }
    Ok(())
}

/// Has the upgrade run to its end (no stack left, every unit idle)?
fn finished(sim: &Sim) -> bool {
    let no_stack = match sim.app_bag().get("upgrade-stack") {
        None => true,
        Some(s) => s.trim() == "[]",
    };
    no_stack && sim.unit_states().iter().all(|s| s == "idle")
}

/// A failed upgrade and the operator's rollback: `pre-upgrade-check` on the failed cluster,
/// then `juju refresh` back to the old revision; every unit must end idle, Active, on the old
/// workload. Without a fault, unit 1 (or the last unit) is made to fail.
pub fn rollback(mut cfg: SimConfig) -> Result<(Sim, Report)> {
    let stops = |f: &Fault| matches!(f, Fault::FailUpgrade(_) | Fault::IncompatibleRefresh);
    if !cfg.faults.iter().any(stops) {
        let unit = if cfg.units > 1 {
            cfg.units as u32 - 1
        } else {
            0
        };
        cfg.faults.push(Fault::FailUpgrade(unit));
    }
    let units = cfg.units;
    let mut op = Operator::new(&cfg);
    let (mut sim, mut notes, _) = upgrade_steps(cfg, &mut op)?;
    let leader = sim.leader();
    sim.set_phase("rollback: pre-upgrade-check");
    let pre = op.run_action(&mut sim, &mut notes, leader, "pre-upgrade-check")?;
    notes.push(match pre.failed() {
        Some(m) => format!("rollback pre-upgrade-check failed: {m}"),
        None => {
            let (state, (status, message)) = sim.unit_view(leader as u32).unwrap_or_default();
            format!(
                "rollback pre-upgrade-check: stack {}, the leader {state} and {status} {message:?}",
                sim.app_bag()
                    .get("upgrade-stack")
                    .cloned()
                    .unwrap_or_default(),
            )
        }
    });
    sim.clear_injected_workload_faults()?;
    let old = sim.config().revisions.old.clone();
    sim.set_phase(format!("rollback: refresh back to revision {}", old.number));
    sim.refresh(&old)?;
    op.intend(&old);
    scale_midway(&mut sim, &mut notes, "rollback", |p| match p {
        Phase::MidRollback(k) => Some(k),
        _ => None,
    })?;
    let n = sim.settle(budget(units))?;
    notes.push(format!(
        "refreshed back to revision {} and settled in {n} hooks",
        old.number
    ));
    if sim.is_k8s() {
        sim.set_phase("rollback: resume-upgrade");
        let resume = op.run_action(&mut sim, &mut notes, leader, "resume-upgrade")?;
        notes.push(describe("rollback resume-upgrade", &resume));
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "settled in {n} hooks; partitions set: {}",
            partitions(&sim)
        ));
    }
    let report = finish(
        &mut sim,
        notes,
        "rollback",
        &mut op,
        End::Finished { once: false },
    )?;
    Ok((sim, report))
}

/// The partitions the charm set, in order (`2, 1, 0`).
fn partitions(sim: &Sim) -> String {
    let p: Vec<String> = sim.partitions().iter().map(u32::to_string).collect();
    if p.is_empty() {
        "none".into()
    } else {
        p.join(", ")
    }
}

/// An action's result in words.
fn describe(what: &str, outcome: &ActionOutcome) -> String {
    match outcome.failed() {
        Some(m) => format!("{what} failed: {m}"),
        None => match outcome.results.get("message") {
            Some(m) => format!("{what}: {m}"),
            None => format!("{what}: done"),
        },
    }
}

/// The end of a scenario: without the operator model, the scripted end state is checked;
/// with it, the operator acts on what Juju shows until the run converges (or cannot).
fn finish(
    sim: &mut Sim,
    mut notes: Vec<String>,
    scenario: &str,
    op: &mut Operator,
    end: End,
) -> Result<Report> {
    let outcome = match (op.max, end) {
        (None, End::Stopped) => None,
        (None, End::Finished { once }) => {
            if let Some(rev) = op.current.clone() {
                sim.check_final(&rev);
                if once {
                    sim.check_each_upgraded_once();
                }
            }
            None
        }
        (Some(_), end) => {
            let outcome = op.operate(sim, &mut notes)?;
            if let (End::Finished { once: true }, Outcome::Converged, 0) =
                (end, &outcome, op.steps_taken())
            {
                sim.check_each_upgraded_once();
            }
            Some(outcome)
        }
    };
    sim.set_phase("done");
    let mut report = sim.report(scenario, notes);
    report.outcome = outcome;
    Ok(report)
}

/// The operator model on its own: with `current` the revision last refreshed to and
/// `previous` the one before it, the operator does what the statuses say (each step at most
/// `max` times) until the model converges on the revision it last refreshed to.
pub fn operate(
    sim: &mut Sim,
    notes: &mut Vec<String>,
    current: &Revision,
    previous: &Revision,
    target: &Revision,
    max: usize,
) -> Result<Outcome> {
    let mut op = Operator {
        current: Some(current.clone()),
        previous: Some(previous.clone()),
        target: Some(target.clone()),
        deployed: sim.config().revisions.old.clone(),
        ..Operator::with(Some(max), true)
    };
    op.operate(sim, notes)
}

/// A step the simulated operator can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// `juju run <app>/leader pre-upgrade-check`.
    PreUpgradeCheck,
    /// `juju run <app>/leader resume-upgrade`.
    ResumeUpgrade,
    /// `juju refresh <app>` to the revision being upgraded to.
    Refresh,
    /// `juju refresh <app>` back to the revision before the last refresh.
    RefreshBack,
    /// `juju trust <app> --scope=cluster`.
    Trust,
}

impl Step {
    /// The command as the operator types it, for the application `app`.
    pub fn command(self, app: &str) -> String {
        const APP: &str = "{app}";
        let s = match self {
            Step::PreUpgradeCheck => format!("juju run {APP}/leader pre-upgrade-check"),
            Step::ResumeUpgrade => format!("juju run {APP}/leader resume-upgrade"),
            Step::Refresh => format!("juju refresh {APP}"),
            Step::RefreshBack => format!("juju refresh {APP} (back to the previous revision)"),
            Step::Trust => format!("juju trust {APP} --scope=cluster"),
        };
        s.replace(APP, app)
    }
}

/// The first step a status message names, if any: `juju run <app>/leader <action>`, "run
/// pre-upgrade-check on the leader", or `juju refresh` (back, when the message says back, to
/// the previous revision, or names a `--revision`).
///
/// While an upgrade goes well (`Upgrading: ...`), the refresh back it shows is the way out
/// the operator keeps at hand, not a step to take.
pub fn step_named(message: &str, app: &str) -> Option<Step> {
    let message = match message.find("; roll back: ") {
        Some(at) if message.starts_with("Upgrading") => &message[..at],
        _ => message,
    };
    let mut found: Vec<(usize, Step)> = Vec::new();
    let mut look = |needle: &str, step: Step| {
        if let Some(at) = message.find(needle) {
            found.push((at, step));
        }
    };
    look(
        &format!("juju run {app}/leader pre-upgrade-check"),
        Step::PreUpgradeCheck,
    );
    look("run pre-upgrade-check on the leader", Step::PreUpgradeCheck);
    look(
        &format!("juju run {app}/leader resume-upgrade"),
        Step::ResumeUpgrade,
    );
    look(&format!("juju trust {app}"), Step::Trust);
    if let Some(at) = message.find("juju refresh") {
        let rest = &message[at..];
        let back = ["back", "previous revision", "--revision", "--path"]
            .iter()
            .any(|w| rest.contains(w));
        found.push((
            at,
            if back {
                Step::RefreshBack
            } else {
                Step::Refresh
            },
        ));
    }
    found.into_iter().min().map(|(_, step)| step)
}

/// How a run with the operator model ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Every unit idle, Active, on the intended revision (and showing its version), the
    /// application Active, the revision's versions stored.
    Converged,
    /// Not converged, but a status names the next step, which the operator already took
    /// the most times it may.
    Guided {
        /// The step named.
        step: Step,
        /// The status naming it (`who: status message`).
        shown: String,
        /// What is still wrong.
        problems: Vec<String>,
    },
    /// Not converged, and nothing the operator sees names a step.
    Stuck {
        /// What is still wrong.
        problems: Vec<String>,
    },
}

impl Outcome {
    /// `converged`, `guided` or `stuck`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::Guided { .. } => "guided",
            Outcome::Stuck { .. } => "stuck",
        }
    }
}

/// The simulated operator: runs the scenario's actions, retries one that failed, and at the
/// end does what the statuses say (the application's first, then each unit's), each step at
/// most `max` times, until the model converges on the revision last refreshed to.
pub struct Operator {
    max: Option<usize>,
    taken: BTreeMap<Step, usize>,
    /// The revision the operator wants running (the one last refreshed to).
    current: Option<Revision>,
    /// The revision before it.
    previous: Option<Revision>,
    /// The revision the scenario upgrades to (what a plain `juju refresh` goes to).
    target: Option<Revision>,
    /// An injected fault fired during the last [`Operator::run_action`] (retries included).
    fault_in_last_action: bool,
    /// Re-run an action whose dispatch died.
    retry: bool,
    /// The deployed revision (what the operator wants running before any refresh).
    deployed: Revision,
}

impl Operator {
    fn new(cfg: &SimConfig) -> Operator {
        Operator {
            deployed: cfg.revisions.old.clone(),
            ..Operator::with(cfg.operator, cfg.retry_actions)
        }
    }

    /// An operator who has taken no step and refreshed to nothing yet.
    fn with(max: Option<usize>, retry: bool) -> Operator {
        Operator {
            max,
            taken: BTreeMap::new(),
            current: None,
            previous: None,
            target: None,
            fault_in_last_action: false,
            retry,
            deployed: old_revision(),
        }
    }

    /// The scenario refreshed to `rev`.
    /// The revision the scenario means to refresh to, known before it does (so that a
    /// status saying `juju refresh` after a failed pre-check leads there).
    fn aim(&mut self, rev: &Revision) {
        if self.target.is_none() {
            self.target = Some(rev.clone());
        }
    }

    fn intend(&mut self, rev: &Revision) {
        if self.current.as_ref().map(|r| r.number) != Some(rev.number) {
            self.previous = self.current.take().or_else(|| Some(self.deployed.clone()));
        }
        if self.target.is_none() {
            self.target = Some(rev.clone());
        }
        self.current = Some(rev.clone());
    }

    fn steps_taken(&self) -> usize {
        self.taken.values().sum()
    }

    /// A scripted action failed where the scenario expects it to succeed: an invariant
    /// violation, unless an injected fault fired during it (the run's outcome then judges).
    fn unexpected(&self, sim: &mut Sim, notes: &mut Vec<String>, what: String) {
        if self.fault_in_last_action {
            notes.push(format!("{what} (an injected fault fired in it)"));
        } else {
            sim.violations.push(what);
        }
    }

    /// Runs an action; with the operator model on, one whose dispatch died (`juju run`
    /// reports it failed, with no message from the charm) is run again once the model has
    /// settled, unless the model converged meanwhile (each action at most `max` times more
    /// in all). A refusal with the charm's message is not retried: the operator reads the
    /// statuses instead (see [`Operator::operate`]).
    fn run_action(
        &mut self,
        sim: &mut Sim,
        notes: &mut Vec<String>,
        unit: usize,
        name: &str,
    ) -> Result<ActionOutcome> {
        let step = match name {
            "resume-upgrade" => Step::ResumeUpgrade,
            _ => Step::PreUpgradeCheck,
        };
        let fired_before = sim.fired().len();
        loop {
            let outcome = sim.run_action(unit, name)?;
            self.fault_in_last_action = sim.fired().len() > fired_before;
            let (Some(max), Some(why), None, true) =
                (self.max, outcome.failed(), &outcome.failure, self.retry)
            else {
                return Ok(outcome);
            };
            let taken = self.taken.entry(step).or_default();
            if *taken >= max {
                return Ok(outcome);
            }
            sim.settle(budget(sim.config().units))?;
            if let Some(rev) = &self.current {
                if sim.final_problems(rev).is_empty() {
                    return Ok(outcome);
                }
            }
            *taken += 1;
            notes.push(format!("operator: {name} failed ({why}), running it again"));
        }
    }

    /// The next step the statuses name: `(step, "who: status message")`.
    fn next_step(sim: &Sim) -> Option<(Step, String)> {
        sim.shown_statuses()
            .into_iter()
            .find_map(|(who, status, message)| {
                step_named(&message, sim.app()).map(|s| (s, format!("{who}: {status} {message}")))
            })
    }

    /// Acts on what Juju shows until converged, guided or stuck.
    fn operate(&mut self, sim: &mut Sim, notes: &mut Vec<String>) -> Result<Outcome> {
        let max = self.max.unwrap_or(0);
        let units = sim.config().units;
        loop {
            let intended = self
                .current
                .clone()
                .unwrap_or_else(|| self.deployed.clone());
            let problems = sim.final_problems(&intended);
            if problems.is_empty() {
                return Ok(Outcome::Converged);
            }
            let Some((step, shown)) = Self::next_step(sim) else {
                return Ok(Outcome::Stuck { problems });
            };
            let taken = self.taken.entry(step).or_default();
            if *taken >= max {
                return Ok(Outcome::Guided {
                    step,
                    shown,
                    problems,
                });
            }
            *taken += 1;
            notes.push(format!(
                "operator: {} (shown: {shown})",
                step.command(sim.app())
            ));
            sim.set_phase(format!("operator: {}", step.command(sim.app())));
            let leader = sim.leader();
            match step {
                Step::PreUpgradeCheck | Step::ResumeUpgrade => {
                    let name = if step == Step::ResumeUpgrade {
                        "resume-upgrade"
                    } else {
                        "pre-upgrade-check"
                    };
                    let outcome = sim.run_action(leader, name)?;
                    notes.push(format!("  {}", describe(name, &outcome)));
                }
                Step::Trust => {
                    sim.trust();
                    sim.settle(budget(units))?;
                    // The pre-check that said so is run again (the upgrade-charm that said
                    // so is retried by the charm itself).
                    if sim
                        .app_bag()
                        .get("upgrade-stack")
                        .is_none_or(|s| s.is_empty())
                    {
                        let outcome = sim.run_action(leader, "pre-upgrade-check")?;
                        notes.push(format!("  {}", describe("pre-upgrade-check", &outcome)));
                    }
                }
                Step::Refresh | Step::RefreshBack => {
                    let rev = if step == Step::Refresh {
                        self.target.clone()
                    } else {
                        self.previous.clone()
                    }
                    .unwrap_or_else(|| self.deployed.clone());
                    sim.clear_injected_workload_faults()?;
                    sim.refresh(&rev)?;
                    self.intend(&rev);
                    notes.push(format!("  refreshed to revision {}", rev.number));
                }
            }
            let n = sim.settle(budget(units))?;
            notes.push(format!("  settled in {n} hooks"));
        }
    }
}

/// Kubernetes, deployed without `juju trust`: the pre-check must fail with the trust
/// command, the application show it, and nothing be written or patched; then the operator
/// trusts the application (the scenario then runs the pre-check again as usual).
fn untrusted_pre_check(sim: &mut Sim, notes: &mut Vec<String>, leader: usize) -> Result<()> {
    let units = sim.config().units;
    let want = upgrade_coordinator::trust_message(sim.app());
    sim.set_phase("pre-upgrade-check (untrusted)");
    let pre = sim.run_action(leader, "pre-upgrade-check")?;
    if pre.failed().as_deref() != Some(want.as_str()) {
        sim.violations.push(format!(
            "pre-upgrade-check of an untrusted application: {:?}, not {want:?}",
            pre.failed()
        ));
    }
    let shown = sim.shown_app_status();
    if shown != ("blocked".to_owned(), want.clone()) {
        sim.violations.push(format!(
            "an untrusted application shows {shown:?}, not blocked {want:?}"
        ));
    }
    if sim.app_bag().contains_key("upgrade-stack") || !sim.partitions().is_empty() {
        sim.violations.push(format!(
            "an untrusted pre-check wrote a stack or patched the partition ({:?})",
            sim.partitions()
        ));
    }
    notes.push(format!("pre-upgrade-check refused: {want}"));
    sim.set_phase("juju trust");
    sim.trust();
    sim.settle(budget(units))?;
    notes.push(format!("juju trust {} --scope=cluster", sim.app()));
    Ok(())
}

/// The config option of the pause policy.
const PAUSE: &str = upgrade_coordinator::PAUSE_CONFIG;

/// The policy in force for `value` (unset: the substrate's default; invalid: `all`).
fn policy_of(value: Option<&str>, k8s: bool) -> PausePolicy {
    let substrate = if k8s {
        upgrade_coordinator::Substrate::K8s
    } else {
        upgrade_coordinator::Substrate::Vm
    };
    match PausePolicy::from_config(value) {
        Ok(Some(p)) => p,
        Ok(None) => PausePolicy::default_for(substrate),
        Err(_) => PausePolicy::All,
    }
}

/// What the `pause` scenario does at its first pause, besides resuming (issue 14).
#[derive(Debug, Clone, Default)]
pub struct PausePlan {
    /// `juju config <app> pause-after-unit-refresh=<this>` mid-refresh.
    pub then: Option<String>,
    /// Stop the refreshed unit's workload: `resume-upgrade` must refuse, naming it; then it
    /// is resumed with `check-health-of-refreshed-units=false` and the workload restarted.
    pub unhealthy: bool,
}

/// Deploy, `pre-upgrade-check` (its result must name the refresh back and the policy),
/// `juju refresh`, then `resume-upgrade` at every pause until the end: the pauses must be
/// exactly those the policy in force asks for (`--config pause-after-unit-refresh=...`).
pub fn pause(cfg: SimConfig, plan: &PausePlan) -> Result<(Sim, Report)> {
    let units = cfg.units;
    let k8s = cfg.substrate == crate::sim::Substrate::K8s;
    let mut policy = policy_of(cfg.charm_config.get(PAUSE).map(String::as_str), k8s);
    let mut op = Operator::new(&cfg);
    let (old, target) = (cfg.revisions.old.clone(), cfg.revisions.new.clone());
    let mut sim = Sim::new(cfg)?;
    let mut notes = Vec::new();
    sim.deploy(&old)?;
    let n = sim.settle(budget(units))?;
    notes.push(format!(
        "deployed {units} units of revision {} in {n} hooks",
        old.number
    ));
    let leader = sim.leader();
    sim.start_counting()?;
    sim.set_phase("pre-upgrade-check");
    let pre = op.run_action(&mut sim, &mut notes, leader, "pre-upgrade-check")?;
    if let Some(m) = pre.failed() {
        op.unexpected(
            &mut sim,
            &mut notes,
            format!("pre-upgrade-check failed: {m}"),
        );
        let report = finish(&mut sim, notes, "pause", &mut op, End::Stopped)?;
        return Ok((sim, report));
    }
    check_plan_result(&mut sim, &mut notes, &pre, policy, &old);
    sim.arm_faults(&target)?;
    sim.set_phase(format!("refresh to revision {}", target.number));
    sim.refresh(&target)?;
    op.intend(&target);
    let n = sim.settle(budget(units))?;
    notes.push(format!(
        "refreshed to revision {} and settled in {n} hooks",
        target.number
    ));
    let mut pauses = 0;
    for _ in 0..units + 2 {
        if finished(&sim) {
            break;
        }
        let (status, message) = sim.shown_app_status();
        if !message.contains("resume-upgrade") {
            sim.violations.push(format!(
                "the refresh stopped short, and not at a pause: the application shows {status} {message:?}"
            ));
            break;
        }
        pauses += 1;
        let done = sim.upgrade_order().len();
        notes.push(format!("pause {pauses}, after {done} unit(s): {message}"));
        let expected = match policy {
            PausePolicy::None => false,
            PausePolicy::First => pauses == 1,
            PausePolicy::All => true,
        };
        if !expected {
            sim.violations.push(format!(
                "paused after {done} unit(s) under {PAUSE}={}",
                policy.as_str()
            ));
        }
        if message.chars().count() > upgrade_coordinator::MAX_STATUS {
            sim.violations
                .push(format!("a status over 120 characters: {message:?}"));
        }
        let mut health_checked = true;
        if pauses == 1 {
            if let Some(then) = &plan.then {
                sim.set_phase(format!("juju config {PAUSE}={then}"));
                sim.set_config(PAUSE, then);
                sim.settle(budget(units))?;
                notes.push(format!("juju config {PAUSE}={then}"));
                policy = policy_of(Some(then), k8s);
                if !sim.shown_app_status().1.contains("resume-upgrade") {
                    notes.push("the new policy let the upgrade go on by itself".into());
                    continue;
                }
            }
            if plan.unhealthy {
                health_checked = false;
                refuse_then_force_resume(&mut sim, &mut notes, leader)?;
            }
        }
        if health_checked {
            sim.set_phase("resume-upgrade");
            let resume = op.run_action(&mut sim, &mut notes, leader, "resume-upgrade")?;
            match resume.failed() {
                Some(m) => {
                    op.unexpected(&mut sim, &mut notes, format!("resume-upgrade failed: {m}"))
                }
                None => notes.push(describe("resume-upgrade", &resume)),
            }
        }
        sim.settle(budget(units))?;
    }
    // Every pause was checked against the policy as it came; the ones that did not come:
    let missing = match (units, policy) {
        (1, _) => 0,
        (_, PausePolicy::All) => (units - 1).saturating_sub(pauses),
        (_, PausePolicy::First) if plan.then.is_none() => 1usize.saturating_sub(pauses),
        _ => 0,
    };
    if missing > 0 && finished(&sim) {
        sim.violations.push(format!(
            "{missing} pause(s) under {PAUSE}={} did not happen ({pauses} did)",
            policy.as_str()
        ));
    }
    notes.push(format!("{pauses} pause(s)"));
    let report = finish(
        &mut sim,
        notes,
        "pause",
        &mut op,
        End::Finished { once: true },
    )?;
    Ok((sim, report))
}

/// The pre-check's result names the refresh back (to `old`) and the policy in force.
fn check_plan_result(
    sim: &mut Sim,
    notes: &mut Vec<String>,
    pre: &ActionOutcome,
    policy: PausePolicy,
    old: &Revision,
) {
    let back = format!("juju refresh {} --revision {}", sim.app(), old.number);
    if pre.results.get("rollback-command") != Some(&back) {
        sim.violations.push(format!(
            "pre-upgrade-check's result names the refresh back as {:?}, not {back:?}",
            pre.results.get("rollback-command")
        ));
    }
    if pre.results.get(PAUSE).map(String::as_str) != Some(policy.as_str()) {
        sim.violations.push(format!(
            "pre-upgrade-check's result gives the pause policy as {:?}, not {}",
            pre.results.get(PAUSE),
            policy.as_str()
        ));
    }
    notes.push(describe("pre-upgrade-check", pre));
}

/// At a pause: stop the workload of the first refreshed unit; `resume-upgrade` must refuse,
/// naming it; with `check-health-of-refreshed-units=false` it resumes; the workload is then
/// started again (so the end state is healthy).
fn refuse_then_force_resume(sim: &mut Sim, notes: &mut Vec<String>, leader: usize) -> Result<()> {
    let units = sim.config().units;
    let Some(first) = sim.upgrade_order().first().cloned() else {
        sim.violations
            .push("a pause before any unit upgraded".into());
        return Ok(());
    };
    let n: u32 = first
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .context("a unit name")?;
    sim.set_phase(format!("unit {n}'s workload stops"));
    sim.break_workload(n)?;
    sim.settle(budget(units))?;
    let refused = sim.run_action(leader, "resume-upgrade")?;
    match refused.failed() {
        Some(m) if m.starts_with(&format!("Unit {n} is unhealthy")) => {
            notes.push(format!("resume-upgrade refused: {m}"))
        }
        other => sim.violations.push(format!(
            "resume-upgrade with unit {n}'s workload down: {other:?}, not a refusal naming it"
        )),
    }
    let params = serde_json::Map::from_iter([(
        "check-health-of-refreshed-units".to_owned(),
        serde_json::Value::Bool(false),
    )]);
    let forced = sim.run_action_with(leader, "resume-upgrade", params)?;
    match (forced.failed(), forced.results.get("message")) {
        (None, Some(m)) if m.contains("not checked") => notes.push(format!(
            "resume-upgrade check-health-of-refreshed-units=false: {m}"
        )),
        other => sim.violations.push(format!(
            "resume-upgrade check-health-of-refreshed-units=false: {other:?}"
        )),
    }
    sim.heal_workload(n)?;
    Ok(())
}

/// Which check `force` overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForceCase {
    /// The refresh goes to a revision whose versions the old ones do not satisfy; the unit
    /// that refused runs `force-upgrade check-compatibility=false`.
    Incompatible,
    /// The pre-check fails (a unit's workload is down); the leader runs `force-upgrade
    /// run-pre-upgrade-checks=false`.
    PreCheck,
}

/// The operator overrides a check on purpose and the upgrade then runs to its end (resumed
/// at every pause the default policy makes).
pub fn force(cfg: SimConfig, case: ForceCase) -> Result<(Sim, Report)> {
    let units = cfg.units;
    let k8s = cfg.substrate == crate::sim::Substrate::K8s;
    let mut op = Operator::new(&cfg);
    let revisions = cfg.revisions.clone();
    let mut sim = Sim::new(cfg)?;
    let mut notes = Vec::new();
    let old = revisions.old.clone();
    let target = match case {
        ForceCase::Incompatible => revisions.incompatible.clone(),
        ForceCase::PreCheck => revisions.new.clone(),
    };
    sim.deploy(&old)?;
    sim.settle(budget(units))?;
    let leader = sim.leader();
    sim.start_counting()?;
    let params =
        |k: &str| serde_json::Map::from_iter([(k.to_owned(), serde_json::Value::Bool(false))]);
    match case {
        ForceCase::PreCheck => {
            let broken = (units as u32).saturating_sub(1);
            sim.break_workload(broken)?;
            sim.settle(budget(units))?;
            let pre = sim.run_action(leader, "pre-upgrade-check")?;
            match pre.failed() {
                Some(m) => notes.push(format!("pre-upgrade-check failed: {m}")),
                None => sim
                    .violations
                    .push("pre-upgrade-check passed with a workload down".into()),
            }
            sim.set_phase("force-upgrade run-pre-upgrade-checks=false");
            let forced =
                sim.run_action_with(leader, "force-upgrade", params("run-pre-upgrade-checks"))?;
            match forced.failed() {
                None => notes.push(describe(
                    "force-upgrade run-pre-upgrade-checks=false",
                    &forced,
                )),
                Some(m) => sim.violations.push(format!("force-upgrade failed: {m}")),
            }
            sim.heal_workload(broken)?;
            sim.settle(budget(units))?;
            sim.arm_faults(&target)?;
            sim.refresh(&target)?;
            op.intend(&target);
            sim.settle(budget(units))?;
        }
        ForceCase::Incompatible => {
            let pre = op.run_action(&mut sim, &mut notes, leader, "pre-upgrade-check")?;
            if let Some(m) = pre.failed() {
                sim.violations
                    .push(format!("pre-upgrade-check failed: {m}"));
            }
            sim.arm_faults(&target)?;
            sim.refresh(&target)?;
            op.intend(&target);
            sim.settle(budget(units))?;
            let refuser = if k8s { units as u32 - 1 } else { leader as u32 };
            match sim.unit_view(refuser) {
                Some((state, _)) if state == "failed" => {
                    notes.push(format!("unit {refuser} refused the versions"))
                }
                other => sim.violations.push(format!(
                    "unit {refuser} should have refused the versions, not {other:?}"
                )),
            }
            // Run elsewhere first: refused, naming the unit.
            let elsewhere = (0..sim.units_len()).find(|&i| sim.unit_number(i) != Some(refuser));
            if let Some(i) = elsewhere {
                let r = sim.run_action_with(i, "force-upgrade", params("check-compatibility"))?;
                match r.failed() {
                    Some(m) if m.contains(&format!("Must run on unit {refuser}")) => {
                        notes.push(format!("force-upgrade elsewhere: {m}"))
                    }
                    other => sim
                        .violations
                        .push(format!("force-upgrade on the wrong unit: {other:?}")),
                }
            }
            let i = (0..sim.units_len())
                .find(|&i| sim.unit_number(i) == Some(refuser))
                .context("the refusing unit")?;
            sim.set_phase("force-upgrade check-compatibility=false");
            let forced = sim.run_action_with(i, "force-upgrade", params("check-compatibility"))?;
            match forced.failed() {
                None => notes.push(describe("force-upgrade check-compatibility=false", &forced)),
                Some(m) => sim.violations.push(format!("force-upgrade failed: {m}")),
            }
            sim.settle(budget(units))?;
        }
    }
    for _ in 0..units + 2 {
        if finished(&sim) {
            break;
        }
        let (_, message) = sim.shown_app_status();
        if !message.contains("resume-upgrade") {
            break;
        }
        let resume = op.run_action(&mut sim, &mut notes, leader, "resume-upgrade")?;
        notes.push(describe("resume-upgrade", &resume));
        sim.settle(budget(units))?;
    }
    let report = finish(
        &mut sim,
        notes,
        "force",
        &mut op,
        End::Finished { once: true },
    )?;
    Ok((sim, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_reads_the_step_a_status_names() {
        let cases = [
            (
                "Refreshed without pre-upgrade-check: run juju run upgrade-reference/leader pre-upgrade-check",
                Some(Step::PreUpgradeCheck),
            ),
            (
                "Upgrade failed on unit 2: run pre-upgrade-check on the leader, then juju refresh back",
                Some(Step::PreUpgradeCheck),
            ),
            (
                "Ready to roll back: juju refresh upgrade-reference to the previous revision",
                Some(Step::RefreshBack),
            ),
            ("Ready to upgrade: juju refresh upgrade-reference", Some(Step::Refresh)),
            (
                "Upgrading: 1/3 units done; when they are healthy: juju run upgrade-reference/leader resume-upgrade",
                Some(Step::ResumeUpgrade),
            ),
            (
                "Rolling back: 1/3 units done; when they are healthy: juju run upgrade-reference/leader resume-upgrade",
                Some(Step::ResumeUpgrade),
            ),
            ("Upgrading: 2/5 units done, unit 3 next", None),
            (
                "Upgrading: 2/5 units done, unit 3 next; roll back: juju refresh upgrade-reference --revision 1",
                None,
            ),
            (
                "Versions incompatible: workload 1.0.0 does not satisfy >=2.0; roll back: juju refresh upgrade-reference --revision 1",
                Some(Step::RefreshBack),
            ),
            (
                "Upgrade failed on unit 2: juju run upgrade-reference/leader pre-upgrade-check, then juju refresh upgrade-reference --revision 1",
                Some(Step::PreUpgradeCheck),
            ),
            (
                "Run juju trust upgrade-reference --scope=cluster. Needed for in-place upgrades",
                Some(Step::Trust),
            ),
            ("other units upgrading first...", None),
            ("", None),
        ];
        for (message, want) in cases {
            assert_eq!(step_named(message, crate::sim::APP), want, "{message}");
        }
    }
}
