//! The operator's scenarios: what `juju-sim upgrade` and `juju-sim rollback` do, step by step,
//! and the end state each must reach.

use anyhow::Result;

use crate::sim::{Fault, Phase, Report, Revision, Sim, SimConfig};

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
/// documented end state is checked instead.
pub fn upgrade(cfg: SimConfig) -> Result<(Sim, Report)> {
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
    let mut sim = Sim::new(cfg)?;
    let mut notes = Vec::new();
    let old = old_revision();
    let target = if incompatible {
        incompatible_revision()
    } else {
        new_revision()
    };

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
    if has(sim.config(), |f| *f == Fault::NoPreCheck) {
        // The operator forgets the pre-upgrade-check: the refresh must be detected, the
        // application Blocked with the next step, nobody upgraded; then the check starts it.
        sim.arm_faults(&target)?;
        sim.refresh(&target)?;
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "refreshed to revision {} without pre-upgrade-check: settled in {n} hooks",
            target.number
        ));
        let want = format!(
            "Refreshed without pre-upgrade-check: run juju run {}/leader pre-upgrade-check",
            crate::sim::APP
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
        let pre = sim.run_action(leader, "pre-upgrade-check")?;
        if let Some(m) = &pre.failure {
            sim.violations
                .push(format!("pre-upgrade-check after the refresh failed: {m}"));
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
                let resume = sim.run_action(leader, "resume-upgrade")?;
                notes.push(format!(
                    "resume-upgrade: {:?} {:?}",
                    resume.results, resume.failure
                ));
                let n = sim.settle(budget(units))?;
                notes.push(format!("settled in {n} hooks"));
            }
        }
        sim.check_final(&target);
        sim.check_each_upgraded_once();
        let report = sim.report("upgrade", notes);
        return Ok((sim, report));
    }
    let pre = sim.run_action(leader, "pre-upgrade-check")?;
    match &pre.failure {
        Some(msg) => {
            notes.push(format!("pre-upgrade-check failed: {msg}"));
            if unhealthy.is_none() {
                sim.violations
                    .push(format!("pre-upgrade-check failed unexpectedly: {msg}"));
            }
            if sim.app_bag().contains_key("upgrade-stack") {
                sim.violations
                    .push("a failed pre-upgrade-check wrote an upgrade stack".into());
            }
            let report = sim.report("upgrade", notes);
            return Ok((sim, report));
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
    sim.refresh(&target)?;
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
        let resume = sim.run_action(leader, "resume-upgrade")?;
        match &resume.failure {
            Some(m) => sim.violations.push(format!("resume-upgrade failed: {m}")),
            None => notes.push(format!(
                "resume-upgrade: {}",
                resume.results.get("message").cloned().unwrap_or_default()
            )),
        }
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "settled in {n} hooks; partitions set: {:?}",
            sim.partitions()
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
        let report = sim.report("upgrade", notes);
        return Ok((sim, report));
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
        let report = sim.report("upgrade", notes);
        return Ok((sim, report));
    }
    sim.check_final(&target);
    sim.check_each_upgraded_once();
    let report = sim.report("upgrade", notes);
    Ok((sim, report))
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
    let (mut sim, mut report) = upgrade(cfg)?;
    let mut notes = std::mem::take(&mut report.notes);
    let leader = sim.leader();
    let pre = sim.run_action(leader, "pre-upgrade-check")?;
    notes.push(match &pre.failure {
        Some(m) => format!("rollback pre-upgrade-check failed: {m}"),
        None => format!(
            "rollback pre-upgrade-check: stack {}, leader {:?}",
            sim.app_bag()
                .get("upgrade-stack")
                .cloned()
                .unwrap_or_default(),
            sim.unit_view(leader as u32)
        ),
    });
    sim.clear_injected_workload_faults()?;
    let old = old_revision();
    sim.refresh(&old)?;
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
        let resume = sim.run_action(leader, "resume-upgrade")?;
        notes.push(match &resume.failure {
            Some(m) => format!("rollback resume-upgrade failed: {m}"),
            None => format!("rollback resume-upgrade: {:?}", resume.results),
        });
        let n = sim.settle(budget(units))?;
        notes.push(format!(
            "settled in {n} hooks; partitions set: {:?}",
            sim.partitions()
        ));
    }
    sim.check_final(&old);
    let report = sim.report("rollback", notes);
    Ok((sim, report))
}
