//! The simulator's `juju` (`juju-sim juju ...`) end to end, as a client sees it: models
//! that live between commands (a server per model), hooks that run in the background,
//! and the JSON of `status`, `run` and `show-unit` that jubilant reads. The integration
//! suite (`tests/integration`, jubilant) drives the same command line with the
//! reference charm; this drives it with the kv example, without Python.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const KV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kv-charm");

/// The kv charm's binary, which its directory's `dispatch` runs.
fn build_kv() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let sim = PathBuf::from(env!("CARGO_BIN_EXE_juju-sim"));
        let profile_dir = sim.parent().unwrap();
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "-q", "-p", "kv-charm"])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "building kv-charm failed"
        );
    });
}

struct Juju {
    home: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", self.stdout, self.stderr))
    }
}

impl Juju {
    fn new() -> Juju {
        build_kv();
        Juju {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_juju-sim"))
            .arg("juju")
            .args(args)
            .env("JUJU_SIM_HOME", self.home.path())
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, 0, "juju {args:?}: {}{}", out.stdout, out.stderr);
        out
    }

    fn status(&self, model: &str) -> Value {
        self.ok(&["status", "--model", model, "--format", "json"])
            .json()
    }

    /// `juju run --format json UNIT ACTION` that succeeds: the task.
    fn action(&self, model: &str, unit: &str, action: &str) -> Value {
        let args = ["run", "--model", model, "--format", "json", unit, action];
        self.ok(&args).json()
    }

