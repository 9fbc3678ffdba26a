//! The crash-point sweep: every way one unit's dispatch can die or one hook tool can fail,
//! each in a run of its own, with the operator model on; a table of how the runs ended.
//!
//! For each scenario (upgrade, rollback), substrate and event order, a baseline run (no
//! fault but the rollback's failing unit) records every dispatch each unit makes from the
//! first `pre-upgrade-check` on and the hook tools it calls. Then one run per crash point: the unit's `d`-th dispatch killed at its `k`-th tool call, for every `d` and
//! every `k` that dispatch makes (`kill-mid-hook:U:K:D`), and one per tool the unit calls,
//! whose first call fails (`tool-fails-once:U:TOOL`). The same seed replays the same order,
//! so each faulted run is the baseline up to its fault.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::scenario::{rollback, upgrade, Outcome};
use crate::sim::{ArmedDispatch, Fault, Report, Schedule, SimConfig, Substrate};

/// Which scenario a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// `juju-sim upgrade`.
    Upgrade,
    /// `juju-sim rollback`.
    Rollback,
}

impl Scenario {
    /// The subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Upgrade => "upgrade",
            Scenario::Rollback => "rollback",
        }
    }

    fn run(self, cfg: SimConfig) -> Result<Report> {
        Ok(match self {
            Scenario::Upgrade => upgrade(cfg)?.1,
            Scenario::Rollback => rollback(cfg)?.1,
        })
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Units per run.
    pub units: usize,
    /// Scenarios.
    pub scenarios: Vec<Scenario>,
    /// Substrates.
    pub substrates: Vec<Substrate>,
    /// `None`: one FIFO order; `Some(n)`: random orders from seeds 1..=n.
    pub seeds: Option<u64>,
    /// The operator model's bound (see `SimConfig::operator`).
    pub operator: usize,
    /// The operator re-runs an action whose dispatch died (`SimConfig::retry_actions`).
    pub retry_actions: bool,
    /// Runs at once.
    pub jobs: usize,
    /// The charm's dispatch.
    pub dispatch: PathBuf,
    /// The deployed charm's dispatch, when another (`--to-charm`).
    pub deploy_dispatch: Option<PathBuf>,
    /// The charm's other files (`--charm`).
    pub charm_files: crate::sim::CharmFiles,
    /// The revisions.
    pub revisions: crate::sim::Revisions,
    /// What reproduces the charm in a printed command (`--charm DIR`), or nothing.
    pub charm_args: String,
    /// The fake hook tools (juju-sim itself).
    pub tool: PathBuf,
    /// Print a line per finished run on stderr.
    pub progress: bool,
}

/// How one run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Idle, Active, on the intended revision.
    Converged,
    /// A status names the next step (taken the most times already).
    Guided,
    /// Nothing names a next step.
    Stuck,
    /// An invariant broke, or the model did not settle.
    Violation,
}

impl Verdict {
    /// Column name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Converged => "converged",
            Verdict::Guided => "guided",
            Verdict::Stuck => "stuck",
            Verdict::Violation => "violation",
        }
    }

    /// Does this run fail the sweep?
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Stuck | Verdict::Violation)
    }
}

/// One faulted run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Scenario.
    pub scenario: Scenario,
    /// Substrate.
    pub substrate: Substrate,
    /// Seed (random order) or `None` (FIFO).
    pub seed: Option<u64>,
    /// The fault injected.
    pub fault: String,
    /// How it ended.
    pub verdict: Verdict,
    /// Did the fault fire?
    pub fired: bool,
    /// What went wrong (violations, stuck or guided problems, or the error).
    pub detail: Vec<String>,
    /// The command that reproduces it.
    pub command: String,
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// Every run.
    pub runs: Vec<RunResult>,
    /// Baselines that did not converge (each makes the sweep fail).
    pub baseline_failures: Vec<String>,
    /// Wall time.
    pub seconds: f64,
}

impl SweepReport {
    /// Runs that fail the sweep (stuck or violation).
    pub fn failures(&self) -> impl Iterator<Item = &RunResult> {
        self.runs.iter().filter(|r| r.verdict.fails())
    }

