//! `ProcessHookTools` against recording hook-tool executables: real processes, real argument
//! vectors and stdin, and each tool's real output format (Go `encoding/json`: compact, sorted
//! keys, trailing newline, `null` for nothing).

use std::collections::BTreeMap;

use juju_hooks::testing::{RecordedCall, ToolRecorder};
use juju_hooks::{
    Bag, HookToolError, HookTools, LogLevel, ProcessHookTools, RelationId, Status, StatusScope,
    UnitName, WriteTarget,
};

fn setup() -> (tempfile::TempDir, ToolRecorder, ProcessHookTools) {
    let dir = tempfile::tempdir().unwrap();
    let rec = ToolRecorder::install(dir.path().join("tools")).unwrap();
    let tools = ProcessHookTools::in_dir(rec.bin_dir());
    (dir, rec, tools)
}

fn call(tool: &str, args: &[&str], stdin: &str) -> RecordedCall {
    RecordedCall {
        tool: tool.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: stdin.into(),
    }
}

fn rel() -> RelationId {
    "upgrade:3".parse().unwrap()
}

fn unit(s: &str) -> UnitName {
    s.parse().unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn relation_ids_lists_and_parses() {
    let (_d, rec, tools) = setup();
    rec.respond("relation-ids", "[\"upgrade:10\",\"upgrade:9\"]\n")
        .unwrap();
    let ids = tools.relation_ids("upgrade").unwrap();
    assert_eq!(
        ids,
        vec![
            "upgrade:10".parse::<RelationId>().unwrap(),
            "upgrade:9".parse().unwrap()
        ]
    );
    assert_eq!(
        rec.calls().unwrap(),
        vec![call("relation-ids", &["--format=json", "upgrade"], "")]
    );
}

#[test]
fn relation_ids_empty_and_garbage() {
    let (_d, rec, tools) = setup();
    rec.respond("relation-ids", "[]\n").unwrap();
    assert!(tools.relation_ids("nope").unwrap().is_empty());
    rec.respond("relation-ids", "[\"not a relation\"]\n")
        .unwrap();
    let err = tools.relation_ids("upgrade").unwrap_err();
    assert!(matches!(err, HookToolError::Output { .. }), "{err}");
    assert!(err.to_string().contains("relation-ids"), "{err}");
}

#[test]
fn relation_list_units_and_app() {
    let (_d, rec, tools) = setup();
    rec.respond_nth("relation-list", 1, "[\"db/1\",\"db/2\"]\n", "", 0)
        .unwrap();
    rec.respond_nth("relation-list", 2, "\"db\"\n", "", 0)
        .unwrap();
    assert_eq!(
        tools.relation_list(&rel()).unwrap(),
        vec![unit("db/1"), unit("db/2")]
    );
    assert_eq!(
        tools.relation_remote_app(&rel()).unwrap().as_deref(),
        Some("db")
    );
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call("relation-list", &["--format=json", "-r", "upgrade:3"], ""),
            call(
                "relation-list",
                &["--format=json", "--app", "-r", "upgrade:3"],
                ""
            ),
        ]
    );
}

#[test]
fn relation_list_relation_not_found_is_typed() {
    let (_d, rec, tools) = setup();
    rec.fail(
        "relation-list",
        2,
        "ERROR invalid value \"upgrade:3\" for option -r: relation not found\n",
    )
    .unwrap();
    let err = tools.relation_list(&rel()).unwrap_err();
    assert!(err.is_relation_not_found());
    assert_eq!(err.exit_code(), Some(2));
    let text = err.to_string();
    assert!(
        text.contains("relation-list --format=json -r upgrade:3")
            && text.contains("exit code 2")
            && text.contains("relation not found"),
        "{text}"
    );
}

