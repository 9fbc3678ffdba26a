//! Whole upgrades through real processes: the reference charm's `dispatch` for every unit,
//! this crate's fake hook tools, the simulator's Juju semantics. Every scenario must end in
//! its documented state with no invariant broken.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use juju_sim::scenario::{force, pause, rollback, upgrade, ForceCase, PausePlan};
use juju_sim::sim::{Fault, Report, Schedule, SimConfig, Substrate};

/// The sim binary (the fake tools) and a freshly built `dispatch` beside it.
fn binaries() -> (PathBuf, PathBuf) {
    static DISPATCH: OnceLock<PathBuf> = OnceLock::new();
    let sim = PathBuf::from(env!("CARGO_BIN_EXE_juju-sim"));
    let dispatch = DISPATCH.get_or_init(|| {
        let profile_dir = sim.parent().expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-q",
            "-p",
            "upgrade-reference-charm",
            "--bin",
            "dispatch",
        ])
        .arg("--target-dir")
        .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build for dispatch");
        assert!(status.success(), "building dispatch failed");
        profile_dir.join("dispatch")
    });
    (sim, dispatch.clone())
}

fn cfg(units: usize, seed: u64, faults: Vec<Fault>) -> SimConfig {
    let (tool, dispatch) = binaries();
    SimConfig {
        units,
        substrate: Substrate::Vm,
        seed,
        schedule: Schedule::Random,
        dispatch,
        tool,
        faults,
        verbose: false,
        live: false,
        operator: None,
        retry_actions: true,
        charm_config: Default::default(),
        deploy_dispatch: None,
        charm_files: Default::default(),
        revisions: Default::default(),
    }
}