    /// True when every run converged or was guided, and every baseline converged.
    pub fn passed(&self) -> bool {
        self.baseline_failures.is_empty() && self.failures().next().is_none()
    }

    /// Counts per (scenario, substrate, fault kind) and verdict.
    pub fn table(&self) -> BTreeMap<(Scenario, &'static str, &'static str), [usize; 5]> {
        let mut t: BTreeMap<_, [usize; 5]> = BTreeMap::new();
        for r in &self.runs {
            let kind = if r.fault.starts_with("kill-mid-hook") {
                "kill-mid-hook"
            } else {
                "tool-fails-once"
            };
            let sub = match r.substrate {
                Substrate::Vm => "machines",
                Substrate::K8s => "kubernetes",
            };
            let row = t.entry((r.scenario, sub, kind)).or_default();
            row[r.verdict as usize] += 1;
            if !r.fired {
                row[4] += 1;
            }
        }
        t
    }
}

fn base_config(cfg: &SweepConfig, substrate: Substrate, seed: Option<u64>) -> SimConfig {
    SimConfig {
        units: cfg.units,
        substrate,
        seed: seed.unwrap_or(1),
        schedule: if seed.is_some() {
            Schedule::Random
        } else {
            Schedule::Fifo
        },
        dispatch: cfg.dispatch.clone(),
        tool: cfg.tool.clone(),
        faults: Vec::new(),
        verbose: false,
        live: false,
        operator: Some(cfg.operator),
        retry_actions: cfg.retry_actions,
        charm_config: Default::default(),
        deploy_dispatch: cfg.deploy_dispatch.clone(),
        charm_files: cfg.charm_files.clone(),
        revisions: cfg.revisions.clone(),
    }
}

/// The crash points of a baseline: every call of every counted dispatch, every tool each
/// unit calls (a tool first called before the refresh fails at its first call after it).
pub fn crash_points(log: &[ArmedDispatch]) -> Vec<Fault> {
    let mut out = Vec::new();
    for d in log {
        for k in 1..=d.calls {
            out.push(Fault::KillMidHook {
                unit: d.unit,
                after: k,
                hook: Some(d.index),
            });
        }
    }
    let mut tools: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for d in log {
        let seen = tools.entry(d.unit).or_default();
        for t in &d.tools {
            if !seen.contains(t) {
                seen.push(t.clone());
            }
        }
    }
    for (unit, list) in tools {
        for tool in list {
            out.push(Fault::ToolFailsOnce { unit, tool });
        }
    }
    out
}

fn command(cfg: &SweepConfig, scenario: Scenario, sim: &SimConfig) -> String {
    let mut c = format!(
        "juju-sim {} --units {} --substrate {} --operator {}",
        scenario.name(),
        cfg.units,
        match sim.substrate {
            Substrate::Vm => "vm",
            Substrate::K8s => "k8s",
        },
        cfg.operator
    );
    if !cfg.retry_actions {
        c.push_str(" --no-retry");
    }
    c.push_str(&cfg.charm_args);
    match sim.schedule {
        Schedule::Fifo => c.push_str(" --schedule fifo"),
        _ => c.push_str(&format!(" --seed {}", sim.seed)),
    }
    for f in &sim.faults {
        c.push_str(&format!(" --fault {f}"));
    }
    c
}

fn judge(report: &Result<Report>) -> (Verdict, bool, Vec<String>) {
    match report {
        Err(e) => (Verdict::Violation, true, vec![format!("{e:#}")]),
        Ok(r) => {
            let fired = !r.faults_fired.is_empty();
            if !r.violations.is_empty() {
                return (Verdict::Violation, fired, r.violations.clone());
            }
            match &r.outcome {
                Some(Outcome::Converged) | None => (Verdict::Converged, fired, Vec::new()),
                Some(Outcome::Guided {
                    shown, problems, ..
                }) => {
                    let mut d = vec![format!("guided by {shown}")];
                    d.extend(problems.iter().cloned());
                    (Verdict::Guided, fired, d)
                }
                Some(Outcome::Stuck { problems }) => (Verdict::Stuck, fired, problems.clone()),
            }
        }
    }
}