#[test]
fn relation_get_unit_and_app_bags() {
    let (_d, rec, tools) = setup();
    rec.respond_nth("relation-get", 1, "{\"state\":\"idle\"}\n", "", 0)
        .unwrap();
    rec.respond_nth(
        "relation-get",
        2,
        "{\"dependencies\":\"{}\",\"upgrade-stack\":\"[0, 1]\"}\n",
        "",
        0,
    )
    .unwrap();
    rec.respond_nth("relation-get", 3, "null\n", "", 0).unwrap();
    assert_eq!(
        tools
            .relation_get(&rel(), &Bag::Unit(unit("db/0")))
            .unwrap(),
        map(&[("state", "idle")])
    );
    assert_eq!(
        tools.relation_get(&rel(), &Bag::App("db".into())).unwrap(),
        map(&[("dependencies", "{}"), ("upgrade-stack", "[0, 1]")])
    );
    assert!(tools
        .relation_get(&rel(), &Bag::Unit(unit("db/4")))
        .unwrap()
        .is_empty());
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "-", "db/0"],
                ""
            ),
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "--app", "-", "db"],
                ""
            ),
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "-", "db/4"],
                ""
            ),
        ]
    );
}

#[test]
fn relation_get_permission_denied() {
    let (_d, rec, tools) = setup();
    rec.fail("relation-get", 1, "ERROR permission denied\n")
        .unwrap();
    let err = tools
        .relation_get(&rel(), &Bag::App("other".into()))
        .unwrap_err();
    assert!(err.is_permission_denied());
    assert_eq!(err.exit_code(), Some(1));
}

#[test]
fn relation_get_non_string_values_are_an_output_error() {
    let (_d, rec, tools) = setup();
    rec.respond("relation-get", "{\"state\":3}\n").unwrap();
    let err = tools
        .relation_get(&rel(), &Bag::Unit(unit("db/0")))
        .unwrap_err();
    assert!(matches!(err, HookToolError::Output { .. }), "{err}");
}

#[test]
fn relation_set_sends_json_on_stdin_never_argv() {
    let (_d, rec, tools) = setup();
    let big = "x".repeat(300_000); // larger than one argv argument may be
    let data = map(&[("state", "idle"), ("blob", &big), ("gone", "")]);
    tools
        .relation_set(&rel(), WriteTarget::OwnUnit, &data)
        .unwrap();
    tools
        .relation_set(
            &rel(),
            WriteTarget::OwnApp,
            &map(&[("upgrade-stack", "[0, 1, 2]")]),
        )
        .unwrap();
    let calls = rec.calls().unwrap();
    assert_eq!(calls[0].args, ["-r", "upgrade:3", "--file", "-"]);
    let sent: BTreeMap<String, String> = serde_json::from_str(&calls[0].stdin).unwrap();
    assert_eq!(sent, data);
    assert_eq!(
        calls[1],
        call(
            "relation-set",
            &["-r", "upgrade:3", "--app", "--file", "-"],
            "{\"upgrade-stack\":\"[0, 1, 2]\"}"
        )
    );
}

#[test]
fn relation_set_non_leader_error() {
    let (_d, rec, tools) = setup();
    rec.fail("relation-set", 1, "ERROR cannot write relation settings\n")
        .unwrap();
    let err = tools
        .relation_set(&rel(), WriteTarget::OwnApp, &map(&[("k", "v")]))
        .unwrap_err();
    assert!(err.is_not_leader(), "{err}");
}

#[test]
fn is_leader_true_false_and_garbage() {
    let (_d, rec, tools) = setup();
    rec.respond_nth("is-leader", 1, "true\n", "", 0).unwrap();
    rec.respond_nth("is-leader", 2, "false\n", "", 0).unwrap();
    rec.respond_nth("is-leader", 3, "True\n", "", 0).unwrap();
    assert!(tools.is_leader().unwrap());
    assert!(!tools.is_leader().unwrap());
    assert!(matches!(
        tools.is_leader(),
        Err(HookToolError::Output { .. })
    ));
    assert!(rec
        .calls()
        .unwrap()
        .iter()
        .all(|c| c.args == ["--format=json"]));
}

#[test]
fn status_set_unit_and_application_with_dash_message() {
    let (_d, rec, tools) = setup();
    tools
        .status_set(
            StatusScope::Unit,
            &Status::Waiting("other units upgrading first...".into()),
        )
        .unwrap();
    tools
        .status_set(
            StatusScope::Application,
            &Status::Blocked("--looks like a flag".into()),
        )
        .unwrap();
    tools
        .status_set(StatusScope::Unit, &Status::Active(String::new()))
        .unwrap();
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call(
                "status-set",
                &[
                    "--application=false",
                    "waiting",
                    "--",
                    "other units upgrading first..."
                ],
                ""
            ),
            call(
                "status-set",
                &["--application=true", "blocked", "--", "--looks like a flag"],
                ""
            ),
            call(
                "status-set",
                &["--application=false", "active", "--", ""],
                ""
            ),
        ]
    );
}

