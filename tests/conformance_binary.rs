//! The conformance scenarios recorded from the Python reference library, run through real
//! processes: the `scenario-dispatch` binary (the charm's dispatch path with the scenario's
//! hooks) in a Juju-like clean environment, reading the scenario's state from recording hook
//! tools and writing through them. The databags, status, action result or failure and log
//! lines reconstructed from the hook-tool command lines must equal what the reference did.
//! Scenarios whose event Juju cannot send (direct library calls) are covered in-process by
//! the coordinator's own conformance test; documented deviations must just not fail the hook.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use juju_hooks::testing::{RecordedCall, ToolRecorder};
use juju_hooks::StringMap;
use upgrade_coordinator::testing::{deviation_of, Doc, Observed, Scenario};

fn json_map(m: &StringMap) -> String {
    serde_json::to_string(m).unwrap()
}

fn run_scenario(s: &Scenario) -> Result<Observed, String> {
    let dir = tempfile::tempdir().unwrap();
    let charm_dir = dir.path().join("charm");
    std::fs::create_dir_all(&charm_dir).unwrap();
    std::fs::write(
        charm_dir.join("versions.json"),
        s.dependency_model.to_string(),
    )
    .unwrap();
    let tools = ToolRecorder::install(dir.path().join("tools")).unwrap();
    let me = format!("gandalf/{}", s.unit);
    let peers: Vec<String> = s
        .units
        .keys()
        .filter(|id| **id != s.unit)
        .map(|id| format!("gandalf/{id}"))
        .collect();
    tools.respond("state-get", "null\n").unwrap();
    tools
        .respond(
            "relation-ids",
            if s.relation {
                "[\"upgrade:7\"]\n"
            } else {
                "[]\n"
            },
        )
        .unwrap();
    tools
        .respond(
            "relation-list",
            &format!("{}\n", serde_json::to_string(&peers).unwrap()),
        )
        .unwrap();
    for (id, bag) in &s.units {
        tools
            .respond_for(
                "relation-get",
                &format!("gandalf/{id}"),
                &format!("{}\n", json_map(bag)),
            )
            .unwrap();
    }
    if !s.units.contains_key(&s.unit) {
        tools.respond_for("relation-get", &me, "{}\n").unwrap();
    }
    tools
        .respond_for(
            "relation-get",
            "gandalf",
            &format!("{}\n", json_map(&s.app)),
        )
        .unwrap();
    tools
        .respond("is-leader", if s.leader { "true\n" } else { "false\n" })
        .unwrap();
    let planned = s.planned_units.unwrap_or(s.units.len());
    let units: BTreeMap<String, serde_json::Value> = (0..planned)
        .map(|i| {
            (
                format!("gandalf/{i}"),
                serde_json::json!({"status": "active", "since": "2026-11-24 10:00:00Z"}),
            )
        })
        .collect();
    tools
        .respond(
            "goal-state",
            &format!("{}\n", serde_json::json!({"units": units, "relations": {}})),
        )
        .unwrap();

    let path = match s.event.as_str() {
        "relation-created" | "relation-changed" => format!("hooks/upgrade-{}", s.event),
        "upgrade-charm" => "hooks/upgrade-charm".into(),
        "pre-upgrade-check" | "resume-upgrade" => format!("actions/{}", s.event),
        other => return Err(format!("not a Juju event: {other}")),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scenario-dispatch"));
    cmd.env_clear()
        .current_dir(&charm_dir)
        .stdin(Stdio::null())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", tools.bin_dir().display()),
        )
        .env("JUJU_UNIT_NAME", &me)
        .env("JUJU_MODEL_NAME", "middle-earth")
        .env("JUJU_CHARM_DIR", &charm_dir)
        .env("JUJU_VERSION", "3.6.7")
        .env("JUJU_DISPATCH_PATH", &path)
        .env("SCENARIO_HOOKS", serde_json::to_string(&s.hooks).unwrap())
        .env("UPGRADE_COORDINATOR_SUBSTRATE", &s.substrate)
        .env("SCENARIO_DEBUG_LOGS", "1");
    if s.event.starts_with("relation-") {
        cmd.env("JUJU_RELATION", "upgrade")
            .env("JUJU_RELATION_ID", "upgrade:7")
            .env("JUJU_REMOTE_APP", "gandalf")
            .env(
                "JUJU_REMOTE_UNIT",
                peers.first().map(String::as_str).unwrap_or(""),
            );
    }
    if path.starts_with("actions/") {
        cmd.env("JUJU_ACTION_NAME", &s.event)
            .env("JUJU_ACTION_UUID", "42");
    }
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let calls = tools.calls().unwrap();
    Ok(observe(s, &calls))
}

