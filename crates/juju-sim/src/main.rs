//! `juju-sim`: run a whole rolling upgrade of a charm (the reference charm by default) on
//! this machine.
//!
//! Also the fake hook tools: called as `relation-get`, `status-set`, ... it acts as that tool.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

/// `println!` that returns the write error (a closed pipe: `juju-sim upgrade | head -3`)
/// instead of panicking; `main` ends quietly on a broken pipe.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}
use clap::{Args, Parser, Subcommand};
use juju_sim::sim::{Fault, Report, Schedule, SimConfig, Substrate};

#[derive(Parser)]
#[command(
    name = "juju-sim",
    version,
    about = "A local Juju model: deploy, pre-upgrade-check, refresh and the rolling upgrade of a charm (the reference charm, or any with --charm), through its real dispatch binary",
    after_help = "Exit status: 0 when every invariant held, 1 when one broke or a run is stuck, 2 for a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Deploy, run pre-upgrade-check on the leader, refresh, and run the upgrade to the end.
    #[command(after_help = UPGRADE_HELP)]
    Upgrade(RunArgs),
    /// A failed upgrade (unit N-1 by default, or --fault) and the operator's rollback.
    #[command(after_help = ROLLBACK_HELP)]
    Rollback(RunArgs),
    /// Explore event orders in-process (the coordinator itself, no processes): every
    /// interleaving up to 4 units, random schedules above.
    #[command(after_help = EXPLORE_HELP)]
    Explore(ExploreArgs),
    /// The crash-point sweep: one run per way one unit's dispatch can be killed (every tool
    /// call of every hook and action it runs from the first pre-upgrade-check on) or one hook
    /// tool can fail once (from the refresh on), for upgrade and rollback, with the operator
    /// model on; prints a table of how the runs ended and the command reproducing each stuck
    /// run or violation.
    #[command(after_help = SWEEP_HELP)]
    Sweep(SweepArgs),
    /// An upgrade under a pause policy (--config pause-after-unit-refresh=all|first|none):
    /// resume-upgrade at every pause, and exactly the pauses the policy asks for.
    #[command(after_help = PAUSE_HELP)]
    Pause(PauseArgs),
    /// The operator overrides a check with force-upgrade, and the upgrade runs to its end.
    #[command(after_help = FORCE_HELP)]
    Force(ForceArgs),
}

#[derive(Args, Clone)]
struct PauseArgs {
    #[command(flatten)]
    run: RunArgs,
    /// At the first pause, change the policy to this value (juju config mid-refresh).
    #[arg(long, value_name = "POLICY")]
    then: Option<String>,
    /// At the first pause, stop the refreshed unit's workload: resume-upgrade must refuse,
    /// then resume with check-health-of-refreshed-units=false.
    #[arg(long)]
    unhealthy: bool,
}

#[derive(Args, Clone)]
struct ForceArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Which check to override: the versions check of an incompatible refresh, or a failing
    /// pre-upgrade-check.
    #[arg(long, value_parser = ["incompatible", "pre-check"], default_value = "incompatible")]
    past: String,
}

const PAUSE_HELP: &str = "\
Examples:
  juju-sim pause --config pause-after-unit-refresh=all       a resume after every unit
  juju-sim pause --substrate k8s --config pause-after-unit-refresh=none
  juju-sim pause --config pause-after-unit-refresh=first --then all
  juju-sim pause --substrate k8s --unhealthy                 the health gate, then forced past

Exit status: 0 when every invariant held, 1 when one broke, 2 for a usage error.";

const FORCE_HELP: &str = "\
Examples:
  juju-sim force --past incompatible                the unit that refused runs force-upgrade
  juju-sim force --past pre-check --substrate k8s   the leader forces past a failing pre-check

Exit status: 0 when every invariant held, 1 when one broke, 2 for a usage error.";

