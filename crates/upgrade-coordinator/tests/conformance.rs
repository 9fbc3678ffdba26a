//! Replays the scenarios recorded from the Python reference library
//! (`scripts/record_reference.py`) against the coordinator: same input state and event, same
//! databags, unit status, action result or failure, calls into the charm and log lines.
//! Lines the coordinator adds at WARNING level (its own diagnostics) are not compared: the
//! reference logs nothing at that level. Documented deviations (DEVIATIONS.md) are checked
//! against their own expectations instead.

use std::path::Path;

use juju_hooks::{Status, StringMap, UnitName};
use serde::Deserialize;
use upgrade_coordinator::testing::{
    call_name, event_of, Doc, Observed, Reference, Scenario, ScenarioHooks,
};
use upgrade_coordinator::{
    handle, Call, DependencyModel, Effects, Snapshot, Substrate, UpgradeConfig,
};

/// What our coordinator did, in the reference's terms.
struct Outcome {
    fx: Effects,
    unit_data: StringMap,
    app_data: StringMap,
}

fn run(s: &Scenario) -> Outcome {
    let me = UnitName::new("gandalf", s.unit).unwrap();
    let model = DependencyModel::from_json(&s.dependency_model.to_string()).unwrap();
    let config = UpgradeConfig::new(s.substrate.parse::<Substrate>().unwrap(), model);
    let mut snap = Snapshot::new(me.clone());
    snap.relation = s.relation;
    snap.leader = s.leader;
    snap.app = s.app.clone();
    snap.planned_units = s.planned_units;
    for (id, bag) in &s.units {
        snap.units
            .insert(UnitName::new("gandalf", *id).unwrap(), bag.clone());
    }
    let mut hooks = ScenarioHooks(&s.hooks);
    let fx = handle(&config, &me, &event_of(s).unwrap(), &mut snap, &mut hooks).unwrap();
    let mut unit_data = if s.relation {
        s.units.get(&s.unit).cloned().unwrap_or_default()
    } else {
        StringMap::new()
    };
    unit_data.extend(fx.unit_data.clone());
    let mut app_data = if s.relation {
        s.app.clone()
    } else {
        StringMap::new()
    };
    app_data.extend(fx.app_data.clone());
    upgrade_coordinator::testing::drop_our_keys(&mut unit_data, &mut app_data);
    Outcome {
        fx,
        unit_data,
        app_data,
    }
}

fn status_pair(status: &Option<Status>) -> Option<(String, String)> {
    status.as_ref().map(|s| {
        let message = upgrade_coordinator::testing::reference_status(s.message());
        (s.name().to_owned(), message.to_owned())
    })
}

fn compared_logs(fx: &Effects) -> Vec<(String, String)> {
    fx.logs
        .iter()
        .filter(|l| l.level != juju_hooks::LogLevel::Warning)
        .map(|l| (l.level.as_str().to_owned(), l.message.clone()))
        .collect()
}

/// Compares everything; returns the differences.
fn differences(_s: &Scenario, r: &Reference, o: &Outcome) -> Vec<String> {
    r.differences(&Observed {
        unit_data: o.unit_data.clone(),
        app_data: o.app_data.clone(),
        status: status_pair(&o.fx.status),
        action_failure: o.fx.action_failure.clone(),
        action_results: {
            let mut r = o.fx.action_results.clone();
            upgrade_coordinator::testing::drop_our_results(&mut r);
            r
        },
        deferred: o.fx.deferred,
        calls: Some(o.fx.calls.iter().map(call_name).collect()),
        logs: compared_logs(&o.fx),
    })
}

