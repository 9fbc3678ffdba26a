//! One dispatch, measured: our charm's dispatch path (`scenario-dispatch`: the real dispatch
//! code with trivial charm hooks) and the Python reference charm (`ops` + the reference
//! library, `scripts/bench_reference_charm.py`, the same trivial hooks), on the same fake hook
//! tools, per event type and cluster size.
//!
//! Own time is CPU time (user + system) of the dispatch process minus the CPU time of every
//! hook-tool process it ran (each fake tool reports its own), so tool cost is excluded on
//! both sides. Peak RSS is the maximum resident set of the dispatch's process tree as
//! `wait4` reports it; the fake tool's own peak is printed beside it (when the tool is the
//! larger, the dispatch's own peak is at most that).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Measure one dispatch of our charm and of the Python reference charm")]
struct Args {
    /// Our dispatch path (the `scenario-dispatch` binary, release build).
    #[arg(long)]
    ours: PathBuf,
    /// The fake hook tool (the `fake-juju-tool` binary).
    #[arg(long)]
    fake_tool: PathBuf,
    /// Python of a venv with ops 2.23.2, pydantic 1 and poetry-core (scripts/reference-venv.sh).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The reference library's source (the seed file).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Measured runs per cell for our side (median reported).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Measured runs per cell for the Python side.
    #[arg(long, default_value_t = 5)]
    python_runs: usize,
    /// Cluster sizes.
    #[arg(long, value_delimiter = ',', default_value = "3,10,100")]
    sizes: Vec<usize>,
}

const TOOLS: &[&str] = &[
    "relation-ids", "relation-list", "relation-get", "relation-set", "is-leader", "goal-state",
    "state-get", "state-set", "state-delete", "config-get", "action-get", "action-set",
    "action-fail", "action-log", "juju-log", "status-set", "status-get", "application-version-set",
    "leader-get", "leader-set", "network-get", "resource-get", "opened-ports", "storage-get",
    "storage-list", "secret-get", "credential-get", "juju-reboot", "pod-spec-set",
];

const DEPS: &str = r#"{"gandalf_the_white": {"dependencies": {"gandalf_the_grey": ">5"}, "name": "gandalf", "upgrade_supported": ">1.2", "version": "7"}}"#;
const OLD_DEPS: &str = r#"{"gandalf_the_white": {"dependencies": {"gandalf_the_grey": ">5"}, "name": "gandalf", "upgrade_supported": ">1.2", "version": "1.3"}}"#;

/// One benchmarked situation.
struct Case {
    name: &'static str,
    path: &'static str,
    substrate: &'static str,
    me: usize,
    leader: bool,
    hooks: serde_json::Value,
    /// (unit states, app bag) for n units.
    world: fn(usize) -> (Vec<Option<&'static str>>, BTreeMap<String, String>),
}

fn stack(ids: impl Iterator<Item = usize>) -> String {
    format!("[{}]", ids.map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
}

fn app(stack_ids: Option<String>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(s) = stack_ids {
        m.insert("upgrade-stack".into(), s);
    }
    m.insert("dependencies".into(), OLD_DEPS.into());
    m
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "relation-changed, a waiting unit",
            path: "hooks/upgrade-relation-changed",
            substrate: "vm",
            me: 1,
            leader: false,
            hooks: serde_json::json!({}),
            world: |n| {
                let states = (0..n).map(|i| Some(if i == n - 1 { "upgrading" } else { "ready" })).collect();
                (states, app(Some(stack(0..n))))
            },
        },
        Case {
            name: "relation-changed, leader pops a completed unit",
            path: "hooks/upgrade-relation-changed",
            substrate: "vm",
            me: 0,
            leader: true,
            hooks: serde_json::json!({}),
            world: |n| {
                let states = (0..n).map(|i| Some(if i == n - 1 { "completed" } else { "ready" })).collect();
                (states, app(Some(stack(0..n))))
            },
        },
        Case {
            name: "relation-created",
            path: "hooks/upgrade-relation-created",
            substrate: "vm",
            me: 1,
            leader: false,
            hooks: serde_json::json!({}),
            world: |n| ((0..n).map(|_| None).collect(), BTreeMap::new()),
        },
        Case {
            name: "upgrade-charm, non-leader",
            path: "hooks/upgrade-charm",
            substrate: "vm",
            me: 1,
            leader: false,
            hooks: serde_json::json!({}),
            world: |n| ((0..n).map(|_| Some("idle")).collect(), app(Some(stack(0..n)))),
        },
        Case {
            name: "upgrade-charm, leader (version check)",
            path: "hooks/upgrade-charm",
            substrate: "vm",
            me: 0,
            leader: true,
            hooks: serde_json::json!({}),
            world: |n| ((0..n).map(|_| Some("idle")).collect(), app(Some(stack(0..n)))),
        },
        Case {
            name: "pre-upgrade-check, leader",
            path: "actions/pre-upgrade-check",
            substrate: "vm",
            me: 0,
            leader: true,
            hooks: serde_json::json!({"build_upgrade_stack": "all"}),
            world: |n| ((0..n).map(|_| Some("idle")).collect(), app(None)),
        },
        Case {
            name: "resume-upgrade, Kubernetes leader",
            path: "actions/resume-upgrade",
            substrate: "k8s",
            me: 0,
            leader: true,
            hooks: serde_json::json!({}),
            world: |n| {
                let states = (0..n).map(|i| Some(if i == n - 1 { "completed" } else { "upgrading" })).collect();
                (states, app(Some(stack(0..n - 1))))
            },
        },
    ]
}

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    own_us: i64,
    calls: usize,
    peak_kib: i64,
    tool_peak_kib: i64,
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Runs `cmd` and returns (exit ok, user+system µs, max RSS KiB) of its whole process tree.
fn run_measured(cmd: &mut Command) -> Result<(bool, i64, i64)> {
    let child = cmd.spawn().context("spawning the dispatch")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; `pid` is our own unwaited child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    std::mem::forget(child);
    let us = |t: libc::timeval| t.tv_sec as i64 * 1_000_000 + t.tv_usec as i64;
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, us(ru.ru_utime) + us(ru.ru_stime), ru.ru_maxrss))
}