const UPGRADE_HELP: &str = "\
Examples:
  juju-sim upgrade                                  5 units on machines, random order (seed 1)
  juju-sim upgrade --units 10 --seed 42 --quiet     another size and order, the report only
  juju-sim upgrade --substrate k8s                  the partition, resume-upgrade, pods recreated
  juju-sim upgrade --fault fail-upgrade:2           unit 2 fails its workload upgrade
  juju-sim upgrade --fault no-pre-check --operator  the operator follows what the statuses say
  juju-sim upgrade --schedule fifo --json           a deterministic order, the JSON report
  juju-sim upgrade --charm examples/kv-charm --to-versions examples/kv-charm/revisions/versions-1.1.0.json
                                                    another charm (a directory or a packed .charm)

Exit status: 0 when every invariant held (and, with --operator, the run is not stuck), 1 \
when one broke or the run is stuck (the report says which, with the seed), 2 for a usage \
error.";

const ROLLBACK_HELP: &str = "\
Examples:
  juju-sim rollback                                 unit 4 of 5 fails, then the rollback
  juju-sim rollback --fault fail-upgrade:0          the leader fails (DEVIATIONS.md D14)
  juju-sim rollback --substrate k8s --units 4       the rollback through the partition
  juju-sim rollback --units 3 --schedule fifo --fault kill-mid-hook:0:8:6
                                                    the recovery pre-check killed (D19)

Exit status: 0 when every invariant held (and, with --operator, the run is not stuck), 1 \
when one broke or the run is stuck, 2 for a usage error.";

const EXPLORE_HELP: &str = "\
Examples:
  juju-sim explore --units 3                        every interleaving of a 3-unit upgrade
  juju-sim explore --units 4 --rollback-after-failure 0
  juju-sim explore --units 6 --runs 5000 --seed 9   random schedules

Exit status: 0 when every invariant held, 1 when one broke, 2 for a usage error.";

const SWEEP_HELP: &str = "\
How a run ends (the operator model: the operator goes on with the scenario when an action \
fails (with --retry-actions it runs it again first), then does what the statuses say, each \
step at most --operator times):
  converged  every unit idle, Active, on the intended revision and showing its version
  guided     not converged, but a status names the next step (taken the most times already)
  stuck      not converged and nothing names a next step
  violation  an invariant broke, or the model did not settle

Examples:
  juju-sim sweep                                  machines and Kubernetes, 3 units, one FIFO order
  juju-sim sweep --substrate vm --scenario rollback
  juju-sim sweep --units 5 --seeds 10             random orders from seeds 1..=10 (long)

Exit status: 0 when no run is stuck or broke an invariant, 1 otherwise, 2 for a usage error.";

#[derive(Args, Clone)]
struct SweepArgs {
    /// Units per run.
    #[arg(long, default_value_t = 3)]
    units: usize,
    /// Substrates to sweep (default: both).
    #[arg(long, value_parser = ["vm", "k8s"])]
    substrate: Vec<String>,
    /// Scenarios to sweep (default: both).
    #[arg(long, value_parser = ["upgrade", "rollback"])]
    scenario: Vec<String>,
    /// Random event orders from seeds 1..=N instead of one FIFO order.
    #[arg(long, value_name = "N")]
    seeds: Option<u64>,
    /// The operator model's bound: each step at most this many times.
    #[arg(long, default_value_t = 3)]
    operator: usize,
    /// The operator runs an action whose dispatch died again (by default it does not: it
    /// goes on with the scenario and follows the statuses, so the charm itself must
    /// recover or name the way on).
    #[arg(long)]
    retry_actions: bool,
    /// Runs at once (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print a line per run as it finishes.
    #[arg(long, short)]
    verbose: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The charm's dispatch binary (default: `dispatch` beside this program).
    #[arg(long)]
    dispatch: Option<PathBuf>,
    #[command(flatten)]
    charm: CharmArgs,
}