/// Runs the sweep.
pub fn sweep(cfg: &SweepConfig) -> Result<SweepReport> {
    let started = Instant::now();
    let mut jobs: Vec<(Scenario, SimConfig)> = Vec::new();
    let mut baseline_failures = Vec::new();
    let seeds: Vec<Option<u64>> = match cfg.seeds {
        None => vec![None],
        Some(n) => (1..=n).map(Some).collect(),
    };
    for &scenario in &cfg.scenarios {
        for &substrate in &cfg.substrates {
            for &seed in &seeds {
                let base = base_config(cfg, substrate, seed);
                let (sim, report) = match scenario {
                    Scenario::Upgrade => upgrade(base.clone())?,
                    Scenario::Rollback => rollback(base.clone())?,
                };
                let (verdict, _, detail) = judge(&Ok(report));
                if verdict != Verdict::Converged {
                    baseline_failures.push(format!(
                        "{} ({}): {}",
                        command(cfg, scenario, &base),
                        verdict.name(),
                        detail.join("; ")
                    ));
                }
                for fault in crash_points(sim.armed_log()) {
                    let mut run = base.clone();
                    run.faults.push(fault);
                    jobs.push((scenario, run));
                }
            }
        }
    }
    let total = jobs.len();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, RunResult)>> = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((scenario, run)) = jobs.get(i) else {
                    break;
                };
                let report = scenario.run(run.clone());
                let (verdict, fired, detail) = judge(&report);
                let result = RunResult {
                    scenario: *scenario,
                    substrate: run.substrate,
                    seed: (run.schedule == Schedule::Random).then_some(run.seed),
                    fault: run.faults.last().map(|f| f.to_string()).unwrap_or_default(),
                    verdict,
                    fired,
                    detail,
                    command: command(cfg, *scenario, run),
                };
                if cfg.progress {
                    eprintln!("[{}/{total}] {} {}", i + 1, verdict.name(), result.command);
                }
                if let Ok(mut r) = results.lock() {
                    r.push((i, result));
                }
            });
        }
    });
    let mut runs = results.into_inner().unwrap_or_default();
    runs.sort_by_key(|(i, _)| *i);
    Ok(SweepReport {
        runs: runs.into_iter().map(|(_, r)| r).collect(),
        baseline_failures,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_of_every_dispatch_and_every_tool_per_unit_is_a_crash_point() {
        let d = |unit, index, tools: &[&str]| ArmedDispatch {
            unit,
            index,
            event: "upgrade-charm".into(),
            calls: tools.len(),
            tools: tools.iter().map(|t| t.to_string()).collect(),
        };
        let log = [
            d(0, 1, &["is-leader", "relation-get"]),
            d(1, 1, &["relation-get"]),
            d(0, 2, &["relation-get", "relation-set", "status-set"]),
        ];
        let points: Vec<String> = crash_points(&log).iter().map(|f| f.to_string()).collect();
        assert_eq!(
            points,
            [
                "kill-mid-hook:0:1:1",
                "kill-mid-hook:0:2:1",
                "kill-mid-hook:1:1:1",
                "kill-mid-hook:0:1:2",
                "kill-mid-hook:0:2:2",
                "kill-mid-hook:0:3:2",
                "tool-fails-once:0:is-leader",
                "tool-fails-once:0:relation-get",
                "tool-fails-once:0:relation-set",
                "tool-fails-once:0:status-set",
                "tool-fails-once:1:relation-get",
            ]
        );
        // Each prints as the --fault syntax it parses from.
        for p in &points {
            assert_eq!(p.parse::<Fault>().unwrap().to_string(), *p);
        }
    }

    #[test]
    fn faults_parse_strictly() {
        for bad in [
            "kill-mid-hook:0",
            "kill-mid-hook:0:0",
            "kill-mid-hook:0:3:0",
            "kill-mid-hook:0:3:1:9",
            "tool-fails-once:1",
            "fail-upgrade:x",
            "no-pre-check:1",
            "add-unit:mid-upgrade",
            "explode",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
        for good in [
            "kill-mid-hook:0:3",
            "add-unit:mid-rollback:4",
            "remove-unit:2:after-pre-check",
            "incompatible",
        ] {
            assert_eq!(good.parse::<Fault>().unwrap().to_string(), good);
        }
    }
}