/// Seeds per sweep: `default` in the normal run, `JUJU_SIM_SWEEP` when set (200 for the
/// long sweeps DEVIATIONS.md reports).
fn sweep(default: u64) -> u64 {
    std::env::var("JUJU_SIM_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn assert_clean(r: &Report) {
    assert!(
        r.violations.is_empty(),
        "seed {}: {:#?}\nnotes: {:#?}",
        r.seed,
        r.violations,
        r.notes
    );
}

/// Some note of the run satisfies `wanted`; otherwise fail, showing every note.
#[track_caller]
fn assert_noted(r: &Report, wanted: impl Fn(&str) -> bool) {
    assert!(r.notes.iter().any(|n| wanted(n)), "{:?}", r.notes);
}

#[test]
fn five_units_upgrade_leader_last_on_every_seed() {
    for seed in 1..=6 {
        let (_sim, r) = upgrade(cfg(5, seed, vec![])).unwrap();
        assert_clean(&r);
        assert_eq!(r.order.len(), 5, "{:?}", r.order);
        assert_eq!(
            r.order.last().unwrap(),
            "upgrade-reference/0",
            "leader last"
        );
        assert!(r
            .units
            .iter()
            .all(|u| u.state == "idle" && u.status == "active" && u.workload == "1.1.0"));
    }
    let mut c = cfg(4, 1, vec![]);
    c.schedule = Schedule::Fifo;
    assert_clean(&upgrade(c).unwrap().1);
    let mut c = cfg(3, 1, vec![]);
    c.schedule = Schedule::Script(vec![2, 2, 1, 0, 1, 2, 0, 0]);
    assert_clean(&upgrade(c).unwrap().1);
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let run = || {
        let (sim, _) = upgrade(cfg(4, 7, vec![])).unwrap();
        sim.trace
            .iter()
            .map(|t| format!("{} {} {}", t.unit, t.event, t.state))
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let (sim, _) = upgrade(cfg(4, 8, vec![])).unwrap();
    let c: Vec<String> = sim
        .trace
        .iter()
        .map(|t| format!("{} {} {}", t.unit, t.event, t.state))
        .collect();
    assert_ne!(a, c, "another seed, another order");
}

#[test]
fn a_unit_that_fails_its_upgrade_stops_the_upgrade_there() {
    let (sim, r) = upgrade(cfg(5, 3, vec![Fault::FailUpgrade(2)])).unwrap();
    assert_clean(&r);
    let (state, (status, message)) = sim.unit_view(2).unwrap();
    assert_eq!((state.as_str(), status.as_str()), ("failed", "blocked"));
    assert!(message.contains("injected fault"), "{message}");
    // Units after it in the stack (and the leader) never upgraded.
    assert!(!r.order.contains(&"upgrade-reference/2".to_string()));
    assert!(!r.order.contains(&"upgrade-reference/0".to_string()));
}

#[test]
fn an_unhealthy_cluster_refuses_the_pre_upgrade_check() {
    let (sim, r) = upgrade(cfg(4, 1, vec![Fault::UnhealthyAtPreCheck(3)])).unwrap();
    assert_clean(&r);
    assert_noted(&r, |n| {
        n.contains("pre-upgrade-check failed: Pre-upgrade check failed")
    });
    assert!(!sim.app_bag().contains_key("upgrade-stack"));
}

#[test]
fn a_tool_failing_once_and_a_killed_dispatch_are_retried_to_the_end() {
    for fault in [
        Fault::ToolFailsOnce {
            unit: 2,
            tool: "relation-get".into(),
        },
        Fault::ToolFailsOnce {
            unit: 1,
            tool: "relation-set".into(),
        },
        Fault::KillMidHook {
            unit: 1,
            after: 2,
            hook: None,
        },
        Fault::KillMidHook {
            unit: 0,
            after: 3,
            hook: None,
        },
    ] {
        let (_sim, r) = upgrade(cfg(4, 2, vec![fault.clone()])).unwrap();
        assert_clean(&r);
        assert_eq!(
            r.units.iter().map(|u| u.errors).sum::<usize>(),
            1,
            "{fault:?}: one failed dispatch"
        );
        assert!(
            r.units
                .iter()
                .all(|u| u.state == "idle" && u.workload == "1.1.0"),
            "{fault:?}"
        );
    }
}

#[test]
fn an_incompatible_refresh_fails_the_leader_and_upgrades_nobody() {
    let (sim, r) = upgrade(cfg(4, 1, vec![Fault::IncompatibleRefresh])).unwrap();
    assert_clean(&r);
    assert!(r.order.is_empty());
    assert_eq!(sim.unit_view(0).unwrap().0, "failed");
}

#[test]
fn rollback_after_a_failed_unit_brings_every_unit_back() {
    for seed in 1..=4 {
        let (_sim, r) = rollback(cfg(5, seed, vec![Fault::FailUpgrade(3)])).unwrap();
        assert_clean(&r);
        assert!(r
            .units
            .iter()
            .all(|u| u.state == "idle" && u.status == "active" && u.workload == "1.0.0"));
    }
    let (_sim, r) = rollback(cfg(4, 2, vec![Fault::IncompatibleRefresh])).unwrap();
    assert_clean(&r);
}

/// Issue 7, case 1: the leader itself failed. The reference library's rollback then takes
/// the other units' `completed` from the failed round for done, and leaves them on the new
/// workload (or stuck); the round marker (DEVIATIONS.md D14) makes every unit roll back.
#[test]
fn rollback_after_the_leader_failed_brings_every_unit_back() {
    let seeds = sweep(8);
    for seed in 1..=seeds {
        // Machines: the leader goes last. Kubernetes: the leader is unit 0, the last pod.
        for config in [
            cfg(5, seed, vec![Fault::FailUpgrade(0)]),
            k8s(4, seed, vec![Fault::FailUpgrade(0)]),
        ] {
            let (_sim, r) = rollback(config).unwrap();
            assert_clean(&r);
            assert!(
                r.units
                    .iter()
                    .all(|u| u.state == "idle" && u.workload == "1.0.0"),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn the_cli_runs_and_reports() {
    let (sim, dispatch) = binaries();
    let out = Command::new(&sim)
        .args(["upgrade", "--units", "3", "--json", "--dispatch"])
        .arg(&dispatch)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["violations"].as_array().unwrap().len(), 0);
    assert_eq!(r["order"].as_array().unwrap().len(), 3);
    assert_eq!(r["schema"], 1);
    assert_eq!(
        (r["app_status"].as_str(), r["app_message"].as_str()),
        (Some("active"), Some(""))
    );
    let unit = &r["units"][0];
    assert_eq!(unit["status"], "active");
    assert_eq!(unit["message"], "");
    assert_eq!(unit["version"], "1.1.0", "what juju status shows");
    let out = Command::new(&sim)
        .args(["upgrade", "--fault", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault"));
    // No panic on a usage error nor on a closed pipe.
    let out = Command::new(&sim)
        .args(["upgrade", "--units", "0", "--dispatch"])
        .arg(&dispatch)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--units must be at least 1") && !err.contains("panicked"),
        "{err}"
    );
    let mut child = Command::new(&sim)
        .args(["upgrade", "--units", "2", "--quiet", "--dispatch"])
        .arg(&dispatch)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the report is printed
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The report is in words.
    let out = Command::new(&sim)
        .args(["upgrade", "--units", "1", "--quiet", "--dispatch"])
        .arg(&dispatch)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("upgrade of 1 unit on machines, seed 1: "),
        "{text}"
    );
    assert!(!text.contains("Some(") && !text.contains("Vm"), "{text}");
    for sub in ["upgrade", "rollback", "explore", "sweep"] {
        let out = Command::new(&sim).args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:") && help.contains("Exit status:"),
            "{sub}: {help}"
        );
    }
    // A charm whose every hook fails (as a broken reference run would): the units end in
    // error, and the run is a failure with its report (exit 1), not a usage error (2).
    let out = Command::new(&sim)
        .args([
            "upgrade",
            "--units",
            "2",
            "--quiet",
            "--dispatch",
            "/bin/false",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("keeps failing install") && text.contains("the unit is in error"),
        "{text}"
    );
    let out = Command::new(&sim).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("juju-sim "));
}

fn k8s(units: usize, seed: u64, faults: Vec<Fault>) -> SimConfig {
    SimConfig {
        substrate: Substrate::K8s,
        ..cfg(units, seed, faults)
    }
}

#[test]
fn kubernetes_upgrade_follows_the_partition_and_resume_upgrade() {
    for seed in 1..=4 {
        let (sim, r) = upgrade(k8s(5, seed, vec![])).unwrap();
        assert_clean(&r);
        // pre-upgrade-check sets the highest ordinal, resume-upgrade the next, and every
        // finished unit the one below it.
        assert_eq!(sim.partitions(), vec![4, 3, 2, 1, 0]);
        let order: Vec<&str> = r.order.iter().map(String::as_str).collect();
        assert_eq!(
            order,
            [
                "upgrade-reference/4",
                "upgrade-reference/3",
                "upgrade-reference/2",
                "upgrade-reference/1",
                "upgrade-reference/0"
            ]
        );
        assert_noted(&r, |n| {
            n.contains("resume-upgrade: Upgrade will resume on unit 3")
        });
    }
}

#[test]
fn kubernetes_faults_end_where_documented() {
    let (sim, r) = upgrade(k8s(5, 2, vec![Fault::FailUpgrade(2)])).unwrap();
    assert_clean(&r);
    assert_eq!(sim.unit_view(2).unwrap().0, "failed");
    let (sim, r) = upgrade(k8s(4, 1, vec![Fault::IncompatibleRefresh])).unwrap();
    assert_clean(&r);
    assert_eq!(
        sim.unit_view(3).unwrap().0,
        "failed",
        "the highest pod checks the versions"
    );
    let (_sim, r) = upgrade(k8s(
        4,
        3,
        vec![Fault::KillMidHook {
            unit: 3,
            after: 2,
            hook: None,
        }],
    ))
    .unwrap();
    assert_clean(&r);
    for seed in 1..=3 {
        let (_sim, r) = rollback(k8s(4, seed, vec![])).unwrap();
        assert_clean(&r);
    }
}

/// Issue 7, case 3: `juju refresh` without `pre-upgrade-check`. The reference only logs;
/// here the leader blocks the application with the next step, and running it lets the
/// upgrade proceed to the end. On Kubernetes the partition was 0 and the refresh recreated
/// every pod: after the pre-check the units take their turns from the top of the stack
/// (highest first, so the highest still checks the versions) with nothing to resume.
#[test]
fn a_refresh_without_pre_check_is_blocked_then_proceeds() {
    let seeds = sweep(4);
    for seed in 1..=seeds {
        for config in [
            cfg(5, seed, vec![Fault::NoPreCheck]),
            k8s(4, seed, vec![Fault::NoPreCheck]),
        ] {
            let on_k8s = config.substrate == Substrate::K8s;
            let (_sim, r) = upgrade(config).unwrap();
            assert_clean(&r);
            assert_noted(&r, |n| {
                n.starts_with("application blocked: Refreshed without pre-upgrade-check")
            });
            assert_eq!(r.app_status, "active");
            let order: Vec<&str> = r.order.iter().map(String::as_str).collect();
            if on_k8s {
                assert_noted(&r, |n| n.starts_with("finished without resume-upgrade"));
                assert_eq!(
                    order,
                    [
                        "upgrade-reference/3",
                        "upgrade-reference/2",
                        "upgrade-reference/1",
                        "upgrade-reference/0"
                    ],
                    "the units report from the top of the stack down"
                );
            } else {
                assert_eq!(order.last(), Some(&"upgrade-reference/0"), "leader last");
            }
        }
    }
}

/// Issue 7, case 2 (machines): units added or removed after the pre-check, during the
/// rolling upgrade and during the rollback. A unit that joins with the new charm counts as
/// upgraded, one that joins before the refresh gets its turn before the leader, a departed
/// unit leaves the stack; the upgrade always finishes with every invariant held.
#[test]
fn scaling_in_every_phase_never_stalls_on_machines() {
    use juju_sim::sim::Phase;
    let seeds = sweep(2);
    for seed in 1..=seeds {
        for fault in [
            Fault::AddUnit(Phase::AfterPreCheck),
            Fault::AddUnit(Phase::MidUpgrade(10)),
            Fault::RemoveUnit(3, Phase::AfterPreCheck),
            Fault::RemoveUnit(2, Phase::MidUpgrade(10)),
        ] {
            let (_sim, r) = upgrade(cfg(4, seed, vec![fault.clone()])).unwrap();
            assert_clean(&r);
            assert!(
                r.notes
                    .iter()
                    .any(|n| n.starts_with("juju add-unit") || n.starts_with("juju remove-unit")),
                "{fault:?}: {:?}",
                r.notes
            );
        }
        for fault in [
            Fault::AddUnit(Phase::MidRollback(10)),
            Fault::RemoveUnit(2, Phase::MidRollback(10)),
        ] {
            let (_sim, r) =
                rollback(cfg(4, seed, vec![fault.clone(), Fault::FailUpgrade(3)])).unwrap();
            assert_clean(&r);
        }
    }
}

/// Issue 7, case 2 on Kubernetes: a StatefulSet scales by ordinal (new pods get the next
/// one, `remove-unit` takes the highest). Added before the refresh, the new pod is
/// recreated first and alone (the leader moves the partition to it), then resume-upgrade
/// goes on; added after, it already runs the new charm and counts as upgraded; removing the
/// pod at the top of the stack moves the partition to the next one. Rollbacks likewise.
#[test]
fn scaling_in_every_phase_never_stalls_on_kubernetes() {
    use juju_sim::sim::Phase;
    let seeds = sweep(2);
    for seed in 1..=seeds {
        for fault in [
            Fault::AddUnit(Phase::AfterPreCheck),
            Fault::AddUnit(Phase::MidUpgrade(6)),
            Fault::RemoveUnit(3, Phase::AfterPreCheck),
            Fault::RemoveUnit(3, Phase::MidUpgrade(3)),
        ] {
            let (sim, r) = upgrade(k8s(4, seed, vec![fault.clone()])).unwrap();
            assert_clean(&r);
            if fault == Fault::AddUnit(Phase::AfterPreCheck) {
                // The new pod alone, then the pause, then the stack from its top.
                assert_eq!(
                    r.order.first().map(String::as_str),
                    Some("upgrade-reference/4")
                );
                assert_eq!(sim.partitions()[..2], [3, 4]);
                assert_noted(&r, |n| n == "resume-upgrade: Upgrade will resume on unit 3");
            }
            if fault == Fault::RemoveUnit(3, Phase::AfterPreCheck) {
                assert_eq!(sim.partitions()[..2], [3, 2]);
                assert_eq!(
                    r.order.first().map(String::as_str),
                    Some("upgrade-reference/2")
                );
            }
        }
        for fault in [
            Fault::AddUnit(Phase::MidRollback(3)),
            Fault::RemoveUnit(3, Phase::MidRollback(3)),
        ] {
            for failing in [3, 2] {
                let (_sim, r) = rollback(k8s(
                    4,
                    seed,
                    vec![fault.clone(), Fault::FailUpgrade(failing)],
                ))
                .unwrap();
                assert_clean(&r);
            }
        }
    }
}

/// Issue 15, case 1: the leader's `pre-upgrade-check` in the recovery round dies at any of
/// its tool calls (Juju gives an action no second run). Whatever documented step the
/// operator takes next (run the pre-check again, refresh back at once, or refresh forward to
/// a fixed revision), the model converges, or a status names the step that leads there.
/// Before the fix, refreshing back at once left every machine unit `ready` forever with no
/// status naming anything (`juju-sim rollback --units 3 --fault kill-mid-hook:0:8
/// --schedule fifo`).
#[test]
fn a_killed_recovery_pre_check_then_any_documented_step_converges() {
    use juju_sim::scenario::{new_revision, old_revision, operate, Outcome};
    use juju_sim::sim::{Revision, Sim};
    let forward = Revision::new(4, "1.1.0", ">=1.0");
    for substrate in [Substrate::Vm, Substrate::K8s] {
        // Up to the failed unit, then the recovery pre-check killed at call `k`.
        let failed_at = |k: usize| -> Sim {
            let mut c = cfg(3, 1, vec![Fault::FailUpgrade(2)]);
            c.substrate = substrate;
            c.schedule = Schedule::Fifo;
            let mut sim = Sim::new(c).unwrap();
            sim.deploy(&old_revision()).unwrap();
            sim.settle(5_000).unwrap();
            let pre = sim.run_action(0, "pre-upgrade-check").unwrap();
            assert_eq!(pre.failed(), None);
            sim.arm_faults(&new_revision()).unwrap();
            sim.refresh(&new_revision()).unwrap();
            sim.settle(5_000).unwrap();
            assert_eq!(sim.unit_view(2).unwrap().0, "failed");
            sim.kill_next_dispatch(0, k).unwrap();
            let pre = sim.run_action(0, "pre-upgrade-check").unwrap();
            assert_eq!(
                pre.exit,
                if k <= calls_of_recovery() {
                    None
                } else {
                    Some(0)
                }
            );
            sim
        };
        let mut killed = 0;
        // The first call, the first write and the last call; every call with JUJU_SIM_SWEEP.
        let points: Vec<usize> = if std::env::var_os("JUJU_SIM_SWEEP").is_some() {
            (1..=calls_of_recovery()).collect()
        } else {
            vec![1, 8, calls_of_recovery()]
        };
        for k in points {
            for next in ["again", "back", "forward"] {
                let mut sim = failed_at(k);
                killed += 1;
                let mut notes = Vec::new();
                let old = old_revision();
                let (current, previous) = match next {
                    "again" => {
                        let pre = sim.run_action(0, "pre-upgrade-check").unwrap();
                        assert_eq!(pre.failed(), None, "{substrate:?} k={k}: the re-run");
                        sim.clear_injected_workload_faults().unwrap();
                        sim.refresh(&old).unwrap();
                        (old.clone(), new_revision())
                    }
                    "back" => {
                        sim.clear_injected_workload_faults().unwrap();
                        sim.refresh(&old).unwrap();
                        (old.clone(), new_revision())
                    }
                    _ => {
                        sim.clear_injected_workload_faults().unwrap();
                        sim.refresh(&forward).unwrap();
                        (forward.clone(), new_revision())
                    }
                };
                sim.settle(5_000).unwrap();
                let outcome =
                    operate(&mut sim, &mut notes, &current, &previous, &forward, 3).unwrap();
                let what = format!("{substrate:?}, killed at call {k}, then {next}");
                assert!(sim.violations.is_empty(), "{what}: {:#?}", sim.violations);
                match outcome {
                    Outcome::Converged => {}
                    other => panic!("{what}: {other:?}\n{notes:#?}"),
                }
            }
        }
        assert!(killed >= 9, "{killed}");
    }
}

/// How many hook-tool calls the recovery pre-check makes (the kill points above): the call
/// after the last one never comes, so the action succeeds there.
fn calls_of_recovery() -> usize {
    10
}

/// The operator model follows what the statuses say: after a failed unit it runs the
/// pre-upgrade-check the application status names, then the refresh back it names next, and
/// the run converges on the old revision (machines and Kubernetes).
#[test]
fn the_operator_model_follows_the_statuses_to_a_rollback() {
    use juju_sim::scenario::Outcome;
    for mut c in [
        cfg(3, 2, vec![Fault::FailUpgrade(2)]),
        k8s(3, 2, vec![Fault::FailUpgrade(2)]),
    ] {
        c.operator = Some(3);
        let (sim, r) = upgrade(c).unwrap();
        assert_clean(&r);
        assert_eq!(r.outcome, Some(Outcome::Converged), "{:#?}", r.notes);
        assert_noted(&r, |n| {
            n.starts_with("operator: juju run upgrade-reference/leader pre-upgrade-check")
        });
        assert_noted(&r, |n| {
            n.starts_with("operator: juju refresh upgrade-reference (back")
        });
        assert!(sim
            .final_problems(&juju_sim::scenario::old_revision())
            .is_empty());
    }
    // Without a step to take and not converged, a run is stuck: an upgrade whose model is
    // judged against a revision nobody refreshed to.
    let (mut sim, _) = upgrade(cfg(3, 1, vec![])).unwrap();
    let mut notes = Vec::new();
    let never = juju_sim::sim::Revision::new(9, "9.0.0", ">=1.0");
    let outcome =
        juju_sim::scenario::operate(&mut sim, &mut notes, &never, &never, &never, 3).unwrap();
    assert!(matches!(outcome, Outcome::Stuck { .. }), "{outcome:?}");
}

/// Issue 18, case 1: while a unit upgrades its workload, `juju status` shows it upgrading
/// (published before the workload work, as the reference's immediate `status-set` is), then
/// the charm's own progress, then `upgrade completed` (or Active); on Kubernetes the recreated pod shows
/// its workload upgrade the same way.
#[test]
fn a_granted_unit_shows_it_is_upgrading_while_it_does() {
    let (sim, r) = upgrade(cfg(3, 1, vec![])).unwrap();
    assert_clean(&r);
    for n in 0..3 {
        let shown: Vec<String> = sim
            .statuses_shown(n)
            .iter()
            .map(|(s, m)| format!("{s} {m}"))
            .collect();
        let at = |want: &str| shown.iter().position(|s| s == want);
        let upgrading =
            at("maintenance upgrading...").unwrap_or_else(|| panic!("unit {n}: {shown:#?}"));
        let progress = at("maintenance upgrading: installing the workload 1.1.0")
            .unwrap_or_else(|| panic!("unit {n}: {shown:#?}"));
        // Then `upgrade completed`, or Active at once for the last unit (the leader), which
        // finishes the whole upgrade in the same dispatch.
        assert!(upgrading < progress, "unit {n}: {shown:#?}");
        assert!(
            shown[progress + 1..]
                .iter()
                .any(|s| s == "maintenance upgrade completed" || s == "active "),
            "unit {n}: {shown:#?}"
        );
    }
    let (sim, r) = upgrade(k8s(3, 1, vec![])).unwrap();
    assert_clean(&r);
    for n in 0..3 {
        let shown = sim.statuses_shown(n);
        assert!(
            shown
                .iter()
                .any(|(s, m)| s == "maintenance" && m == "upgrading the workload to 1.1.0"),
            "unit {n}: {shown:#?}"
        );
    }
}

/// Issue 18, case 4: the live table has a header row, the phase and the application status
/// (which names the operator's next step), and no line is wider than the terminal.
#[test]
fn the_live_table_fits_the_terminal_and_says_where_the_run_is() {
    let (mut sim, _) = upgrade(cfg(3, 1, vec![Fault::FailUpgrade(2)])).unwrap();
    sim.set_phase("pre-upgrade-check");
    for width in [40, 80, 200] {
        let frame = sim.frame(width);
        assert!(
            frame.iter().all(|l| l.chars().count() <= width),
            "{frame:#?}"
        );
        assert!(
            frame[0].starts_with("juju-sim: pre-upgrade-check"),
            "{frame:#?}"
        );
        assert!(frame[2].trim_start().starts_with("unit"), "{frame:#?}");
        assert_eq!(frame.len(), 3 + 3);
    }
    let wide = sim.frame(200);
    assert!(
        wide[1].starts_with("application: blocked Upgrade failed on unit 2: run pre-upgrade-check"),
        "{wide:#?}"
    );
}

// ----- issue 14: the operator's side of a refresh -----

fn with_policy(mut c: SimConfig, policy: &str) -> SimConfig {
    c.charm_config
        .insert(upgrade_coordinator::PAUSE_CONFIG.into(), policy.into());
    c
}

fn on(substrate: Substrate, seed: u64, faults: Vec<Fault>) -> SimConfig {
    SimConfig {
        substrate,
        ..cfg(3, seed, faults)
    }
}

const SUBSTRATES: [Substrate; 2] = [Substrate::Vm, Substrate::K8s];

#[test]
fn every_pause_policy_pauses_exactly_where_it_says_and_resumes() {
    for seed in 1..=sweep(2) {
        for substrate in SUBSTRATES {
            for policy in ["all", "first", "none", "not-a-policy"] {
                let (_, r) = pause(
                    with_policy(on(substrate, seed, vec![]), policy),
                    &PausePlan::default(),
                )
                .unwrap();
                assert_clean(&r);
            }
        }
    }
}

#[test]
fn a_policy_changed_mid_refresh_takes_effect_at_the_next_unit() {
    for seed in 1..=sweep(2) {
        for substrate in SUBSTRATES {
            for (from, to) in [("first", "all"), ("all", "first"), ("all", "none")] {
                let plan = PausePlan {
                    then: Some(to.into()),
                    unhealthy: false,
                };
                let (_, r) = pause(with_policy(on(substrate, seed, vec![]), from), &plan).unwrap();
                assert_clean(&r);
            }
        }
    }
}

#[test]
fn resume_refuses_an_unhealthy_refreshed_unit_and_is_forced_past_it() {
    for seed in 1..=sweep(2) {
        for substrate in SUBSTRATES {
            let plan = PausePlan {
                then: None,
                unhealthy: true,
            };
            let (_, r) = pause(with_policy(on(substrate, seed, vec![]), "first"), &plan).unwrap();
            assert_clean(&r);
            assert!(
                r.notes
                    .iter()
                    .any(|n| n.starts_with("resume-upgrade refused: Unit ")),
                "{:#?}",
                r.notes
            );
        }
    }
}

#[test]
fn force_upgrade_goes_past_an_incompatible_refresh_and_a_failing_pre_check() {
    for seed in 1..=sweep(2) {
        for substrate in SUBSTRATES {
            for case in [ForceCase::Incompatible, ForceCase::PreCheck] {
                let (sim, r) = force(on(substrate, seed, vec![]), case).unwrap();
                assert_clean(&r);
                assert_eq!(sim.upgrade_order().len(), 3, "{case:?}: {:#?}", r.notes);
            }
        }
    }
}

#[test]
fn an_untrusted_kubernetes_app_says_so_then_upgrades_once_trusted() {
    for seed in 1..=sweep(2) {
        let (sim, r) = upgrade(on(Substrate::K8s, seed, vec![Fault::Untrusted])).unwrap();
        assert_clean(&r);
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("pre-upgrade-check refused: Run juju trust")),
            "{:#?}",
            r.notes
        );
        assert_eq!(sim.upgrade_order().len(), 3);
    }
}

#[test]
fn unit_statuses_say_which_workload_a_unit_runs_and_on_which_charm() {
    for substrate in SUBSTRATES {
        let (sim, r) = pause(
            with_policy(on(substrate, 1, vec![]), "first"),
            &PausePlan::default(),
        )
        .unwrap();
        assert_clean(&r);
        // (The last unit may finish the whole upgrade in its own dispatch and go straight
        // to Active.)
        for n in 1..3 {
            let shown = sim.statuses_shown(n);
            assert!(
                shown.iter().any(|(s, m)| s == "maintenance"
                    && m == "upgrade completed (workload 1.1.0, new charm)"),
                "{substrate:?} unit {n}: {shown:?}"
            );
            assert!(
                shown.iter().all(|(_, m)| m.chars().count() <= 120),
                "{shown:?}"
            );
        }
        if substrate == Substrate::Vm {
            // The unit held by the pause says so, and what it still runs.
            assert!(
                sim.statuses_shown(1).iter().any(|(s, m)| s == "waiting"
                    && m == "paused: waiting for resume-upgrade (workload 1.0.0, new charm)"),
                "{:?}",
                sim.statuses_shown(1)
            );
        }
    }
}

/// `--charm`: the simulator runs a charm other than the reference one, here the repository's
/// key-value example (its directory, whose `dispatch` runs the built binary), on both
/// substrates, upgraded to the revision its second versions file describes and rolled back.
#[test]
fn any_charm_upgrades_from_its_directory() {
    let (sim, _) = binaries();
    let profile_dir = sim.parent().expect("target/<profile>");
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "-q", "-p", "kv-charm"])
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("target"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "building kv-charm failed"
    );
    let charm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/kv-charm");
    for substrate in ["vm", "k8s"] {
        let out = Command::new(&sim)
            .args([
                "upgrade",
                "--units",
                "3",
                "--json",
                "--substrate",
                substrate,
            ])
            .arg("--charm")
            .arg(&charm)
            .arg("--to-versions")
            .arg(charm.join("revisions/versions-1.1.0.json"))
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        assert!(out.status.success(), "{substrate}: {r}");
        assert_eq!(r["violations"].as_array().unwrap().len(), 0, "{r}");
        let units = r["units"].as_array().unwrap();
        assert_eq!(units.len(), 3);
        for unit in units {
            assert!(unit["unit"].as_str().unwrap().starts_with("kv/"), "{unit}");
            assert_eq!(unit["version"], "1.1.0", "{substrate}: {unit}");
            assert_eq!(unit["status"], "active", "{substrate}: {unit}");
        }
    }
    let out = Command::new(&sim)
        .args(["rollback", "--units", "3", "--json", "--charm"])
        .arg(&charm)
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{r}");
    for unit in r["units"].as_array().unwrap() {
        assert_eq!(unit["version"], "1.0.0", "rolled back: {unit}");
    }
    // A path that is neither a directory nor a zip is a usage error, said as one.
    let out = Command::new(&sim)
        .args(["upgrade", "--charm"])
        .arg(charm.join("metadata.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains("not a charm directory") && !err.contains("panicked"),
        "{err}"
    );
}