#[derive(Args, Clone)]
struct ExploreArgs {
    /// Number of units.
    #[arg(long, default_value_t = 3)]
    units: usize,
    /// Random schedules to run when not exhaustive.
    #[arg(long, default_value_t = 1000)]
    runs: usize,
    /// Seed of the random schedules.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random schedules even for small clusters.
    #[arg(long)]
    random: bool,
    /// Produce the reference's exact DEBUG lines (no shortcut).
    #[arg(long)]
    exact_logs: bool,
    /// Explore the rollback after this unit failed its upgrade (exhaustive only).
    #[arg(long, value_name = "UNIT")]
    rollback_after_failure: Option<usize>,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Number of units.
    #[arg(long, default_value_t = 5)]
    units: usize,
    /// Machines or Kubernetes.
    #[arg(long, default_value = "vm", value_parser = ["vm", "k8s"])]
    substrate: String,
    /// Seed of the random scheduler (the same seed replays the same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// random, fifo, or script:U,U,... (unit numbers in turn, then fifo).
    #[arg(long, default_value = "random")]
    schedule: String,
    /// Faults: fail-upgrade:UNIT, unhealthy:UNIT, tool-fails-once:UNIT:TOOL,
    /// kill-mid-hook:UNIT:CALL[:DISPATCH], incompatible, no-pre-check, untrusted,
    /// add-unit:PHASE, remove-unit:UNIT:PHASE (PHASE: after-pre-check, mid-upgrade:HOOKS,
    /// mid-rollback:HOOKS). tool-fails-once: the unit's first call of TOOL from the refresh
    /// on fails. kill-mid-hook: the unit's dispatch is killed at its CALL-th hook-tool call,
    /// in its DISPATCH-th hook or action counted from the first pre-upgrade-check, or,
    /// without DISPATCH, in the first one from the refresh on that makes CALL calls.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Print a line per hook as it runs (instead of the live table shown on a terminal).
    #[arg(long, short)]
    verbose: bool,
    /// Print only the report.
    #[arg(long, short, conflicts_with = "verbose")]
    quiet: bool,
    /// The charm's dispatch binary (default: `dispatch` beside this program).
    #[arg(long)]
    dispatch: Option<PathBuf>,
    /// The operator model: when an action fails the operator runs it again, and at the end
    /// does what the application's and units' statuses say (`juju run <app>/leader
    /// pre-upgrade-check`, `resume-upgrade`, `juju refresh ...`), each step at most N times;
    /// the report then says whether the run converged, was guided or is stuck.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "3")]
    operator: Option<usize>,
    /// With --operator: do not run a failed action again; go on with the scenario and
    /// then follow the statuses only.
    #[arg(long, requires = "operator")]
    no_retry: bool,
    /// The application's config at deploy, KEY=VALUE, repeatable (e.g.
    /// --config pause-after-unit-refresh=all).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    charm_config: Vec<String>,
    /// Deploy this charm's dispatch instead (e.g. the Python reference's, see
    /// scripts/mixed-fleet.sh); every refresh installs --dispatch (ours by default).
    #[arg(long, value_name = "PATH", conflicts_with = "charm")]
    deploy_dispatch: Option<PathBuf>,
    #[command(flatten)]
    charm: CharmArgs,
}

/// Which charm the model runs, and its revisions (the contract a charm follows is in the
/// crate documentation: `cargo doc -p juju-sim --open`, or crates/juju-sim/src/lib.rs).
#[derive(Args, Clone, Default)]
struct CharmArgs {
    /// The charm every unit runs: a charm directory (its `dispatch` and other files) or a
    /// packed .charm (default: the reference charm, `dispatch` beside this program).
    #[arg(long, value_name = "DIR|FILE.charm", conflicts_with = "dispatch")]
    charm: Option<PathBuf>,
    /// The charm a refresh installs (default: --charm's).
    #[arg(long, value_name = "DIR|FILE.charm", requires = "charm")]
    to_charm: Option<PathBuf>,
    /// The deployed revision's versions file (default: the simulator's own, workload 1.0.0).
    #[arg(long, value_name = "FILE")]
    versions: Option<PathBuf>,
    /// The versions file of the revision refreshed to (default: --to-charm's versions.json,
    /// or the simulator's own, workload 1.1.0).
    #[arg(long, value_name = "FILE")]
    to_versions: Option<PathBuf>,
}

/// What [`CharmArgs`] resolve to.
struct CharmSetup {
    dispatch: PathBuf,
    deploy_dispatch: Option<PathBuf>,
    files: juju_sim::sim::CharmFiles,
    revisions: juju_sim::sim::Revisions,
}