fn observe(s: &Scenario, calls: &[RecordedCall]) -> Observed {
    let mut o = Observed {
        unit_data: if s.relation {
            s.units.get(&s.unit).cloned().unwrap_or_default()
        } else {
            StringMap::new()
        },
        app_data: if s.relation {
            s.app.clone()
        } else {
            StringMap::new()
        },
        status: None,
        action_failure: None,
        action_results: StringMap::new(),
        logs: Vec::new(),
        deferred: false,
        calls: None, // not visible through processes
    };
    for c in calls {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        match c.tool.as_str() {
            "relation-set" => {
                let written: StringMap = serde_json::from_str(&c.stdin).unwrap();
                let bag = if args.contains(&"--app") {
                    &mut o.app_data
                } else {
                    &mut o.unit_data
                };
                for (k, v) in written {
                    if v.is_empty() {
                        bag.remove(&k);
                    } else {
                        bag.insert(k, v);
                    }
                }
            }
            "status-set" if args[0] == "--application=true" => {} // ours, not the reference's
            "status-set" => {
                assert_eq!(args[0], "--application=false");
                assert_eq!(args[2], "--");
                let message = upgrade_coordinator::testing::reference_status(args[3]);
                o.status = Some((args[1].to_owned(), message.to_owned()));
            }
            "action-fail" => o.action_failure = Some(args[1].to_owned()),
            "action-set" => {
                for a in args {
                    let (k, v) = a.split_once('=').unwrap();
                    o.action_results.insert(k.to_owned(), v.to_owned());
                }
            }
            "juju-log" => {
                assert_eq!((args[0], args[2]), ("--log-level", "--"));
                // Consecutive lines of one level arrive in one call.
                for line in args[3].split('\n') {
                    o.logs.push((args[1].to_owned(), line.to_owned()));
                }
            }
            "state-set" => {
                o.deferred |= c.stdin.contains("upgrade_charm") || c.stdin.contains("upgrade-charm")
            }
            _ => {}
        }
    }
    upgrade_coordinator::testing::drop_our_keys(&mut o.unit_data, &mut o.app_data);
    upgrade_coordinator::testing::drop_our_results(&mut o.action_results);
    o
}

#[test]
fn recorded_scenarios_match_the_reference_through_the_binary() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/upgrade-coordinator/tests/scenarios");
    let files = upgrade_coordinator::testing::scenario_files(&dir);
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in &files {
        let doc: Doc = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let (s, r) = (&doc.scenario, &doc.reference);
        if !matches!(
            s.event.as_str(),
            "relation-created"
                | "relation-changed"
                | "upgrade-charm"
                | "pre-upgrade-check"
                | "resume-upgrade"
        ) {
            continue;
        }
        // Juju never sends a relation hook for a relation that does not exist.
        if !s.relation && s.event.starts_with("relation-") {
            continue;
        }
        ran += 1;
        let o = match run_scenario(s) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: {e}", s.name));
                continue;
            }
        };
        if deviation_of(&s.name).is_some() {
            continue;
        }
        // The dispatcher's own lines about deferral (ops logs the same through its own
        // logger, which the recording does not capture) and our WARNING diagnostics aside.
        let mut o = o;
        o.logs.retain(|(l, m)| {
            l != "WARNING" && !m.starts_with("deferring ") && !m.starts_with("re-running deferred ")
        });
        let diffs = r.differences(&o);
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", s.name, diffs.join("\n  ")));
        }
    }
    assert!(ran >= 90, "only {ran} scenarios ran through the binary");
    assert!(
        failures.is_empty(),
        "{} of {ran} differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