struct Bench {
    dir: tempfile::TempDir,
    tools: PathBuf,
}

impl Bench {
    fn new(fake_tool: &Path) -> Result<Bench> {
        let dir = tempfile::tempdir()?;
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools)?;
        let fake = std::fs::canonicalize(fake_tool)?;
        for t in TOOLS {
            std::os::unix::fs::symlink(&fake, tools.join(t))?;
        }
        Ok(Bench { dir, tools })
    }

    fn sample(&self, program: &Path, charm_dir: &Path, case: &Case, n: usize) -> Result<Sample> {
        let (states, app_bag) = (case.world)(n);
        let units: BTreeMap<String, BTreeMap<String, String>> = states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut bag = BTreeMap::new();
                if let Some(s) = s {
                    bag.insert("state".to_string(), s.to_string());
                }
                (format!("gandalf/{i}"), bag)
            })
            .collect();
        let me = format!("gandalf/{}", case.me);
        let world = serde_json::json!({
            "unit": me, "leader": case.leader, "relation": "upgrade:7",
            "units": units, "app": app_bag, "planned_units": n,
        });
        let world_file = self.dir.path().join("world.json");
        std::fs::write(&world_file, world.to_string())?;
        let log = self.dir.path().join("calls.log");
        let _ = std::fs::remove_file(&log);
        let mut hooks = case.hooks.clone();
        if hooks.get("build_upgrade_stack").is_some() {
            hooks["build_upgrade_stack"] = serde_json::json!((0..n).collect::<Vec<_>>());
        }
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .current_dir(charm_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(self.dir.path().join("stderr"))?))
            .env("PATH", format!("{}:/usr/bin:/bin", self.tools.display()))
            .env("FAKE_JUJU_WORLD", &world_file)
            .env("FAKE_JUJU_LOG", &log)
            .env("JUJU_UNIT_NAME", &me)
            .env("JUJU_MODEL_NAME", "middle-earth")
            .env("JUJU_CHARM_DIR", charm_dir)
            .env("JUJU_VERSION", "3.6.7")
            .env("JUJU_DISPATCH_PATH", case.path)
            .env("SCENARIO_HOOKS", hooks.to_string())
            .env("UPGRADE_REFERENCE_SUBSTRATE", case.substrate);
        if case.path.contains("relation") {
            let remote = if case.me == 0 { "gandalf/1" } else { "gandalf/0" };
            cmd.env("JUJU_RELATION", "upgrade")
                .env("JUJU_RELATION_ID", "upgrade:7")
                .env("JUJU_REMOTE_APP", "gandalf")
                .env("JUJU_REMOTE_UNIT", remote);
        }
        if let Some(action) = case.path.strip_prefix("actions/") {
            cmd.env("JUJU_ACTION_NAME", action).env("JUJU_ACTION_UUID", "42");
        }
        let (ok, total_us, peak) = run_measured(&mut cmd)?;
        if !ok {
            let err = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default();
            let tail: Vec<&str> = err.lines().rev().take(12).collect();
            bail!(
                "{} failed on {} ({n} units):\n{}",
                program.display(),
                case.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let (mut tool_us, mut calls, mut tool_peak) = (0i64, 0usize, 0i64);
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() == 4 {
                calls += 1;
                tool_us += f[1].parse::<i64>()? + f[2].parse::<i64>()?;
                tool_peak = tool_peak.max(f[3].parse()?);
            }
        }
        Ok(Sample {
            own_us: total_us - tool_us,
            calls,
            peak_kib: peak,
            tool_peak_kib: tool_peak,
        })
    }

    fn measure(&self, program: &Path, charm_dir: &Path, case: &Case, n: usize, runs: usize) -> Result<Sample> {
        self.sample(program, charm_dir, case, n)?; // warm-up (page cache, ops' state file)
        let samples: Vec<Sample> = (0..runs)
            .map(|_| self.sample(program, charm_dir, case, n))
            .collect::<Result<_>>()?;
        Ok(Sample {
            own_us: median(samples.iter().map(|s| s.own_us).collect()),
            calls: samples[0].calls,
            peak_kib: samples.iter().map(|s| s.peak_kib).max().unwrap_or(0),
            tool_peak_kib: samples.iter().map(|s| s.tool_peak_kib).max().unwrap_or(0),
        })
    }
}