/// A charm directory, or a packed `.charm` unpacked into a directory that lives as long as
/// this process.
fn charm_dir(path: &std::path::Path) -> Result<PathBuf> {
    let source = juju_sim::charm::CharmSource::open(path).context("--charm")?;
    let dir = source.dir().to_owned();
    UNPACKED.with(|u| u.borrow_mut().push(source));
    Ok(dir)
}

thread_local! {
    /// Unpacked charms, removed when the process ends (see `main`).
    static UNPACKED: std::cell::RefCell<Vec<juju_sim::charm::CharmSource>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The charm flags, as a command line repeats them.
fn charm_args(c: &CharmArgs) -> String {
    let mut s = String::new();
    for (flag, v) in [
        ("--charm", &c.charm),
        ("--to-charm", &c.to_charm),
        ("--versions", &c.versions),
        ("--to-versions", &c.to_versions),
    ] {
        if let Some(p) = v {
            s.push_str(&format!(" {flag} {}", p.display()));
        }
    }
    s
}

fn revision(number: u32, file: &std::path::Path) -> Result<juju_sim::sim::Revision> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    juju_sim::sim::Revision::from_versions(number, &text)
        .with_context(|| format!("{}", file.display()))
}

fn charm_setup(c: &CharmArgs, dispatch: &Option<PathBuf>) -> Result<CharmSetup> {
    let mut revisions = juju_sim::sim::Revisions::default();
    let deployed = c.charm.as_deref().map(charm_dir).transpose()?;
    let target = c.to_charm.as_deref().map(charm_dir).transpose()?;
    if let Some(f) = &c.versions {
        revisions.old = revision(1, f)?;
    }
    match (&c.to_versions, &target) {
        (Some(f), _) => revisions.new = revision(2, f)?,
        (None, Some(dir)) if dir.join("versions.json").exists() => {
            revisions.new = revision(2, &dir.join("versions.json"))?
        }
        _ => {}
    }
    let program = |dir: &PathBuf| juju_sim::charm::dispatch(dir);
    Ok(match (&deployed, &target) {
        (None, _) => CharmSetup {
            dispatch: dispatch_path(dispatch)?,
            deploy_dispatch: None,
            files: Default::default(),
            revisions,
        },
        (Some(d), t) => CharmSetup {
            dispatch: program(t.as_ref().unwrap_or(d))?,
            deploy_dispatch: t.as_ref().map(|_| program(d)).transpose()?,
            files: juju_sim::sim::CharmFiles {
                deployed: Some(d.clone()),
                target: t.clone(),
                app: Some(juju_sim::charm::name(d)?),
            },
            revisions,
        },
    })
}

/// `KEY=VALUE` pairs, as `juju deploy --config` takes them.
fn parse_config(pairs: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("--config {p:?}: expected KEY=VALUE"),
        })
        .collect()
}

fn dispatch_path(given: &Option<PathBuf>) -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dispatch = match (given, std::env::var_os("JUJU_SIM_DISPATCH")) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => PathBuf::from(d),
        (None, None) => me.with_file_name("dispatch"),
    };
    if !dispatch.exists() {
        bail!(
            "{} not found: build the charm first (cargo build --workspace --bins) or pass --dispatch",
            dispatch.display()
        );
    }
    Ok(std::fs::canonicalize(dispatch)?)
}