#[test]
fn status_get_unit_and_application_formats() {
    let (_d, rec, tools) = setup();
    rec.respond_nth(
        "status-get",
        1,
        "{\"message\":\"upgrading...\",\"status\":\"maintenance\",\"status-data\":{}}\n",
        "",
        0,
    )
    .unwrap();
    rec.respond_nth(
        "status-get",
        2,
        "{\"application-status\":{\"message\":\"\",\"status\":\"active\",\"status-data\":{},\"units\":{\"db/0\":{\"message\":\"\",\"status\":\"active\",\"status-data\":{}}}}}\n",
        "",
        0,
    )
    .unwrap();
    let u = tools.status_get(StatusScope::Unit).unwrap();
    assert_eq!(
        (u.status.as_str(), u.message.as_str()),
        ("maintenance", "upgrading...")
    );
    let a = tools.status_get(StatusScope::Application).unwrap();
    assert_eq!((a.status.as_str(), a.message.as_str()), ("active", ""));
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call(
                "status-get",
                &["--include-data", "--format=json", "--application=false"],
                ""
            ),
            call(
                "status-get",
                &["--include-data", "--format=json", "--application=true"],
                ""
            ),
        ]
    );
}

#[test]
fn action_get_params_and_null() {
    let (_d, rec, tools) = setup();
    rec.respond_nth(
        "action-get",
        1,
        "{\"force\":true,\"unit\":{\"id\":3}}\n",
        "",
        0,
    )
    .unwrap();
    rec.respond_nth("action-get", 2, "null\n", "", 0).unwrap();
    let p = tools.action_get().unwrap();
    assert_eq!(p["force"], serde_json::json!(true));
    assert_eq!(p["unit"]["id"], serde_json::json!(3));
    assert!(tools.action_get().unwrap().is_empty());
    assert!(rec
        .calls()
        .unwrap()
        .iter()
        .all(|c| c.args == ["--format=json"]));
}

#[test]
fn action_set_fail_and_log() {
    let (_d, rec, tools) = setup();
    tools
        .action_set(&map(&[
            ("message", "Upgrade will resume on unit 2"),
            ("a.b", "x=y"),
        ]))
        .unwrap();
    tools
        .action_fail("Action must be ran on the Juju leader.")
        .unwrap();
    tools.action_log("-started").unwrap();
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call(
                "action-set",
                &["a.b=x=y", "message=Upgrade will resume on unit 2"],
                ""
            ),
            call(
                "action-fail",
                &["--", "Action must be ran on the Juju leader."],
                ""
            ),
            call("action-log", &["--", "-started"], ""),
        ]
    );
}

#[test]
fn action_set_refuses_keys_juju_refuses_without_running() {
    let (_d, rec, tools) = setup();
    for bad in ["Message", "stdout", "-a", "a..b", "a_b", ""] {
        let err = tools.action_set(&map(&[(bad, "v")])).unwrap_err();
        assert!(
            matches!(err, HookToolError::Invalid { .. }),
            "{bad:?}: {err}"
        );
    }
    assert!(tools.action_set(&BTreeMap::new()).is_ok());
    assert!(rec.calls().unwrap().is_empty());
}

#[test]
fn action_fail_outside_action() {
    let (_d, rec, tools) = setup();
    rec.fail("action-fail", 1, "ERROR not running an action\n")
        .unwrap();
    let err = tools.action_fail("x").unwrap_err();
    assert!(err.to_string().contains("not running an action"), "{err}");
}

