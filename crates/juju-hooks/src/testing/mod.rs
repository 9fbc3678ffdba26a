//! Test support: hook-tool executables that record each call.
//!
//! [`ToolRecorder`] installs every hook tool as a small POSIX shell program in a directory:
//! put its [`bin_dir`](ToolRecorder::bin_dir) first on `PATH` (or hand it to
//! [`crate::ProcessHookTools::in_dir`]) and every call is a real process with a real argument
//! vector and stdin, recorded for the test to assert on, answering with canned output.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The names of every hook tool the recorder installs.
pub const HOOK_TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "status-set",
    "status-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "juju-log",
    "state-get",
    "state-set",
    "state-delete",
    "application-version-set",
    "goal-state",
    "config-get",
];

const SCRIPT: &str = include_str!("recorder.sh");

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The tool's name.
    pub tool: String,
    /// Its arguments, exactly as received.
    pub args: Vec<String>,
    /// Everything it read on stdin.
    pub stdin: String,
}

/// A directory of recording hook tools.
#[derive(Debug)]
pub struct ToolRecorder {
    root: PathBuf,
}

impl ToolRecorder {
    /// Install the recording tools under `root` (which should be empty).
    pub fn install(root: impl Into<PathBuf>) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let root = root.into();
        fs::create_dir_all(root.join("bin"))?;
        fs::create_dir_all(root.join("calls"))?;
        fs::create_dir_all(root.join("responses"))?;
        let script = root.join("recorder.sh");
        fs::write(&script, SCRIPT)?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        for tool in HOOK_TOOLS {
            std::os::unix::fs::symlink(&script, root.join("bin").join(tool))?;
        }
        let recorder = ToolRecorder { root };
        // As Juju answers for a charm with no config options set (tests may respond
        // otherwise).
        recorder.respond("config-get", "{}\n")?;
        Ok(recorder)
    }

    /// The directory holding the tools.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    fn response_dir(&self, tool: &str, nth: Option<usize>) -> io::Result<PathBuf> {
        let name = match nth {
            Some(k) => format!("{tool}.{k}"),
            None => tool.to_owned(),
        };
        let d = self.root.join("responses").join(name);
        if d.exists() {
            fs::remove_dir_all(&d)?;
        }
        fs::create_dir_all(&d)?;
        Ok(d)
    }

    /// Every call of `tool` prints `stdout` and succeeds (unless a numbered response applies).
    pub fn respond(&self, tool: &str, stdout: &str) -> io::Result<()> {
        let d = self.response_dir(tool, None)?;
        fs::write(d.join("stdout"), stdout)
    }

    /// Calls of `tool` whose last argument is `last_arg` print `stdout` (e.g. `relation-get`
    /// of one unit's bag), unless a numbered response applies.
    pub fn respond_for(&self, tool: &str, last_arg: &str, stdout: &str) -> io::Result<()> {
        let name = format!("{tool}@{}", last_arg.replace('/', "~"));
        let d = self.response_dir(&name, None)?;
        fs::write(d.join("stdout"), stdout)
    }

    /// The `nth` call (1-based) of `tool` answers with this output and exit code.
    pub fn respond_nth(
        &self,
        tool: &str,
        nth: usize,
        stdout: &str,
        stderr: &str,
        exit: i32,
    ) -> io::Result<()> {
        let d = self.response_dir(tool, Some(nth))?;
        fs::write(d.join("stdout"), stdout)?;
        fs::write(d.join("stderr"), stderr)?;
        fs::write(d.join("exit"), exit.to_string())
    }

    /// Every call of `tool` fails with `stderr` and `exit`.
    pub fn fail(&self, tool: &str, exit: i32, stderr: &str) -> io::Result<()> {
        let d = self.response_dir(tool, None)?;
        fs::write(d.join("stderr"), stderr)?;
        fs::write(d.join("exit"), exit.to_string())
    }

    /// All calls so far, in order.
    pub fn calls(&self) -> io::Result<Vec<RecordedCall>> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(self.root.join("calls"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        dirs.sort();
        dirs.iter().map(|d| read_call(d)).collect()
    }

    /// Forget recorded calls and per-tool counters (responses stay).
    pub fn clear(&self) -> io::Result<()> {
        for d in ["calls", "counts"] {
            let p = self.root.join(d);
            if p.exists() {
                fs::remove_dir_all(&p)?;
            }
        }
        fs::create_dir_all(self.root.join("calls"))?;
        let count = self.root.join("count");
        if count.exists() {
            fs::remove_file(count)?;
        }
        Ok(())
    }
}

fn read_call(dir: &Path) -> io::Result<RecordedCall> {
    let tool = fs::read_to_string(dir.join("tool"))?;
    let argv = fs::read(dir.join("argv"))?;
    let args = argv
        .split(|&b| b == 0)
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_, init)| {
            init.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let stdin = String::from_utf8_lossy(&fs::read(dir.join("stdin"))?).into_owned();
    Ok(RecordedCall { tool, args, stdin })
}