fn config(a: &RunArgs) -> Result<SimConfig> {
    if a.units == 0 {
        bail!("--units must be at least 1: an application has at least one unit");
    }
    let me = std::env::current_exe()?;
    let charm = charm_setup(&a.charm, &a.dispatch)?;
    let dispatch = charm.dispatch;
    let schedule = match a.schedule.as_str() {
        "random" => Schedule::Random,
        "fifo" => Schedule::Fifo,
        s => match s.strip_prefix("script:") {
            Some(list) => Schedule::Script(
                list.split(',')
                    .map(|n| n.trim().parse().context("script: unit numbers"))
                    .collect::<Result<_>>()?,
            ),
            None => bail!("unknown schedule {s:?}: random, fifo or script:U,U,..."),
        },
    };
    Ok(SimConfig {
        units: a.units,
        substrate: if a.substrate == "k8s" {
            Substrate::K8s
        } else {
            Substrate::Vm
        },
        seed: a.seed,
        schedule,
        dispatch,
        tool: me,
        faults: a
            .faults
            .iter()
            .map(|f| f.parse::<Fault>())
            .collect::<Result<_>>()?,
        verbose: a.verbose,
        live: !a.verbose && !a.quiet && !a.json && std::io::stderr().is_terminal(),
        operator: a.operator,
        retry_actions: !a.no_retry,
        charm_config: parse_config(&a.charm_config)?,
        deploy_dispatch: match &a.deploy_dispatch {
            Some(d) => Some(
                std::fs::canonicalize(d)
                    .with_context(|| format!("--deploy-dispatch {}", d.display()))?,
            ),
            None => charm.deploy_dispatch,
        },
        charm_files: charm.files,
        revisions: charm.revisions,
    })
}

/// `1 unit`, `3 units`.
fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn substrate_name(s: Substrate) -> &'static str {
    match s {
        Substrate::Vm => "machines",
        Substrate::K8s => "Kubernetes",
    }
}

/// `name message`, or `-` when there is none.
fn status_words(name: &str, message: &str) -> String {
    match (name, message) {
        ("" | "unknown", "") => "-".into(),
        (n, "") => n.into(),
        (n, m) => format!("{n} {m}"),
    }
}

fn print_report(r: &Report) -> Result<()> {
    outln!(
        "\n{} of {} on {}, seed {}: {}, {}, {:.1} s",
        r.scenario,
        plural(r.units.len(), "unit"),
        substrate_name(r.substrate),
        r.seed,
        plural(r.hooks, "hook"),
        plural(r.tool_calls, "hook-tool call"),
        r.seconds
    );
    for n in &r.notes {
        outln!("  - {n}");
    }
    outln!(
        "  - application status: {}",
        status_words(&r.app_status, &r.app_message)
    );
    outln!(
        "\n  {:<22} {:>6} {:>8} {:>6} {:>10} {:>6}  {:<10} {:<8} {:<8} status",
        "unit",
        "leader",
        "upgraded",
        "hooks",
        "tool calls",
        "errors",
        "state",
        "workload",
        "shown"
    );
    for u in &r.units {
        outln!(
            "  {:<22} {:>6} {:>8} {:>6} {:>10} {:>6}  {:<10} {:<8} {:<8} {}",
            u.unit,
            if u.leader { "*" } else { "" },
            u.upgraded
                .map(|p| format!("#{p}"))
                .unwrap_or_else(|| "-".into()),
            u.hooks,
            u.tool_calls,
            u.errors,
            u.state,
            u.workload,
            if u.version.is_empty() {
                "-"
            } else {
                &u.version
            },
            status_words(&u.status, &u.message)
        );
    }
    if !r.order.is_empty() {
        outln!("\n  upgrade order: {}", r.order.join(" -> "));
    }
    for f in &r.faults_fired {
        outln!("  fault: {f}");
    }
    if let Some(o) = &r.outcome {
        use juju_sim::scenario::Outcome;
        match o {
            Outcome::Converged => outln!("\n  outcome: converged"),
            Outcome::Guided {
                step,
                shown,
                problems,
            } => {
                outln!(
                    "\n  outcome: guided: {shown:?} names {:?}, already taken the most times the operator may",
                    step.command(
                        r.units
                            .first()
                            .and_then(|u| u.unit.split('/').next())
                            .unwrap_or(juju_sim::sim::APP)
                    )
                );
                for p in problems {
                    outln!("    {p}");
                }
            }
            Outcome::Stuck { problems } => {
                outln!("\n  outcome: STUCK: not converged and no status names a next step");
                for p in problems {
                    outln!("    {p}");
                }
            }
        }
    }
    if r.violations.is_empty() {
        outln!("\n  invariants: all held");
    } else {
        outln!("\n  INVARIANTS BROKEN (seed {}):", r.seed);
        for v in &r.violations {
            outln!("    {v}");
        }
        outln!(
            "\n  the hooks that led there (replay with --seed {}):",
            r.seed
        );
        for t in &r.trace {
            outln!("    {t}");
        }
    }
    Ok(())
}

