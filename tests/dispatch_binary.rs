//! The real `dispatch` binary, run as Juju runs it (a clean environment, cwd = charm dir,
//! stdin from the null device), against recording hook-tool executables on `PATH`.
//! Each test asserts the exact argument vectors and stdin the tools received, and the exit
//! code and stderr Juju would see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use juju_hooks::testing::{RecordedCall, ToolRecorder};

struct Unit {
    _dir: tempfile::TempDir,
    charm_dir: PathBuf,
    workload_dir: PathBuf,
    tools: ToolRecorder,
}

impl Unit {
    fn new() -> Unit {
        let dir = tempfile::tempdir().unwrap();
        let charm_dir = dir.path().join("charm");
        std::fs::create_dir_all(&charm_dir).unwrap();
        std::fs::write(charm_dir.join("versions.json"), VERSIONS).unwrap();
        let workload_dir = dir.path().join("workload");
        let tools = ToolRecorder::install(dir.path().join("tools")).unwrap();
        // A fresh unit has no charm state.
        tools.respond("state-get", "null\n").unwrap();
        Unit {
            _dir: dir,
            charm_dir,
            workload_dir,
            tools,
        }
    }

    /// The environment Juju 3.6 builds for a hook (no HOME, tools dir first on PATH).
    fn command(&self, program: &Path, dispatch_path: Option<&str>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .current_dir(&self.charm_dir)
            .stdin(Stdio::null())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.tools.bin_dir().display()),
            )
            .env("JUJU_UNIT_NAME", "db/0")
            .env("JUJU_MODEL_NAME", "prod")
            .env("JUJU_MODEL_UUID", "8b4a1f6e-0000-4000-8000-000000000000")
            .env("JUJU_CHARM_DIR", &self.charm_dir)
            .env("CHARM_DIR", &self.charm_dir)
            .env("JUJU_VERSION", "3.6.7")
            .env("JUJU_CONTEXT_ID", "db/0-upgrade-charm-1234")
            .env("JUJU_HOOK_NAME", "")
            .env("LANG", "C.UTF-8")
            .env("UPGRADE_COORDINATOR_SUBSTRATE", "vm")
            .env("UPGRADE_COORDINATOR_WORKLOAD_DIR", &self.workload_dir);
        if let Some(p) = dispatch_path {
            cmd.env("JUJU_DISPATCH_PATH", p);
            if let Some(hook) = p.strip_prefix("hooks/") {
                cmd.env("JUJU_HOOK_NAME", hook);
            }
        }
        cmd
    }

    fn dispatch(&self, dispatch_path: &str, extra: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(
            Path::new(env!("CARGO_BIN_EXE_dispatch")),
            Some(dispatch_path),
        );
        cmd.envs(extra.iter().copied());
        cmd.output().unwrap()
    }

    fn calls(&self) -> Vec<RecordedCall> {
        self.tools.calls().unwrap()
    }
}

/// The repository's versions file: workload 1.0.0.
const VERSIONS: &str = include_str!("../versions.json");

fn call(tool: &str, args: &[&str], stdin: &str) -> RecordedCall {
    RecordedCall {
        tool: tool.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: stdin.into(),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const STATE_GET: (&str, &[&str]) = ("state-get", &["--format=json"]);

fn state_get() -> RecordedCall {
    call(STATE_GET.0, STATE_GET.1, "")
}

fn log(level: &str, message: &str) -> RecordedCall {
    call("juju-log", &["--log-level", level, "--", message], "")
}

fn status(name: &str, message: &str) -> RecordedCall {
    call(
        "status-set",
        &["--application=false", name, "--", message],
        "",
    )
}

impl Unit {
    /// A unit in the peer relation `upgrade:3` with `peers`, bags as given (JSON).
    fn in_relation(&self, leader: bool, bags: &[(&str, &str)], app: &str) {
        let t = &self.tools;
        t.respond("relation-ids", "[\"upgrade:3\"]\n").unwrap();
        let peers: Vec<&str> = bags
            .iter()
            .map(|(u, _)| *u)
            .filter(|u| *u != "db/0")
            .collect();
        t.respond(
            "relation-list",
            &format!("{}\n", serde_json::to_string(&peers).unwrap()),
        )
        .unwrap();
        for (unit, bag) in bags {
            t.respond_for("relation-get", unit, &format!("{bag}\n"))
                .unwrap();
        }
        t.respond_for("relation-get", "db", &format!("{app}\n"))
            .unwrap();
        t.respond("is-leader", if leader { "true\n" } else { "false\n" })
            .unwrap();
    }

    fn workload_file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.workload_dir.join(name)).ok()
    }

    fn set_workload(&self, version: &str) {
        std::fs::create_dir_all(&self.workload_dir).unwrap();
        std::fs::write(self.workload_dir.join("version"), format!("{version}\n")).unwrap();
        std::fs::write(self.workload_dir.join("running"), format!("{version}\n")).unwrap();
    }
}