fn python_charm(dir: &Path, python: &Path, seed: &Path) -> Result<PathBuf> {
    let charm = dir.join("python-charm");
    let lib = charm.join("lib/charms/data_platform_libs/v0");
    std::fs::create_dir_all(&lib)?;
    std::fs::create_dir_all(charm.join("src"))?;
    for d in ["lib/charms", "lib/charms/data_platform_libs", "lib/charms/data_platform_libs/v0"] {
        std::fs::write(charm.join(d).join("__init__.py"), "")?;
    }
    let text = std::fs::read_to_string(seed)?;
    let start = text
        .find("# Copyright 2023 Canonical Ltd.")
        .context("the seed file does not hold the library's source")?;
    std::fs::write(lib.join("upgrade.py"), &text[start..])?;
    std::fs::write(
        charm.join("src/charm.py"),
        include_str!("../../../../scripts/bench_reference_charm.py"),
    )?;
    std::fs::write(charm.join("metadata.yaml"), "name: gandalf\npeers:\n  upgrade:\n    interface: upgrade\n")?;
    std::fs::write(charm.join("actions.yaml"), "pre-upgrade-check: {}\nresume-upgrade: {}\n")?;
    let python = std::path::absolute(python)?; // not canonicalize: a venv python is a symlink
    let dispatch = charm.join("dispatch");
    std::fs::write(&dispatch, format!("#!/bin/sh\nexec '{}' ./src/charm.py\n", python.display()))?;
    let mut perms = std::fs::metadata(&dispatch)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&dispatch, perms)?;
    Ok(charm)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bench = Bench::new(&args.fake_tool)?;
    let ours_dir = bench.dir.path().join("ours");
    std::fs::create_dir_all(&ours_dir)?;
    let ours = std::fs::canonicalize(&args.ours)?;
    let python = match (&args.python, &args.seed) {
        (Some(p), Some(s)) => Some(python_charm(bench.dir.path(), p, s)?),
        _ => None,
    };
    println!("| event | units | own CPU, ours | own CPU, reference | ratio | hook-tool calls, ours / reference | peak RSS, ours (tool) | peak RSS, reference |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for case in cases() {
        for &n in &args.sizes {
            let dir = match &python {
                Some(p) => p.clone(),
                None => ours_dir.clone(),
            };
            std::fs::write(dir.join("versions.json"), DEPS)?;
            std::fs::write(ours_dir.join("versions.json"), DEPS)?;
            let o = bench.measure(&ours, &ours_dir, &case, n, args.runs)?;
            let r = match &python {
                Some(p) => Some(bench.measure(&p.join("dispatch"), p, &case, n, args.python_runs)?),
                None => None,
            };
            let ms = |us: i64| format!("{:.2} ms", us as f64 / 1000.0);
            let mib = |k: i64| format!("{:.1} MiB", k as f64 / 1024.0);
            match r {
                Some(r) => println!(
                    "| {} | {n} | {} | {} | {:.0}x | {} / {} ({:.0}%) | {} ({}) | {} |",
                    case.name,
                    ms(o.own_us),
                    ms(r.own_us),
                    r.own_us as f64 / o.own_us.max(1) as f64,
                    o.calls,
                    r.calls,
                    100.0 * o.calls as f64 / r.calls.max(1) as f64,
                    mib(o.peak_kib),
                    mib(o.tool_peak_kib),
                    mib(r.peak_kib),
                ),
                None => println!(
                    "| {} | {n} | {} | - | - | {} / - | {} ({}) | - |",
                    case.name,
                    ms(o.own_us),
                    o.calls,
                    mib(o.peak_kib),
                    mib(o.tool_peak_kib),
                ),
            }
        }
    }
    Ok(())
}
