//! One dispatch, measured: our charm's dispatch path (`scenario-dispatch`: the real dispatch
//! code with trivial charm hooks) and the Python reference charm (`ops` + the reference
//! library, `scripts/bench_reference_charm.py`, the same trivial hooks), on the same fake hook
//! tools, per event type and cluster size.
//!
//! Own time is the CPU time (user + system) of the dispatch process itself, read from
//! `/proc/<pid>/task/*/schedstat` when the process stops at its exit under ptrace: the hook
//! tools it ran are separate processes and are not included, on either side (the work of
//! spawning them and reading their output is). Peak RSS is the process's `VmHWM` at that
//! stop. The fake tools cost nothing but their own process.

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
    /// Print the hook tools each first run called.
    #[arg(long)]
    show_calls: bool,
    /// Cluster sizes.
    #[arg(long, value_delimiter = ',', default_value = "3,10,100")]
    sizes: Vec<usize>,
}

const TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "goal-state",
    "state-get",
    "state-set",
    "state-delete",
    "config-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "juju-log",
    "status-set",
    "status-get",
    "application-version-set",
    "leader-get",
    "leader-set",
    "network-get",
    "resource-get",
    "opened-ports",
    "storage-get",
    "storage-list",
    "secret-get",
    "credential-get",
    "juju-reboot",
    "pod-spec-set",
];

const DEPS: &str = r#"{"gandalf_the_white": {"dependencies": {"gandalf_the_grey": ">5"}, "name": "gandalf", "upgrade_supported": ">1.2", "version": "7"}}"#;
const OLD_DEPS: &str = r#"{"gandalf_the_white": {"dependencies": {"gandalf_the_grey": ">5"}, "name": "gandalf", "upgrade_supported": ">1.2", "version": "1.3"}}"#;