/// Scenarios where we deliberately differ (DEVIATIONS.md), with what we do instead.
fn check_deviation(s: &Scenario, r: &Reference, o: &Outcome) -> Option<Result<(), String>> {
    let ensure = |ok: bool, why: &str| if ok { Ok(()) } else { Err(why.to_owned()) };
    let state = o.unit_data.get("state").map(String::as_str);
    Some(match s.name.as_str() {
        // D1: units in the stack but absent from the relation (they departed): the leader
        // takes them out of the stack (a warning says so) instead of crashing on them;
        // non-leaders wait for it.
        "changed_top_unit_not_in_relation" => ensure(
            o.fx.app_data.get("upgrade-stack").map(String::as_str) == Some("[0, 1]")
                && o.fx
                    .logs
                    .iter()
                    .any(|l| l.message.contains("follows the units in the relation")),
            "the leader must drop the absent unit 5 from the stack",
        ),
        "upgrade_charm_first_to_rollback_vm_leader_top_absent_peers"
        | "upgrade_charm_first_to_rollback_vm_leader_True" => ensure(
            matches!(state, Some("completed" | "idle" | "upgrading" | "ready"))
                && !o
                    .app_data
                    .get("upgrade-stack")
                    .is_some_and(|s| s.contains('1') || s.contains('2')),
            "the leader drops the absent units 1 and 2 and rolls itself back",
        ),
        // D2: stored dependencies missing, incomplete or malformed: compared where
        // possible, otherwise the upgrade proceeds with a warning.
        "upgrade_charm_vm_leader_without_stored_deps"
        | "upgrade_charm_vm_leader_stored_deps_missing_field"
        | "upgrade_charm_vm_leader_stored_deps_malformed" => ensure(
            matches!(state, Some("ready" | "upgrading"))
                && o.fx
                    .logs
                    .iter()
                    .any(|l| l.level == juju_hooks::LogLevel::Warning),
            "missing/unreadable stored dependencies must warn and proceed",
        ),
        // D3: malformed upgrade-stack: treated as no stack, with an error that says so.
        "upgrade_charm_malformed_stack" | "changed_malformed_stack_nonlist" => ensure(
            o.fx.app_data.is_empty()
                && o.fx
                    .logs
                    .iter()
                    .any(|l| l.message.contains("ignoring the stored upgrade-stack")),
            "malformed stack must be reported and ignored",
        ),
        // D4: the rollback instructions are logged once on a partition failure (the
        // reference logs them twice); everything else matches.
        "finished_k8s_leader_False_unit_1_error" | "completed_k8s_partition_error" => {
            let twice = r
                .calls
                .iter()
                .filter(|c| *c == "log_rollback_instructions")
                .count();
            ensure(
                twice == 2
                    && o.fx.count(&Call::LogRollbackInstructions) == 1
                    && o.unit_data == r.unit_data
                    && status_pair(&o.fx.status) == r.unit_status,
                "rollback instructions once, same state and status",
            )
        }
        // D5: a DependencyError from the granted hook leaves ops' `upgrade_granted` notice
        // stored, so the reference re-runs the granted hook at the unit's next dispatch (on a
        // unit already marked failed). We mark the unit failed once and re-run nothing.
        "changed_vm_grant_dependency_error" => ensure(
            r.deferred == ["upgrade_granted"] && !o.fx.deferred && differences(s, r, o).is_empty(),
            "same outcome, without the stale re-emission",
        ),
        _ => return None,
    })
}

#[test]
fn every_recorded_scenario_matches_the_reference() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let files = upgrade_coordinator::testing::scenario_files(&dir);
    assert!(files.len() >= 120, "only {} scenarios", files.len());
    let mut failures = Vec::new();
    let (mut exact, mut deviations) = (0, 0);
    for path in &files {
        let doc: Doc = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (s, r) = (&doc.scenario, &doc.reference);
        let o = run(s);
        let checked = check_deviation(s, r, &o);
        assert_eq!(
            checked.is_some(),
            upgrade_coordinator::testing::deviation_of(&s.name).is_some(),
            "{}: the deviation list in testing.rs and the checks here disagree",
            s.name
        );
        match checked {
            Some(Ok(())) => deviations += 1,
            Some(Err(why)) => failures.push(format!("{} (deviation): {why}\n{:#?}", s.name, o.fx)),
            None => {
                if let Some(crash) = &r.crashed {
                    failures.push(format!(
                        "{}: the reference crashed ({crash}) but no deviation is documented",
                        s.name
                    ));
                    continue;
                }
                let diffs = differences(s, r, &o);
                if diffs.is_empty() {
                    exact += 1;
                } else {
                    failures.push(format!("{}:\n  {}", s.name, diffs.join("\n  ")));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    eprintln!("{exact} scenarios identical to the reference, {deviations} documented deviations");
}

#[derive(Debug, Deserialize)]
struct Tables {
    cluster_state: Vec<(String, String, Option<String>)>,
    dependency_model: Vec<ModelCase>,
}

#[derive(Debug, Deserialize)]
struct ModelCase {
    name: String,
    model: serde_json::Value,
    valid: bool,
}

fn tables() -> Tables {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference_tables.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn cluster_state_matches_the_reference_for_every_pair() {
    let t = tables();
    assert_eq!(t.cluster_state.len(), 64);
    for (a, b, expected) in &t.cluster_state {
        let got = upgrade_coordinator::cluster_state([Some(a.as_str()), Some(b.as_str())]);
        assert_eq!(got.map(|s| s.as_str().to_owned()), *expected, "{a:?} {b:?}");
    }
}

#[test]
fn dependency_model_validation_matches_the_reference() {
    let t = tables();
    assert!(t.dependency_model.len() >= 12);
    for case in &t.dependency_model {
        let got = DependencyModel::from_json(&case.model.to_string());
        assert_eq!(got.is_ok(), case.valid, "{}: {got:?}", case.name);
    }
}
