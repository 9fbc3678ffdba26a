//! `juju-sim`: run a whole rolling upgrade of the reference charm on this machine.
//!
//! Also the fake hook tools: called as `relation-get`, `status-set`, ... it acts as that tool.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use juju_sim::sim::{Fault, Phase, Report, Schedule, SimConfig, Substrate};

#[derive(Parser)]
#[command(
    name = "juju-sim",
    about = "A local Juju model: deploy, pre-upgrade-check, refresh and the rolling upgrade of the reference charm, through its real dispatch binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Deploy, run pre-upgrade-check on the leader, refresh, and run the upgrade to the end.
    Upgrade(RunArgs),
    /// A failed upgrade (unit N-1 by default, or --fault) and the operator's rollback.
    Rollback(RunArgs),
    /// Explore event orders in-process (the coordinator itself, no processes): every
    /// interleaving up to 4 units, random schedules above.
    Explore(ExploreArgs),
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
    /// kill-mid-hook:UNIT:CALLS, incompatible, no-pre-check,
    /// add-unit:PHASE, remove-unit:UNIT:PHASE (PHASE: after-pre-check, mid-upgrade:HOOKS,
    /// mid-rollback:HOOKS).
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
}

fn phase(parts: &[&str]) -> Result<Phase> {
    match parts {
        ["after-pre-check"] => Ok(Phase::AfterPreCheck),
        ["mid-upgrade", k] => Ok(Phase::MidUpgrade(k.parse().context("mid-upgrade:HOOKS")?)),
        ["mid-rollback", k] => Ok(Phase::MidRollback(k.parse().context("mid-rollback:HOOKS")?)),
        other => bail!(
            "unknown phase {other:?}: after-pre-check, mid-upgrade:HOOKS or mid-rollback:HOOKS"
        ),
    }
}

fn parse_fault(s: &str) -> Result<Fault> {
    let parts: Vec<&str> = s.split(':').collect();
    let unit = |i: usize| -> Result<u32> {
        parts
            .get(i)
            .context("missing unit number")?
            .parse()
            .context("unit number")
    };
    Ok(match parts[0] {
        "fail-upgrade" => Fault::FailUpgrade(unit(1)?),
        "unhealthy" => Fault::UnhealthyAtPreCheck(unit(1)?),
        "tool-fails-once" => Fault::ToolFailsOnce {
            unit: unit(1)?,
            tool: parts.get(2).context("missing tool name")?.to_string(),
        },
        "kill-mid-hook" => Fault::KillMidHook {
            unit: unit(1)?,
            after: parts.get(2).context("missing call count")?.parse()?,
        },
        "incompatible" => Fault::IncompatibleRefresh,
        "no-pre-check" => Fault::NoPreCheck,
        "add-unit" => Fault::AddUnit(phase(&parts[1..])?),
        "remove-unit" => Fault::RemoveUnit(unit(1)?, phase(&parts[2..])?),
        other => bail!("unknown fault {other:?}"),
    })
}

fn config(a: &RunArgs) -> Result<SimConfig> {
    let me = std::env::current_exe()?;
    let dispatch = match (&a.dispatch, std::env::var_os("JUJU_SIM_DISPATCH")) {
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
        dispatch: std::fs::canonicalize(dispatch)?,
        tool: me,
        faults: a
            .faults
            .iter()
            .map(|f| parse_fault(f))
            .collect::<Result<_>>()?,
        verbose: a.verbose,
        live: !a.verbose && !a.quiet && !a.json && std::io::stderr().is_terminal(),
    })
}

fn print_report(r: &Report) {
    println!(
        "\n{} of {} units on {:?}, seed {}: {} hooks, {} hook-tool calls, {:.1} s",
        r.scenario,
        r.units.len(),
        r.substrate,
        r.seed,
        r.hooks,
        r.tool_calls,
        r.seconds
    );
    for n in &r.notes {
        println!("  - {n}");
    }
    println!(
        "  - application status: {}",
        if r.app_status.is_empty() {
            "-"
        } else {
            &r.app_status
        }
    );
    println!(
        "\n  {:<22} {:>6} {:>8} {:>6} {:>10} {:>6}  {:<10} {:<8} status",
        "unit", "leader", "upgraded", "hooks", "tool calls", "errors", "state", "workload"
    );
    for u in &r.units {
        println!(
            "  {:<22} {:>6} {:>8} {:>6} {:>10} {:>6}  {:<10} {:<8} {}",
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
            u.status
        );
    }
    if !r.order.is_empty() {
        println!("\n  upgrade order: {}", r.order.join(" -> "));
    }
    if r.violations.is_empty() {
        println!("\n  invariants: all held");
    } else {
        println!("\n  INVARIANTS BROKEN (seed {}):", r.seed);
        for v in &r.violations {
            println!("    {v}");
        }
        println!(
            "\n  the hooks that led there (replay with --seed {}):",
            r.seed
        );
        for t in &r.trace {
            println!("    {t}");
        }
    }
}

fn explore(a: &ExploreArgs) -> Result<bool> {
    use juju_sim::explore::{exhaustive, random, Explore};
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
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        let how = if f.runs == 0 {
            "every interleaving".to_owned()
        } else {
            format!("{} random schedules from seed {}", f.runs, a.seed)
        };
        println!(
            "explored {how} of {} units in {:.1} s: {} states, {} distinct ends, {} hooks",
            a.units,
            started.elapsed().as_secs_f64(),
            f.states,
            f.end_states,
            f.hooks
        );
        if f.violations.is_empty() {
            println!("invariants: all held");
        } else {
            println!("INVARIANTS BROKEN:");
            for v in &f.violations {
                println!("  {v}");
            }
        }
    }
    Ok(f.violations.is_empty())
}

fn run(cmd: Cmd) -> Result<bool> {
    let (args, result) = match &cmd {
        Cmd::Upgrade(a) => (a, juju_sim::scenario::upgrade(config(a)?)),
        Cmd::Rollback(a) => (a, juju_sim::scenario::rollback(config(a)?)),
        Cmd::Explore(a) => return explore(a),
    };
    let (mut sim, report) = result?;
    sim.draw(true);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report.violations.is_empty())
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
    match run(Cli::parse().command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("juju-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}