    /// Polls `juju status` until `ready` (as `jubilant.Juju.wait` does).
    fn wait(&self, model: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status(model);
            if ready(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "waiting for {what}: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Juju {
    fn drop(&mut self) {
        // No server outlives the test.
        for model in ["m", "k"] {
            let _ = self.run(&["destroy-model", model, "--no-prompt", "--force"]);
        }
    }
}

fn units(s: &Value) -> &serde_json::Map<String, Value> {
    s["applications"]["kv"]["units"].as_object().unwrap()
}

fn agents_idle(s: &Value) -> bool {
    units(s)
        .values()
        .all(|u| u["juju-status"]["current"] == "idle")
}

fn settled(s: &Value) -> bool {
    let Some(us) = s["applications"]["kv"]["units"].as_object() else {
        return false;
    };
    !us.is_empty()
        && us.values().all(|u| {
            u["juju-status"]["current"] == "idle" && u["workload-status"]["current"] == "active"
        })
        && s["applications"]["kv"]["application-status"]["current"] == "active"
}

/// A charm directory holding the kv charm with another versions file (its `dispatch` a
/// link to the example's, which runs the built binary).
fn kv_revision(dir: &Path, versions: &str) -> PathBuf {
    let charm = dir.join("kv-next");
    std::fs::create_dir_all(&charm).unwrap();
    for f in ["metadata.yaml", "actions.yaml", "config.yaml"] {
        std::fs::copy(Path::new(KV).join(f), charm.join(f)).unwrap();
    }
    std::fs::copy(Path::new(KV).join(versions), charm.join("versions.json")).unwrap();
    std::os::unix::fs::symlink(Path::new(KV).join("dispatch"), charm.join("dispatch")).unwrap();
    charm
}

#[test]
fn a_machine_model_deploys_upgrades_and_shows_a_failed_unit() {
    let j = Juju::new();
    let out = j.ok(&["add-model", "--no-switch", "m"]);
    assert!(out.stderr.contains("Added 'm' model"), "{}", out.stderr);
    let again = j.run(&["add-model", "--no-switch", "m"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    j.ok(&["deploy", "--model", "m", KV, "-n", "3"]);
    let s = j.wait("m", "the deploy to settle", settled);
    assert_eq!(s["model"]["type"], "iaas");
    assert_eq!(s["model"]["name"], "m");
    let app = &s["applications"]["kv"];
    assert_eq!(
        (app["charm-rev"].as_u64(), app["version"].as_str()),
        (Some(0), Some("1.0.0"))
    );
    assert_eq!(units(&s).len(), 3);
    assert_eq!(units(&s)["kv/0"]["leader"], true);
    assert_eq!(s["machines"].as_object().unwrap().len(), 3);

    // Config, read live; a unit added and removed.
    j.ok(&[
        "config",
        "--model",
        "m",
        "kv",
        "pause-after-unit-refresh=all",
    ]);
    let v = j.ok(&["config", "--model", "m", "kv", "pause-after-unit-refresh"]);
    assert_eq!(v.stdout, "all\n");
    let cfg = j
        .ok(&["config", "--model", "m", "kv", "--format", "json"])
        .json();
    let setting = &cfg["settings"]["pause-after-unit-refresh"];
    assert_eq!(
        (setting["value"].as_str(), setting["source"].as_str()),
        (Some("all"), Some("user"))
    );
    assert_eq!(j.run(&["config", "--model", "m", "kv", "nope=1"]).code, 1);
    j.ok(&[
        "config",
        "--model",
        "m",
        "kv",
        "--reset",
        "pause-after-unit-refresh",
    ]);
    j.ok(&["add-unit", "--model", "m", "kv"]);
    j.wait("m", "unit 3 to join", |s| units(s).len() == 4 && settled(s));
    j.ok(&["remove-unit", "--model", "m", "kv/3", "--no-prompt"]);
    j.wait("m", "unit 3 to go", |s| units(s).len() == 3 && settled(s));

    // The action's real result, as `juju run --format json` prints it.
    let task = j.action("m", "kv/leader", "pre-upgrade-check");
    let t = &task["kv/0"];
    assert_eq!(t["status"], "completed", "{task:#}");
    assert_eq!(t["results"]["return-code"], 0);
    assert!(
        t["results"]["rollback-command"]
            .as_str()
            .unwrap()
            .starts_with("juju refresh kv --path"),
        "{task:#}"
    );
    let missing = j.run(&["run", "--model", "m", "kv/0", "backup"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("action \"backup\" not defined"),
        "{}",
        missing.stderr
    );

    // A fault through `juju ssh`: unit 2 fails to install 1.1.0.
    j.ok(&[
        "ssh",
        "--model",
        "m",
        "kv/2",
        "sudo sh -c 'echo 1.1.0 > $UPGRADE_COORDINATOR_WORKLOAD_DIR/fail-install'",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let next = kv_revision(dir.path(), "revisions/versions-1.1.0.json");
    let out = j.ok(&[
        "refresh",
        "--model",
        "m",
        "kv",
        "--path",
        next.to_str().unwrap(),
    ]);
    assert!(out.stderr.contains("revision 1"), "{}", out.stderr);
    let s = j.wait("m", "unit 2 to fail", |s| {
        units(s)
            .get("kv/2")
            .is_some_and(|u| u["workload-status"]["current"] == "blocked")
            && agents_idle(s)
    });
    assert_ne!(
        units(&s)["kv/1"]["workload-status"]["current"],
        "blocked",
        "only unit 2 failed"
    );
    let info = j
        .ok(&["show-unit", "--model", "m", "kv/2", "--format", "json"])
        .json();
    let rel = &info["kv/2"]["relation-info"][0];
    assert_eq!(rel["endpoint"], "upgrade");
    assert_eq!(rel["local-unit"]["data"]["state"], "failed", "{info:#}");
    assert_eq!(rel["related-units"].as_object().unwrap().len(), 2);
    assert!(
        rel["application-data"]["upgrade-stack"].is_string(),
        "{info:#}"
    );

    let log = j.ok(&["debug-log", "--model", "m", "--replay", "--limit", "50"]);
    assert!(log.stdout.lines().count() <= 50);
    assert!(
        log.stdout.contains("unit-kv-2: ") && log.stdout.contains(" ERROR "),
        "{}",
        log.stdout
    );

    // Juju's usage errors and unknown names.
    assert_eq!(j.run(&["status", "--model", "m", "--nope"]).code, 2);
    assert_eq!(j.run(&["status", "--model", "nowhere"]).code, 1);
    assert_eq!(j.run(&["frobnicate"]).code, 1);
    let tab = j.ok(&["status", "--model", "m"]).stdout;
    assert!(tab.contains("kv/0*") && tab.contains("blocked"), "{tab}");

    j.ok(&[
        "destroy-model",
        "m",
        "--no-prompt",
        "--destroy-storage",
        "--force",
    ]);
    assert!(!j.home.path().join("models/m").exists());
    let gone = j.run(&["status", "--model", "m", "--format", "json"]);
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
}

#[test]
fn a_kubernetes_model_needs_trust_then_follows_the_partition() {
    let j = Juju::new();
    j.ok(&["add-model", "--no-switch", "k", "microk8s"]);
    j.ok(&["deploy", "--model", "k", KV, "-n", "2"]);
    let s = j.wait("k", "the deploy to settle", settled);
    assert_eq!(s["model"]["type"], "caas");
    assert_eq!(s["applications"]["kv"]["scale"], 2);
    assert!(s["machines"].as_object().unwrap().is_empty());
    // Deployed without --trust: the pre-check says so; `juju trust` fixes it.
    let untrusted = j.run(&[
        "run",
        "--model",
        "k",
        "--format",
        "json",
        "kv/leader",
        "pre-upgrade-check",
    ]);
    assert_eq!(untrusted.code, 1, "{}", untrusted.stdout);
    assert!(
        untrusted.stderr.contains("task failed"),
        "{}",
        untrusted.stderr
    );
    let t = untrusted.json();
    assert_eq!(t["kv/0"]["status"], "failed");
    assert!(
        t["kv/0"]["message"].as_str().unwrap().contains("trust"),
        "{t:#}"
    );
    let s = j.status("k");
    let app_status = &s["applications"]["kv"]["application-status"];
    assert_eq!(app_status["current"], "blocked", "{s:#}");
    assert!(
        app_status["message"]
            .as_str()
            .unwrap()
            .contains("juju trust kv"),
        "{s:#}"
    );
    j.ok(&["trust", "--model", "k", "kv", "--scope", "cluster"]);
    j.wait("k", "config-changed after trust", agents_idle);
    let t = j.action("k", "kv/leader", "pre-upgrade-check");
    assert_eq!(t["kv/0"]["status"], "completed", "{t:#}");
    let dir = tempfile::tempdir().unwrap();
    let next = kv_revision(dir.path(), "revisions/versions-1.1.0.json");
    j.ok(&[
        "refresh",
        "--model",
        "k",
        "kv",
        "--path",
        next.to_str().unwrap(),
    ]);
    // Kubernetes pauses after the first pod by default: the highest is recreated first.
    j.wait("k", "pod 1 to be upgraded", |s| {
        units(s)["kv/1"]["workload-status"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("upgrade completed"))
            && agents_idle(s)
    });
    let t = j.action("k", "kv/leader", "resume-upgrade");
    assert_eq!(t["kv/0"]["status"], "completed", "{t:#}");
    let s = j.wait("k", "both pods on 1.1.0", |s| {
        settled(s) && s["applications"]["kv"]["version"] == "1.1.0"
    });
    assert_eq!(s["applications"]["kv"]["charm-rev"], 1);
}