fn explore(a: &ExploreArgs) -> Result<bool> {
    use juju_sim::explore::{exhaustive, random, Explore};
    if a.units == 0 {
        bail!("--units must be at least 1: an application has at least one unit");
    }
    let cfg = Explore {
        units: a.units,
        exact_logs: a.exact_logs,
    };
    let started = std::time::Instant::now();
    let f = if let Some(fail) = a.rollback_after_failure {
        if fail >= a.units {
            bail!("there is no unit {fail} among {} units", a.units);
        }
        juju_sim::explore::exhaustive_from(
            &cfg,
            juju_sim::explore::World::failed_then_rolling_back(a.units, fail, a.exact_logs),
        )
    } else if a.units <= 4 && !a.random {
        exhaustive(&cfg)
    } else {
        random(&cfg, a.seed, a.runs)
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        let how = if f.runs == 0 {
            "every interleaving".to_owned()
        } else {
            format!("{} random schedules from seed {}", f.runs, a.seed)
        };
        let states = if f.states > 0 {
            format!(
                "{}, {}, ",
                plural(f.states, "state"),
                plural(f.end_states, "distinct end")
            )
        } else {
            String::new()
        };
        outln!(
            "explored {how} of {} in {:.1} s: {states}{}",
            plural(a.units, "unit"),
            started.elapsed().as_secs_f64(),
            plural(f.hooks, "hook")
        );
        if f.violations.is_empty() {
            outln!("invariants: all held");
        } else {
            outln!("INVARIANTS BROKEN:");
            for v in &f.violations {
                outln!("  {v}");
            }
        }
    }
    Ok(f.violations.is_empty())
}

fn sweep(a: &SweepArgs) -> Result<bool> {
    use juju_sim::sweep::{Scenario, SweepConfig, Verdict};
    let substrates = if a.substrate.is_empty() {
        vec![Substrate::Vm, Substrate::K8s]
    } else {
        a.substrate
            .iter()
            .map(|s| {
                if s == "k8s" {
                    Substrate::K8s
                } else {
                    Substrate::Vm
                }
            })
            .collect()
    };
    let scenarios = if a.scenario.is_empty() {
        vec![Scenario::Upgrade, Scenario::Rollback]
    } else {
        a.scenario
            .iter()
            .map(|s| {
                if s == "rollback" {
                    Scenario::Rollback
                } else {
                    Scenario::Upgrade
                }
            })
            .collect()
    };
    if a.units == 0 {
        bail!("--units must be at least 1");
    }
    let charm = charm_setup(&a.charm, &a.dispatch)?;
    let cfg = SweepConfig {
        units: a.units,
        scenarios,
        substrates,
        seeds: a.seeds,
        operator: a.operator,
        retry_actions: a.retry_actions,
        jobs: a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        dispatch: charm.dispatch,
        deploy_dispatch: charm.deploy_dispatch,
        charm_files: charm.files,
        revisions: charm.revisions,
        charm_args: charm_args(&a.charm),
        tool: std::env::current_exe()?,
        progress: a.verbose,
    };
    let report = juju_sim::sweep::sweep(&cfg)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(report.passed());
    }
    let order = match a.seeds {
        None => "one FIFO order".to_owned(),
        Some(n) => format!("random orders from seeds 1..={n}"),
    };
    outln!(
        "crash-point sweep: {} units, {order}, operator model (each step at most {} times, {}): {} runs in {:.0} s\n",
        a.units,
        a.operator,
        if a.retry_actions {
            "failed actions run again"
        } else {
            "failed actions not run again"
        },
        report.runs.len(),
        report.seconds
    );
    outln!(
        "  {:<10} {:<11} {:<16} {:>6} {:>9} {:>7} {:>6} {:>10}",
        "scenario",
        "substrate",
        "fault",
        "runs",
        "converged",
        "guided",
        "stuck",
        "violation"
    );
    for ((scenario, sub, kind), row) in report.table() {
        let runs: usize = row[..4].iter().sum();
        outln!(
            "  {:<10} {:<11} {:<16} {:>6} {:>9} {:>7} {:>6} {:>10}{}",
            scenario.name(),
            sub,
            kind,
            runs,
            row[Verdict::Converged as usize],
            row[Verdict::Guided as usize],
            row[Verdict::Stuck as usize],
            row[Verdict::Violation as usize],
            if row[4] > 0 {
                format!("   ({} faults did not fire)", row[4])
            } else {
                String::new()
            }
        );
    }
    for b in &report.baseline_failures {
        outln!("\n  BASELINE (no sweep fault) did not converge: {b}");
    }
    let guided: Vec<_> = report
        .runs
        .iter()
        .filter(|r| r.verdict == Verdict::Guided)
        .collect();
    if !guided.is_empty() {
        outln!("\n  guided runs (a status names the next step):");
        for r in guided.iter().take(20) {
            outln!(
                "    {}\n      {}",
                r.command,
                r.detail.first().cloned().unwrap_or_default()
            );
        }
        if guided.len() > 20 {
            outln!(
                "    ... and {} more (--json lists them all)",
                guided.len() - 20
            );
        }
    }
    let failures: Vec<_> = report.failures().collect();
    if failures.is_empty() {
        outln!("\n  0 stuck, 0 violations");
    } else {
        outln!(
            "\n  FAILED: {} runs stuck or broke an invariant:",
            failures.len()
        );
        for r in &failures {
            outln!("    [{}] {}", r.verdict.name(), r.command);
            for d in r.detail.iter().take(4) {
                outln!("        {d}");
            }
        }
    }
    Ok(report.passed())
}

