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
    tools: ToolRecorder,
}

impl Unit {
    fn new() -> Unit {
        let dir = tempfile::tempdir().unwrap();
        let charm_dir = dir.path().join("charm");
        std::fs::create_dir_all(&charm_dir).unwrap();
        let tools = ToolRecorder::install(dir.path().join("tools")).unwrap();
        // A fresh unit has no charm state.
        tools.respond("state-get", "null\n").unwrap();
        Unit {
            _dir: dir,
            charm_dir,
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
            .env("LANG", "C.UTF-8");
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

#[test]
fn start_sets_active_once() {
    let u = Unit::new();
    let out = u.dispatch("hooks/start", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call(
                "status-set",
                &["--application=false", "active", "--", ""],
                ""
            ),
        ]
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn install_sets_maintenance() {
    let u = Unit::new();
    let out = u.dispatch("hooks/install", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call(
                "status-set",
                &["--application=false", "maintenance", "--", "installing"],
                ""
            ),
        ]
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
            call(
                "juju-log",
                &[
                    "--log-level",
                    "DEBUG",
                    "--",
                    "upgrade relation not yet available, deferring upgrade-charm"
                ],
                ""
            ),
            call(
                "juju-log",
                &[
                    "--log-level",
                    "DEBUG",
                    "--",
                    "deferring upgrade-charm event"
                ],
                ""
            ),
            call("state-set", &["--file", "-"], queue),
        ]
    );

    // Next dispatch: Juju hands back the committed state; the relation now exists.
    u.tools.clear().unwrap();
    let stored: serde_json::Value = serde_json::from_str(queue).unwrap();
    u.tools
        .respond("state-get", &format!("{stored}\n"))
        .unwrap();
    u.tools
        .respond("relation-ids", "[\"upgrade:3\"]\n")
        .unwrap();
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
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call(
                "juju-log",
                &[
                    "--log-level",
                    "DEBUG",
                    "--",
                    "re-running deferred upgrade-charm event"
                ],
                ""
            ),
            call("relation-ids", &["--format=json", "upgrade"], ""),
            call("state-delete", &["--", "juju-hooks.deferred"], ""),
        ]
    );
}

#[test]
fn upgrade_actions_fail_cleanly_and_exit_zero() {
    for action in ["pre-upgrade-check", "resume-upgrade"] {
        let u = Unit::new();
        let out = u.dispatch(
            &format!("actions/{action}"),
            &[
                ("JUJU_ACTION_NAME", action),
                ("JUJU_ACTION_UUID", "7"),
                ("JUJU_ACTION_TAG", "action-7"),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let msg = format!(
            "The {action} action needs the upgrade coordinator, which this build of the charm does not include yet."
        );
        assert_eq!(
            u.calls(),
            vec![state_get(), call("action-fail", &["--", &msg], "")]
        );
    }
}

#[test]
fn hooks_the_charm_does_not_handle_are_logged_and_exit_zero() {
    let u = Unit::new();
    let out = u.dispatch("hooks/data-storage-attached", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        u.calls(),
        vec![
            state_get(),
            call(
                "juju-log",
                &[
                    "--log-level",
                    "DEBUG",
                    "--",
                    "ignoring the data-storage-attached hook"
                ],
                ""
            ),
        ]
    );
}

#[test]
fn peer_relation_changed_touches_nothing_yet() {
    let u = Unit::new();
    let out = u.dispatch(
        "hooks/upgrade-relation-changed",
        &[
            ("JUJU_RELATION", "upgrade"),
            ("JUJU_RELATION_ID", "upgrade:3"),
            ("JUJU_REMOTE_APP", "db"),
            ("JUJU_REMOTE_UNIT", "db/1"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(u.calls(), vec![state_get()]);
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
    let out = u
        .command(&hooks.join("start"), None)
        .env("JUJU_VERSION", "2.7.6")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Juju < 2.8 has no charm state: nothing is asked of state-get.
    assert_eq!(
        u.calls(),
        vec![call(
            "status-set",
            &["--application=false", "active", "--", ""],
            ""
        )]
    );
}