const RELATION_CHANGED_ENV: &[(&str, &str)] = &[
    ("JUJU_RELATION", "upgrade"),
    ("JUJU_RELATION_ID", "upgrade:3"),
    ("JUJU_REMOTE_APP", "db"),
    ("JUJU_REMOTE_UNIT", "db/1"),
];

#[test]
fn install_installs_and_starts_the_workload_of_the_versions_file() {
    let u = Unit::new();
    u.tools.respond("relation-ids", "[]\n").unwrap();
    let out = u.dispatch("hooks/install", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call("relation-ids", &["--format=json", "upgrade"], ""),
            call("application-version-set", &["--", "1.0.0"], ""),
            status("active", ""),
        ]
    );
    assert_eq!(u.workload_file("running").as_deref(), Some("1.0.0\n"));
}

#[test]
fn a_broken_workload_blocks_the_unit_with_the_reason() {
    let u = Unit::new();
    u.tools.respond("relation-ids", "[]\n").unwrap();
    std::fs::create_dir_all(&u.workload_dir).unwrap();
    std::fs::write(u.workload_dir.join("fail-start"), "port 8080 in use").unwrap();
    let out = u.dispatch("hooks/install", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    assert_eq!(
        calls.last().unwrap(),
        &status(
            "blocked",
            "workload: start failed: port 8080 in use (injected fault)"
        )
    );
}

#[test]
fn upgrade_charm_before_the_peer_relation_is_deferred_then_rerun_once() {
    let u = Unit::new();
    u.tools.respond("relation-ids", "[]\n").unwrap();
    let out = u.dispatch("hooks/upgrade-charm", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let queue = r#"{"juju-hooks.deferred":"{\"v\":1,\"events\":[{\"event\":\"upgrade-charm\"}]}"}"#;
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call("relation-ids", &["--format=json", "upgrade"], ""),
            call("state-set", &["--file", "-"], queue),
        ]
    );

    // Next dispatch: Juju hands back the committed state; the relation now exists. The
    // deferred upgrade-charm runs first (no stack yet: the reference's error line), then
    // relation-created writes `state=idle` and the health fields, in one relation-set.
    u.tools.clear().unwrap();
    let stored: serde_json::Value = serde_json::from_str(queue).unwrap();
    u.tools
        .respond("state-get", &format!("{stored}\n"))
        .unwrap();
    u.in_relation(false, &[("db/0", "{}")], "{}");
    u.set_workload("1.0.0");
    let out = u.dispatch(
        "hooks/upgrade-relation-created",
        &[
            ("JUJU_RELATION", "upgrade"),
            ("JUJU_RELATION_ID", "upgrade:3"),
            ("JUJU_REMOTE_APP", "db"),
            ("JUJU_REMOTE_UNIT", ""),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The hints say a queue may exist: it is read. The peer relation is the event's own: no
    // relation-ids. This unit's bag is written without being read. The log line goes out
    // before the writes.
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "--app", "-", "db"],
                ""
            ),
            call("is-leader", &["--format=json"], ""),
            log(
                "ERROR",
                "Cluster upgrade failed, ensure pre-upgrade checks are ran first."
            ),
            call(
                "relation-set",
                &["-r", "upgrade:3", "--file", "-"],
                r#"{"state":"idle","workload-health":"healthy","workload-version":"1.0.0"}"#
            ),
            call("state-delete", &["--", "juju-hooks.deferred"], ""),
        ]
    );
}