fn run(cmd: Cmd) -> Result<bool> {
    let (args, result) = match &cmd {
        Cmd::Upgrade(a) => (a, juju_sim::scenario::upgrade(config(a)?)),
        Cmd::Rollback(a) => (a, juju_sim::scenario::rollback(config(a)?)),
        Cmd::Pause(p) => {
            let plan = juju_sim::scenario::PausePlan {
                then: p.then.clone(),
                unhealthy: p.unhealthy,
            };
            (&p.run, juju_sim::scenario::pause(config(&p.run)?, &plan))
        }
        Cmd::Force(f) => {
            let case = if f.past == "pre-check" {
                juju_sim::scenario::ForceCase::PreCheck
            } else {
                juju_sim::scenario::ForceCase::Incompatible
            };
            (&f.run, juju_sim::scenario::force(config(&f.run)?, case))
        }
        Cmd::Explore(a) => return explore(a),
        Cmd::Sweep(a) => return sweep(a),
    };
    let (mut sim, report) = result?;
    sim.draw(true);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report)?;
    }
    let stuck = matches!(
        report.outcome,
        Some(juju_sim::scenario::Outcome::Stuck { .. })
    );
    Ok(report.violations.is_empty() && !stuck)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if juju_sim::tool::TOOLS.contains(&name.as_str()) {
        return ExitCode::from(juju_sim::tool::main(&name, &argv[1..]) as u8);
    }
    // `juju` (a symlink to this program named so, or `juju-sim juju ARGS`): the juju
    // command line over a simulated model that lives between commands.
    if name == "juju" {
        return ExitCode::from(juju_sim::juju::main(&argv[1..]) as u8);
    }
    match argv.get(1).map(String::as_str) {
        Some("juju") => return ExitCode::from(juju_sim::juju::main(&argv[2..]) as u8),
        Some(juju_sim::server::SERVE) => {
            return match argv.get(2..6) {
                Some([dir, model, substrate, cloud]) => {
                    match juju_sim::server::serve(
                        std::path::Path::new(dir),
                        model,
                        substrate,
                        cloud,
                    ) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("juju-sim server: {e:#}");
                            ExitCode::from(1)
                        }
                    }
                }
                _ => ExitCode::from(2),
            }
        }
        _ => {}
    }
    let result = run(Cli::parse().command);
    UNPACKED.with(|u| u.borrow_mut().clear());
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            // The reader went away (`juju-sim upgrade | head -3`): end quietly.
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("juju-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}
