//! [`HookTools`] over the real hook-tool commands Juju puts on `PATH`.
//!
//! No shell is involved: each tool is executed directly with an argument vector. Free text
//! (status messages, log lines, failure messages, versions) always follows `--` so text that
//! starts with `-` is never read as a flag. Data that can be large (relation data, charm
//! state) travels on stdin with `--file -`, never on the command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;

use crate::names::{RelationId, UnitName};
use crate::tools::{
    check_action_key, Bag, GoalState, HookToolError, HookTools, LogLevel, Status, StatusInfo,
    StatusScope, StringMap, ToolResult, WriteTarget,
};

/// Linux refuses a single argument longer than this (`MAX_ARG_STRLEN` is 32 pages including
/// the terminating NUL).
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

/// Runs the real hook tools as child processes.
#[derive(Debug, Clone, Default)]
pub struct ProcessHookTools {
    tools_dir: Option<PathBuf>,
}

impl ProcessHookTools {
    /// Find the tools on `PATH`, as Juju arranges (its tools directory comes first).
    pub fn new() -> Self {
        ProcessHookTools { tools_dir: None }
    }

    /// Run the tools from one directory (the simulator and tests use this).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        ProcessHookTools {
            tools_dir: Some(dir.into()),
        }
    }

    fn program(&self, tool: &str) -> OsString {
        match &self.tools_dir {
            Some(d) => d.join(tool).into_os_string(),
            None => tool.into(),
        }
    }

    /// Run `tool args...`, feeding `stdin` if given (else the null device), and return its
    /// stdout as UTF-8.
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> ToolResult<String> {
        if let Some(a) = args.iter().find(|a| a.len() > MAX_ARG_BYTES) {
            return Err(HookToolError::Invalid {
                tool: tool.to_owned(),
                reason: format!(
                    "an argument of {} bytes is longer than the operating system allows ({MAX_ARG_BYTES} bytes)",
                    a.len()
                ),
            });
        }
        let spawn_err = |source| HookToolError::Spawn {
            tool: tool.to_owned(),
            args: args.to_vec(),
            source,
        };
        let mut child = Command::new(self.program(tool))
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        // Write stdin from another thread so a tool that prints before reading cannot
        // deadlock against us; closing the pipe gives it the EOF jujuc waits for.
        let output = std::thread::scope(|scope| {
            let writer = child.stdin.take().map(|mut pipe| {
                let data = stdin.unwrap_or_default();
                scope.spawn(move || pipe.write_all(data))
            });
            let output = child.wait_with_output();
            let written = match writer {
                Some(w) => w
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("stdin writer thread panicked"))),
                None => Ok(()),
            };
            (output, written)
        });
        let (output, written) = output;
        let output = output.map_err(spawn_err)?;
        if !output.status.success() {
            return Err(HookToolError::Failed {
                tool: tool.to_owned(),
                args: args.to_vec(),
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        if let Err(e) = written {
            // The tool succeeded without reading all its input: it cannot have seen our data.
            return Err(HookToolError::Failed {
                tool: tool.to_owned(),
                args: args.to_vec(),
                code: Some(0),
                stderr: format!("exited before reading all of its input: {e}"),
            });
        }
        String::from_utf8(output.stdout).map_err(|e| HookToolError::Output {
            tool: tool.to_owned(),
            args: args.to_vec(),
            output: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "not valid UTF-8".into(),
        })
    }

    /// Run a tool with `--format=json` among `args` and parse its output as `T`.
    fn run_json<T: DeserializeOwned>(&self, tool: &str, args: &[String]) -> ToolResult<T> {
        let out = self.run(tool, args, None)?;
        serde_json::from_str(out.trim_end()).map_err(|e| HookToolError::Output {
            tool: tool.to_owned(),
            args: args.to_vec(),
            output: out.clone(),
            reason: e.to_string(),
        })
    }

    /// Run a tool printing a JSON list (or `null`) of names and parse each name.
    fn run_json_names<T>(&self, tool: &str, args: &[String]) -> ToolResult<Vec<T>>
    where
        T: std::str::FromStr<Err = crate::names::NameError>,
    {
        let raw: Option<Vec<String>> = self.run_json(tool, args)?;
        or_default(raw)
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e: crate::names::NameError| HookToolError::Output {
                        tool: tool.to_owned(),
                        args: args.to_vec(),
                        output: s.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect()
    }

    fn run_with_json_stdin(&self, tool: &str, args: &[String], data: &StringMap) -> ToolResult<()> {
        let body = serde_json::to_vec(data).map_err(|e| HookToolError::Invalid {
            tool: tool.to_owned(),
            reason: format!("cannot encode data as JSON: {e}"),
        })?;
        self.run(tool, args, Some(&body)).map(drop)
    }
}

fn strings<const N: usize>(args: [&str; N]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Split `message` into pieces of at most `max` bytes at character boundaries.
fn chunks(message: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// `Option<T>` that also accepts JSON `null` for the whole value, as Juju prints for "nothing".
fn or_default<T: Default>(v: Option<T>) -> T {
    v.unwrap_or_default()
}

impl HookTools for ProcessHookTools {
    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<RelationId>> {
        self.run_json_names("relation-ids", &strings(["--format=json", endpoint]))
    }

    fn relation_list(&self, relation: &RelationId) -> ToolResult<Vec<UnitName>> {
        let args = strings(["--format=json", "-r", &relation.to_string()]);
        self.run_json_names("relation-list", &args)
    }

    fn relation_remote_app(&self, relation: &RelationId) -> ToolResult<Option<String>> {
        let args = strings(["--format=json", "--app", "-r", &relation.to_string()]);
        let raw: Option<String> = self.run_json("relation-list", &args)?;
        Ok(raw.filter(|s| !s.is_empty()))
    }

    fn relation_get(&self, relation: &RelationId, bag: &Bag) -> ToolResult<StringMap> {
        let rel = relation.to_string();
        let args = match bag {
            Bag::Unit(u) => strings(["--format=json", "-r", &rel, "-", &u.to_string()]),
            Bag::App(a) => strings(["--format=json", "-r", &rel, "--app", "-", a]),
        };
        let raw: Option<StringMap> = self.run_json("relation-get", &args)?;
        Ok(or_default(raw))
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        target: WriteTarget,
        data: &StringMap,
    ) -> ToolResult<()> {
        let rel = relation.to_string();
        let args = match target {
            WriteTarget::OwnUnit => strings(["-r", &rel, "--file", "-"]),
            WriteTarget::OwnApp => strings(["-r", &rel, "--app", "--file", "-"]),
        };
        self.run_with_json_stdin("relation-set", &args, data)
    }

    fn is_leader(&self) -> ToolResult<bool> {
        self.run_json("is-leader", &strings(["--format=json"]))
    }

    fn status_set(&self, scope: StatusScope, status: &Status) -> ToolResult<()> {
        let app = match scope {
            StatusScope::Unit => "--application=false",
            StatusScope::Application => "--application=true",
        };
        let args = strings([app, status.name(), "--", status.message()]);
        self.run("status-set", &args, None).map(drop)
    }

    fn status_get(&self, scope: StatusScope) -> ToolResult<StatusInfo> {
        match scope {
            StatusScope::Unit => self.run_json(
                "status-get",
                &strings(["--include-data", "--format=json", "--application=false"]),
            ),
            StatusScope::Application => {
                #[derive(serde::Deserialize)]
                struct AppStatus {
                    #[serde(rename = "application-status")]
                    application_status: StatusInfo,
                }
                let s: AppStatus = self.run_json(
                    "status-get",
                    &strings(["--include-data", "--format=json", "--application=true"]),
                )?;
                Ok(s.application_status)
            }
        }
    }

    fn action_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        let raw: Option<serde_json::Map<String, serde_json::Value>> =
            self.run_json("action-get", &strings(["--format=json"]))?;
        Ok(or_default(raw))
    }

    fn action_set(&self, results: &StringMap) -> ToolResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        for key in results.keys() {
            check_action_key(key).map_err(|reason| HookToolError::Invalid {
                tool: "action-set".into(),
                reason,
            })?;
        }
        let args: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("action-set", &args, None).map(drop)
    }

    fn action_fail(&self, message: &str) -> ToolResult<()> {
        self.run("action-fail", &strings(["--", message]), None)
            .map(drop)
    }

    fn action_log(&self, message: &str) -> ToolResult<()> {
        for piece in chunks(message, MAX_ARG_BYTES) {
            self.run("action-log", &strings(["--", piece]), None)?;
        }
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()> {
        for piece in chunks(message, MAX_ARG_BYTES) {
            self.run(
                "juju-log",
                &strings(["--log-level", level.as_str(), "--", piece]),
                None,
            )?;
        }
        Ok(())
    }

    fn state_get(&self) -> ToolResult<StringMap> {
        let raw: Option<StringMap> = self.run_json("state-get", &strings(["--format=json"]))?;
        Ok(or_default(raw))
    }

    fn state_set(&self, data: &StringMap) -> ToolResult<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.run_with_json_stdin("state-set", &strings(["--file", "-"]), data)
    }

    fn state_delete(&self, key: &str) -> ToolResult<()> {
        self.run("state-delete", &strings(["--", key]), None)
            .map(drop)
    }

    fn application_version_set(&self, version: &str) -> ToolResult<()> {
        self.run("application-version-set", &strings(["--", version]), None)
            .map(drop)
    }

    fn goal_state(&self) -> ToolResult<GoalState> {
        let raw: Option<GoalState> = self.run_json("goal-state", &strings(["--format=json"]))?;
        Ok(or_default(raw))
    }

    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        let raw: Option<serde_json::Map<String, serde_json::Value>> =
            self.run_json("config-get", &strings(["--format=json"]))?;
        Ok(or_default(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_split_at_char_boundaries() {
        assert_eq!(chunks("", 3), vec![""]);
        assert_eq!(chunks("abcdef", 3), vec!["abc", "def"]);
        assert_eq!(chunks("abcdefg", 3), vec!["abc", "def", "g"]);
        // 'é' is two bytes: never cut in half.
        assert_eq!(chunks("aéb", 2), vec!["a", "é", "b"]);
        for piece in chunks(&"é".repeat(10), 3) {
            assert!(piece.len() <= 3 && !piece.is_empty());
        }
        assert_eq!(chunks(&"é".repeat(10), 3).concat(), "é".repeat(10));
    }
}