/// Unit states (index = unit number; `None` = no state yet) and the app bag.
type World = (Vec<Option<&'static str>>, BTreeMap<String, String>);

/// One benchmarked situation.
struct Case {
    name: &'static str,
    path: &'static str,
    substrate: &'static str,
    me: usize,
    leader: bool,
    hooks: serde_json::Value,
    /// (unit states, app bag) for n units.
    world: fn(usize) -> World,
}

fn stack(ids: impl Iterator<Item = usize>) -> String {
    format!(
        "[{}]",
        ids.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    )
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
            name: "update-status (not an upgrade event: the baseline)",
            path: "hooks/update-status",
            substrate: "vm",
            me: 1,
            leader: false,
            hooks: serde_json::json!({}),
            world: |n| ((0..n).map(|_| Some("idle")).collect(), BTreeMap::new()),
        },
        Case {
            name: "relation-changed, a waiting unit",
            path: "hooks/upgrade-relation-changed",
            substrate: "vm",
            me: 1,
            leader: false,
            hooks: serde_json::json!({}),
            world: |n| {
                let states = (0..n)
                    .map(|i| Some(if i == n - 1 { "upgrading" } else { "ready" }))
                    .collect();
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
                let states = (0..n)
                    .map(|i| Some(if i == n - 1 { "completed" } else { "ready" }))
                    .collect();
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
            world: |n| {
                (
                    (0..n).map(|_| Some("idle")).collect(),
                    app(Some(stack(0..n))),
                )
            },
        },
        Case {
            name: "upgrade-charm, leader (version check)",
            path: "hooks/upgrade-charm",
            substrate: "vm",
            me: 0,
            leader: true,
            hooks: serde_json::json!({}),
            world: |n| {
                (
                    (0..n).map(|_| Some("idle")).collect(),
                    app(Some(stack(0..n))),
                )
            },
        },
        Case {
            name: "pre-upgrade-check, leader",
            path: "actions/pre-upgrade-check",
            substrate: "vm",
            me: 0,
            leader: true,
            hooks: serde_json::json!({"build_upgrade_stack": "all"}),
            // Before the refresh: the stored versions are the charm's own (`DEPS` is already in
            // the stored form, Python `json.dumps` spacing).
            world: |n| {
                let mut bag = app(None);
                bag.insert("dependencies".into(), DEPS.into());
                ((0..n).map(|_| Some("idle")).collect(), bag)
            },
        },
        Case {
            name: "resume-upgrade, Kubernetes leader",
            path: "actions/resume-upgrade",
            substrate: "k8s",
            me: 0,
            leader: true,
            hooks: serde_json::json!({}),
            world: |n| {
                let states = (0..n)
                    .map(|i| Some(if i == n - 1 { "completed" } else { "upgrading" }))
                    .collect();
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
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// What one traced run measured.
struct Measured {
    ok: bool,
    /// CPU time of the dispatch process itself (its threads alive at exit), from
    /// `/proc/<pid>/task/*/schedstat` read at the exit stop: children are not included.
    own_ns: i64,
    /// `VmHWM` of the dispatch process at its exit stop.
    peak_kib: i64,
}

fn read_own(pid: libc::pid_t) -> (i64, i64) {
    let mut ns = 0i64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (ns, hwm)
}

/// Runs `cmd` under ptrace, stopping it just before it exits to read its own CPU time and
/// peak RSS (children run untraced; their cost is theirs).
fn run_measured(cmd: &mut Command) -> Result<Measured> {
    use std::os::unix::process::CommandExt;
    // SAFETY: PTRACE_TRACEME between fork and exec only touches the child itself.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().context("spawning the dispatch")?;
    let pid = child.id() as libc::pid_t;
    std::mem::forget(child);
    let (mut own_ns, mut peak_kib) = (0, 0);
    let mut first = true;
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r != pid {
            bail!("waitpid failed: {}", std::io::Error::last_os_error());
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return Ok(Measured {
                ok,
                own_ns,
                peak_kib,
            });
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        let mut inject = 0;
        if first && sig == libc::SIGTRAP {
            first = false;
            // SAFETY: the tracee is stopped; options apply to it only.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_SETOPTIONS,
                    pid,
                    0,
                    (libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL) as libc::c_long,
                )
            };
        } else if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            (own_ns, peak_kib) = read_own(pid);
        } else if sig != libc::SIGTRAP {
            inject = sig;
        }
        // SAFETY: resume the stopped tracee, delivering its own signal if it had one.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, inject as libc::c_long) };
    }
}

struct Bench {
    dir: tempfile::TempDir,
    tools: PathBuf,
    show_calls: bool,
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
        Ok(Bench {
            dir,
            tools,
            show_calls: false,
        })
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
            .stderr(Stdio::from(std::fs::File::create(
                self.dir.path().join("stderr"),
            )?))
            .env("PATH", format!("{}:/usr/bin:/bin", self.tools.display()))
            .env("FAKE_JUJU_WORLD", &world_file)
            .env("FAKE_JUJU_LOG", &log)
            .env("JUJU_UNIT_NAME", &me)
            .env("JUJU_MODEL_NAME", "middle-earth")
            .env("JUJU_CHARM_DIR", charm_dir)
            .env("JUJU_VERSION", "3.6.7")
            .env("JUJU_DISPATCH_PATH", case.path)
            .env("SCENARIO_HOOKS", hooks.to_string())
            .env("UPGRADE_COORDINATOR_SUBSTRATE", case.substrate);
        if case.path.contains("relation") {
            let remote = if case.me == 0 {
                "gandalf/1"
            } else {
                "gandalf/0"
            };
            cmd.env("JUJU_RELATION", "upgrade")
                .env("JUJU_RELATION_ID", "upgrade:7")
                .env("JUJU_REMOTE_APP", "gandalf")
                .env("JUJU_REMOTE_UNIT", remote);
        }
        if let Some(action) = case.path.strip_prefix("actions/") {
            cmd.env("JUJU_ACTION_NAME", action)
                .env("JUJU_ACTION_UUID", "42");
        }
        let m = run_measured(&mut cmd)?;
        if !m.ok {
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
        let calls = text.lines().filter(|l| l.split(' ').count() == 4).count();
        if self.show_calls {
            let names: Vec<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
            eprintln!(
                "{} | {} | {n}: {}",
                program.display(),
                case.name,
                names.join(" ")
            );
        }
        Ok(Sample {
            own_us: m.own_ns / 1000,
            calls,
            peak_kib: m.peak_kib,
        })
    }

    fn measure(
        &self,
        program: &Path,
        charm_dir: &Path,
        case: &Case,
        n: usize,
        runs: usize,
    ) -> Result<Sample> {
        self.sample(program, charm_dir, case, n)?; // warm-up (page cache, ops' state file)
        let samples: Vec<Sample> = (0..runs)
            .map(|_| self.sample(program, charm_dir, case, n))
            .collect::<Result<_>>()?;
        Ok(Sample {
            own_us: median(samples.iter().map(|s| s.own_us).collect()),
            calls: samples[0].calls,
            peak_kib: samples.iter().map(|s| s.peak_kib).max().unwrap_or(0),
        })
    }
}

fn python_charm(dir: &Path, python: &Path, seed: &Path) -> Result<PathBuf> {
    let charm = dir.join("python-charm");
    let lib = charm.join("lib/charms/data_platform_libs/v0");
    std::fs::create_dir_all(&lib)?;
    std::fs::create_dir_all(charm.join("src"))?;
    for d in [
        "lib/charms",
        "lib/charms/data_platform_libs",
        "lib/charms/data_platform_libs/v0",
    ] {
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
    std::fs::write(
        charm.join("metadata.yaml"),
        "name: gandalf\npeers:\n  upgrade:\n    interface: upgrade\n",
    )?;
    std::fs::write(
        charm.join("actions.yaml"),
        "pre-upgrade-check: {}\nresume-upgrade: {}\n",
    )?;
    let python = std::path::absolute(python)?; // not canonicalize: a venv python is a symlink
    let dispatch = charm.join("dispatch");
    std::fs::write(
        &dispatch,
        format!("#!/bin/sh\nexec '{}' ./src/charm.py\n", python.display()),
    )?;
    let mut perms = std::fs::metadata(&dispatch)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&dispatch, perms)?;
    Ok(charm)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut bench = Bench::new(&args.fake_tool)?;
    bench.show_calls = args.show_calls;
    let ours_dir = bench.dir.path().join("ours");
    std::fs::create_dir_all(&ours_dir)?;
    let ours = std::fs::canonicalize(&args.ours)?;
    let python = match (&args.python, &args.seed) {
        (Some(p), Some(s)) => Some(python_charm(bench.dir.path(), p, s)?),
        _ => None,
    };
    println!("| event | units | own CPU, ours | own CPU, reference | ratio | hook-tool calls, ours / reference | peak RSS, ours | peak RSS, reference |");
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
                Some(p) => {
                    Some(bench.measure(&p.join("dispatch"), p, &case, n, args.python_runs)?)
                }
                None => None,
            };
            let ms = |us: i64| format!("{:.2} ms", us as f64 / 1000.0);
            let mib = |k: i64| format!("{:.1} MiB", k as f64 / 1024.0);
            match r {
                Some(r) => println!(
                    "| {} | {n} | {} | {} | {:.0}x | {} / {} ({:.0}%) | {} | {} |",
                    case.name,
                    ms(o.own_us),
                    ms(r.own_us),
                    r.own_us as f64 / o.own_us.max(1) as f64,
                    o.calls,
                    r.calls,
                    100.0 * o.calls as f64 / r.calls.max(1) as f64,
                    mib(o.peak_kib),
                    mib(r.peak_kib),
                ),
                None => println!(
                    "| {} | {n} | {} | - | - | {} / - | {} | - |",
                    case.name,
                    ms(o.own_us),
                    o.calls,
                    mib(o.peak_kib),
                ),
            }
        }
    }
    Ok(())
}