#[test]
fn juju_log_levels_and_long_messages_split() {
    let (_d, rec, tools) = setup();
    tools
        .juju_log(LogLevel::Debug, "Cluster in recovery, skip...")
        .unwrap();
    tools.juju_log(LogLevel::Error, "-x").unwrap();
    let long = "é".repeat(100_000); // 200,000 bytes: more than one argument may hold
    tools.juju_log(LogLevel::Info, &long).unwrap();
    let calls = rec.calls().unwrap();
    assert_eq!(
        calls[0],
        call(
            "juju-log",
            &["--log-level", "DEBUG", "--", "Cluster in recovery, skip..."],
            ""
        )
    );
    assert_eq!(
        calls[1],
        call("juju-log", &["--log-level", "ERROR", "--", "-x"], "")
    );
    assert_eq!(calls.len(), 4);
    let rejoined: String = calls[2..].iter().map(|c| c.args[3].clone()).collect();
    assert_eq!(rejoined, long);
    assert!(calls[2..].iter().all(|c| c.args[3].len() < 128 * 1024));
}

#[test]
fn state_get_set_delete() {
    let (_d, rec, tools) = setup();
    rec.respond_nth("state-get", 1, "{\"a\":\"1\",\"b\":\"2\"}\n", "", 0)
        .unwrap();
    rec.respond_nth("state-get", 2, "null\n", "", 0).unwrap();
    assert_eq!(tools.state_get().unwrap(), map(&[("a", "1"), ("b", "2")]));
    assert!(tools.state_get().unwrap().is_empty());
    tools.state_set(&map(&[("k", "v\nw")])).unwrap();
    tools.state_delete("k").unwrap();
    let calls = rec.calls().unwrap();
    assert_eq!(calls[0], call("state-get", &["--format=json"], ""));
    assert_eq!(
        calls[2],
        call("state-set", &["--file", "-"], "{\"k\":\"v\\nw\"}")
    );
    assert_eq!(calls[3], call("state-delete", &["--", "k"], ""));
}

#[test]
fn application_version_goal_state_config() {
    let (_d, rec, tools) = setup();
    rec.respond(
        "goal-state",
        "{\"relations\":{\"upgrade\":{\"db\":{\"since\":\"2026-11-24 10:00:00Z\",\"status\":\"joined\"}}},\"units\":{\"db/0\":{\"since\":\"2026-11-24 10:00:00Z\",\"status\":\"active\"},\"db/1\":{\"since\":\"2026-11-24 10:00:00Z\",\"status\":\"dying\"}}}\n",
    )
    .unwrap();
    rec.respond("config-get", "{\"log-level\":\"info\",\"port\":5432}\n")
        .unwrap();
    tools.application_version_set("-1.2.3").unwrap();
    let g = tools.goal_state().unwrap();
    assert_eq!(g.units.len(), 2);
    assert_eq!(g.planned_units(), 1);
    assert_eq!(g.relations["upgrade"]["db"].status, "joined");
    let c = tools.config_get().unwrap();
    assert_eq!(c["port"], serde_json::json!(5432));
    assert_eq!(
        rec.calls().unwrap(),
        vec![
            call("application-version-set", &["--", "-1.2.3"], ""),
            call("goal-state", &["--format=json"], ""),
            call("config-get", &["--format=json"], ""),
        ]
    );
}

#[test]
fn missing_tool_is_a_spawn_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let tools = ProcessHookTools::in_dir(dir.path());
    let err = tools.is_leader().unwrap_err();
    assert!(matches!(err, HookToolError::Spawn { .. }));
    assert!(err.to_string().contains("is-leader --format=json"), "{err}");
}

#[test]
fn oversized_argument_is_refused_before_running() {
    let (_d, rec, tools) = setup();
    let err = tools.action_fail(&"x".repeat(200_000)).unwrap_err();
    assert!(matches!(err, HookToolError::Invalid { .. }), "{err}");
    assert!(rec.calls().unwrap().is_empty());
}

#[test]
fn killed_tool_reports_signal() {
    let (_d, rec, tools) = setup();
    // A tool killed by a signal has no exit code.
    let script = rec.bin_dir().join("is-leader");
    std::fs::remove_file(&script).unwrap();
    std::fs::write(&script, "#!/bin/sh\nkill -9 $$\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = tools.is_leader().unwrap_err();
    assert_eq!(err.exit_code(), None);
    assert!(err.to_string().contains("killed by a signal"), "{err}");
}