#[test]
fn pre_upgrade_check_on_the_leader_writes_a_leader_last_stack() {
    let u = Unit::new();
    u.set_workload("1.0.0");
    let healthy = r#"{"state":"idle","workload-health":"healthy","workload-version":"1.0.0"}"#;
    u.in_relation(
        true,
        &[("db/0", healthy), ("db/1", healthy), ("db/2", healthy)],
        "{}",
    );
    let out = u.dispatch(
        "actions/pre-upgrade-check",
        &[
            ("JUJU_ACTION_NAME", "pre-upgrade-check"),
            ("JUJU_ACTION_UUID", "7"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    let sets: Vec<&RecordedCall> = calls.iter().filter(|c| c.tool == "relation-set").collect();
    assert_eq!(
        sets,
        vec![&call(
            "relation-set",
            &["-r", "upgrade:3", "--app", "--file", "-"],
            r#"{"upgrade-round":"1","upgrade-stack":"[0, 1, 2]"}"#
        )]
    );
    // The result tells the refresh, the way back and the pause policy (the machine
    // default: none).
    let results: Vec<&RecordedCall> = calls.iter().filter(|c| c.tool == "action-set").collect();
    assert_eq!(results.len(), 1, "{calls:#?}");
    assert!(results[0]
        .args
        .contains(&"pause-after-unit-refresh=none".to_owned()));
    assert!(results[0]
        .args
        .iter()
        .any(|a| a.starts_with("rollback-command=juju refresh db --revision")));
    assert!(!calls.iter().any(|c| c.tool == "action-fail"), "{calls:#?}");
}

#[test]
fn pre_upgrade_check_remembers_the_charm_to_refresh_back_to() {
    let u = Unit::new();
    u.set_workload("1.0.0");
    std::fs::write(
        u.charm_dir.join(".juju-charm"),
        "ch:amd64/noble/upgrade-reference-12\n",
    )
    .unwrap();
    let healthy = r#"{"state":"idle","workload-health":"healthy"}"#;
    u.in_relation(true, &[("db/0", healthy), ("db/1", healthy)], "{}");
    let out = u.dispatch(
        "actions/pre-upgrade-check",
        &[
            ("JUJU_ACTION_NAME", "pre-upgrade-check"),
            ("JUJU_ACTION_UUID", "7"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(u.calls().contains(&call(
        "relation-set",
        &["-r", "upgrade:3", "--app", "--file", "-"],
        r#"{"rollback-charm":"ch:amd64/noble/upgrade-reference-12","upgrade-round":"1","upgrade-stack":"[0, 1]"}"#
    )));
}

#[test]
fn pre_upgrade_check_refuses_an_unhealthy_cluster_with_the_unit_and_reason() {
    let u = Unit::new();
    u.set_workload("1.0.0");
    let healthy = r#"{"state":"idle","workload-health":"healthy"}"#;
    let sick = r#"{"state":"idle","workload-health":"unhealthy: the service is stopped"}"#;
    u.in_relation(true, &[("db/0", healthy), ("db/1", sick)], "{}");
    let out = u.dispatch(
        "actions/pre-upgrade-check",
        &[
            ("JUJU_ACTION_NAME", "pre-upgrade-check"),
            ("JUJU_ACTION_UUID", "7"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    assert!(calls.contains(&call(
        "action-fail",
        &["--", "Pre-upgrade check failed and cannot safely upgrade"],
        ""
    )));
    assert!(calls.iter().any(|c| c.tool == "juju-log"
        && c.args[3].contains("'cause': 'db/1: workload unhealthy: the service is stopped'")));
    assert!(!calls.iter().any(|c| c.tool == "relation-set"));
}

#[test]
fn upgrade_actions_refuse_non_leaders_with_the_reference_message() {
    let u = Unit::new();
    u.in_relation(false, &[("db/0", r#"{"state":"idle"}"#)], "{}");
    let out = u.dispatch(
        "actions/pre-upgrade-check",
        &[
            ("JUJU_ACTION_NAME", "pre-upgrade-check"),
            ("JUJU_ACTION_UUID", "7"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(u.calls().contains(&call(
        "action-fail",
        &["--", "Action must be ran on the Juju leader."],
        ""
    )));
}

#[test]
fn the_granted_unit_upgrades_its_workload_and_completes() {
    let u = Unit::new();
    u.set_workload("0.9.0");
    u.in_relation(
        false,
        &[
            ("db/0", r#"{"state":"ready"}"#),
            ("db/1", r#"{"state":"ready"}"#),
        ],
        r#"{"upgrade-stack":"[1, 0]"}"#,
    );
    let out = u.dispatch("hooks/upgrade-relation-changed", RELATION_CHANGED_ENV);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    assert!(
        calls.contains(&call(
            "relation-set",
            &["-r", "upgrade:3", "--file", "-"],
            r#"{"state":"completed","workload-health":"healthy","workload-version":"1.0.0"}"#
        )),
        "{calls:#?}"
    );
    // What the unit runs now follows the reference's text.
    assert_eq!(
        calls.last().unwrap(),
        &status(
            "maintenance",
            "upgrade completed (workload 1.0.0, original charm)"
        )
    );
    assert_eq!(u.workload_file("running").as_deref(), Some("1.0.0\n"));
}

#[test]
fn a_failed_workload_upgrade_marks_the_unit_failed_and_says_how_to_roll_back() {
    let u = Unit::new();
    u.set_workload("0.9.0");
    std::fs::write(u.workload_dir.join("fail-install"), "1.0.0").unwrap();
    u.in_relation(
        false,
        &[
            ("db/0", r#"{"state":"ready"}"#),
            ("db/1", r#"{"state":"ready"}"#),
        ],
        r#"{"upgrade-stack":"[1, 0]"}"#,
    );
    let out = u.dispatch("hooks/upgrade-relation-changed", RELATION_CHANGED_ENV);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    let set = calls.iter().find(|c| c.tool == "relation-set").unwrap();
    assert!(set.stdin.contains(r#""state":"failed""#), "{}", set.stdin);
    assert_eq!(
        calls.last().unwrap(),
        &status(
            "blocked",
            "workload install 1.0.0 failed: the package did not install (injected fault)"
        )
    );
    assert!(calls.iter().any(|c| c.tool == "juju-log"
        && c.args[3]
            .contains("juju run db/leader pre-upgrade-check; then juju refresh db --revision")));
}
#[test]
fn hooks_the_charm_does_not_handle_cost_nothing_and_exit_zero() {
    let u = Unit::new();
    let out = u.dispatch("hooks/data-storage-attached", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A new unit looks for deferred events once, then remembers there are none.
    assert_eq!(u.calls(), vec![state_get()]);
    u.tools.clear().unwrap();
    let out = u.dispatch("hooks/data-storage-attached", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Nothing can be waiting and DEBUG lines are off: not one hook tool.
    assert_eq!(u.calls(), vec![]);
}

#[test]
fn debug_logs_follow_the_charm_config() {
    let u = Unit::new();
    u.tools
        .respond("config-get", "{\"debug-logs\": true}\n")
        .unwrap();
    // Not yet in the peer relation: config-changed has no upgrade to look at again.
    u.tools.respond("relation-ids", "[]\n").unwrap();
    let out = u.dispatch("hooks/config-changed", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call("config-get", &["--format=json"], ""),
            call("relation-ids", &["--format=json", "upgrade"], "")
        ]
    );

    u.tools.clear().unwrap();
    let out = u.dispatch("hooks/data-storage-attached", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![call(
            "juju-log",
            &[
                "--log-level",
                "DEBUG",
                "--",
                "ignoring the data-storage-attached hook"
            ],
            ""
        ),]
    );
}

#[test]
fn a_bad_environment_exits_2_with_one_line_naming_the_variable() {
    let u = Unit::new();
    let mut cmd = u.command(
        Path::new(env!("CARGO_BIN_EXE_dispatch")),
        Some("hooks/start"),
    );
    cmd.env_remove("JUJU_UNIT_NAME");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("dispatch: ") && err.contains("JUJU_UNIT_NAME"),
        "{err}"
    );
    assert!(u.calls().is_empty());

    let out = u.dispatch("bogus/start", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("JUJU_DISPATCH_PATH"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_by_hand_without_juju_explains_itself() {
    let u = Unit::new();
    let out = u
        .command(Path::new(env!("CARGO_BIN_EXE_dispatch")), None)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("JUJU_DISPATCH_PATH is not set"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_failing_hook_tool_fails_the_hook_with_one_line() {
    let u = Unit::new();
    u.tools
        .fail("state-get", 1, "ERROR connection is shut down\n")
        .unwrap();
    let out = u.dispatch("hooks/start", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("hooks/start failed")
            && err.contains("state-get --format=json")
            && err.contains("exit code 1")
            && err.contains("ERROR connection is shut down"),
        "{err}"
    );
    let calls = u.calls();
    assert_eq!(calls[0], state_get());
    assert_eq!(calls[1].tool, "juju-log");
    assert_eq!(calls[1].args[..3], ["--log-level", "ERROR", "--"]);
    // Nothing is written when the hook fails.
    assert!(!calls.iter().any(|c| c.tool == "status-set"));
}

#[test]
fn legacy_hooks_symlink_without_dispatch_path() {
    let u = Unit::new();
    let hooks = u.charm_dir.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_dispatch"), hooks.join("start")).unwrap();
    u.tools.respond("relation-ids", "[]\n").unwrap();
    u.set_workload("1.0.0");
    let out = u
        .command(&hooks.join("start"), None)
        .env("JUJU_VERSION", "2.7.6")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Juju < 2.8 has no charm state: nothing is asked of state-get.
    assert_eq!(
        u.calls(),
        vec![
            call("relation-ids", &["--format=json", "upgrade"], ""),
            call("application-version-set", &["--", "1.0.0"], ""),
            status("active", ""),
        ]
    );
}

#[test]
fn kubernetes_single_unit_refresh_upgrades_the_workload_and_finishes() {
    let u = Unit::new();
    u.set_workload("0.9.0");
    let stored = r#"{"workload": {"dependencies": {}, "name": "upgrade-reference-workload", "upgrade_supported": ">=1.0", "version": "1.0.0"}, "charm": {"dependencies": {}, "name": "upgrade-reference", "upgrade_supported": ">=1", "version": "1"}}"#;
    let app = serde_json::json!({"upgrade-stack": "[0]", "dependencies": stored}).to_string();
    u.in_relation(true, &[("db/0", r#"{"state":"idle"}"#)], &app);
    u.tools
        .respond(
            "goal-state",
            "{\"units\":{\"db/0\":{\"status\":\"active\",\"since\":\"2026-11-24 10:00:00Z\"}},\"relations\":{}}\n",
        )
        .unwrap();
    let out = u.dispatch(
        "hooks/upgrade-charm",
        &[("UPGRADE_COORDINATOR_SUBSTRATE", "k8s")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = u.calls();
    let sets: Vec<&RecordedCall> = calls.iter().filter(|c| c.tool == "relation-set").collect();
    // The unit upgraded (upgrading -> completed), the leader popped it and, the stack being
    // empty, went idle and stored the new versions, all in one dispatch: one write per bag,
    // and `state` is not among the keys written because it ends where it started (idle).
    assert_eq!(sets.len(), 2, "{calls:#?}");
    assert_eq!(
        sets[0].stdin,
        r#"{"workload-health":"healthy","workload-version":"1.0.0"}"#
    );
    let app_written: serde_json::Value = serde_json::from_str(&sets[1].stdin).unwrap();
    assert_eq!(app_written["upgrade-stack"], "[]");
    // The stored versions are byte-identical to this charm's (as Python's json.dumps writes
    // them), so rewriting them changes nothing and is not sent.
    assert!(app_written.get("dependencies").is_none(), "{app_written}");
    assert_eq!(calls.last().unwrap(), &status("active", ""));
    assert!(calls.iter().any(|c| c.tool == "juju-log"
        && c.args[3].contains(
            "db/0 unit upgraded. Evaluate and run `resume-upgrade` action to continue upgrade"
        )));
    assert_eq!(u.workload_file("running").as_deref(), Some("1.0.0\n"));
}
