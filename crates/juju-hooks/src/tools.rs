//! The hook tools as a trait: the only way a charm talks to Juju.
//!
//! [`HookTools`] has one method per tool invocation a charm needs. [`crate::ProcessHookTools`]
//! runs the real commands; [`crate::FakeHookTools`] is an in-memory stand-in with Juju's
//! semantics for unit tests. Everything above this trait (the [`crate::Model`], the
//! dispatcher, the charm) works with either.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{RelationId, UnitName};

/// String-to-string data: a relation databag, charm state, flattened action results.
pub type StringMap = BTreeMap<String, String>;

/// Which databag of a relation to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bag {
    /// A unit's bag (ours or a remote unit's).
    Unit(UnitName),
    /// An application's bag (ours or the remote application's).
    App(String),
}

impl fmt::Display for Bag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bag::Unit(u) => write!(f, "unit {u}"),
            Bag::App(a) => write!(f, "application {a}"),
        }
    }
}

/// Which of our own databags to write (the only ones Juju lets a unit write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WriteTarget {
    /// This unit's bag.
    OwnUnit,
    /// This application's bag: leader only.
    OwnApp,
}

/// A status a charm may set (Juju refuses `error` and `unknown` from `status-set`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "message", rename_all = "lowercase")]
pub enum Status {
    /// Ready and serving.
    Active(String),
    /// Doing something on its own (installing, upgrading...).
    Maintenance(String),
    /// Waiting for something outside the operator's hands (other units, a relation).
    Waiting(String),
    /// Needs the operator.
    Blocked(String),
}

impl Status {
    /// The status name as `status-set` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Active(_) => "active",
            Status::Maintenance(_) => "maintenance",
            Status::Waiting(_) => "waiting",
            Status::Blocked(_) => "blocked",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Status::Active(m)
            | Status::Maintenance(m)
            | Status::Waiting(m)
            | Status::Blocked(m) => m,
        }
    }

    /// Build from a status name and message; `None` for names `status-set` does not accept.
    pub fn from_parts(name: &str, message: impl Into<String>) -> Option<Status> {
        let m = message.into();
        Some(match name {
            "active" => Status::Active(m),
            "maintenance" => Status::Maintenance(m),
            "waiting" => Status::Waiting(m),
            "blocked" => Status::Blocked(m),
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message().is_empty() {
            write!(f, "{}", self.name())
        } else {
            write!(f, "{} ({})", self.name(), self.message())
        }
    }
}

/// Whose status: this unit's or (leader only) the application's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusScope {
    /// `status-set`/`status-get` for this unit.
    Unit,
    /// `--application`: the application's status; leader only.
    Application,
}

/// A status as `status-get` reports it: the name is kept as text because Juju can report
/// names a charm cannot set (`unknown`, `error`, `terminated`...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusInfo {
    /// `active`, `blocked`, `maintenance`, `waiting`, `unknown`, `error`, ...
    pub status: String,
    /// The message (may be empty).
    #[serde(default)]
    pub message: String,
    /// Extra data Juju attached (`status-data`).
    #[serde(default, rename = "status-data")]
    pub data: BTreeMap<String, serde_json::Value>,
}

/// A log level for `juju-log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LogLevel {
    /// DEBUG
    Debug,
    /// INFO
    Info,
    /// WARNING
    Warning,
    /// ERROR
    Error,
    /// CRITICAL
    Critical,
}

impl LogLevel {
    /// The name `juju-log --log-level` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

/// One entry of `goal-state`: a unit or relation member and its planned status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GoalStatus {
    /// e.g. `active`, `dying`, `joined`.
    pub status: String,
    /// When it got there, as Juju prints it.
    #[serde(default)]
    pub since: Option<String>,
}

/// What Juju plans for this application (`goal-state`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GoalState {
    /// Planned units of this application by name.
    #[serde(default)]
    pub units: BTreeMap<String, GoalStatus>,
    /// Per endpoint, the planned members (applications and units) by name.
    #[serde(default)]
    pub relations: BTreeMap<String, BTreeMap<String, GoalStatus>>,
}

impl GoalState {
    /// Units that are not on their way out (ops' `planned_units()`).
    pub fn planned_units(&self) -> usize {
        self.units.values().filter(|s| s.status != "dying").count()
    }
}

/// A hook tool failed, could not be run, or printed something we could not parse.
#[derive(Debug, thiserror::Error)]
pub enum HookToolError {
    /// The tool could not be started (not on `PATH`, not executable...).
    #[error(
        "could not run `{}`: {source}; hook tools exist only inside a Juju hook or action",
        command_line(tool, args)
    )]
    Spawn {
        /// The tool's name.
        tool: String,
        /// Its arguments.
        args: Vec<String>,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The tool ran and exited non-zero (1: run-time error, 2: bad arguments).
    #[error("`{}` failed{}: {}", command_line(tool, args), exit_text(*code), stderr_text(stderr))]
    Failed {
        /// The tool's name.
        tool: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its exit code, `None` if it was killed by a signal.
        code: Option<i32>,
        /// What it printed on stderr (Juju's `ERROR <message>` line).
        stderr: String,
    },
    /// The tool succeeded but its output is not what that tool prints.
    #[error(
        "`{}` printed output that could not be understood ({reason}): {}",
        command_line(tool, args),
        shorten(output, 200)
    )]
    Output {
        /// The tool's name.
        tool: String,
        /// Its arguments.
        args: Vec<String>,
        /// What it printed on stdout.
        output: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The call was refused before running the tool, because Juju would refuse it or the
    /// operating system could not pass it.
    #[error("refusing to run `{tool}`: {reason}")]
    Invalid {
        /// The tool's name.
        tool: String,
        /// What is wrong with the request.
        reason: String,
    },
}

impl HookToolError {
    /// The tool this error is about.
    pub fn tool(&self) -> &str {
        match self {
            HookToolError::Spawn { tool, .. }
            | HookToolError::Failed { tool, .. }
            | HookToolError::Output { tool, .. }
            | HookToolError::Invalid { tool, .. } => tool,
        }
    }

    /// The exit code, for a tool that ran and failed.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            HookToolError::Failed { code, .. } => *code,
            _ => None,
        }
    }

    fn stderr(&self) -> &str {
        match self {
            HookToolError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }

    /// Juju said the relation does not exist (it was removed, or never was).
    pub fn is_relation_not_found(&self) -> bool {
        let s = self.stderr();
        s.contains("relation not found") || s.contains("unknown relation id")
    }

    /// Juju refused access (e.g. reading another application's bag as a non-leader).
    pub fn is_permission_denied(&self) -> bool {
        let s = self.stderr();
        s.contains("permission denied") || s.contains("cannot write relation settings")
    }

    /// Juju refused because this unit is not the leader.
    pub fn is_not_leader(&self) -> bool {
        let s = self.stderr();
        s.contains("not the leader") || s.contains("cannot write relation settings")
    }
}

fn command_line(tool: &str, args: &[String]) -> String {
    let mut s = tool.to_owned();
    for a in args {
        s.push(' ');
        let a = shorten(a, 80);
        if a.is_empty() || a.contains(char::is_whitespace) {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(&a);
        }
    }
    s
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!(" with exit code {c}"),
        None => " (killed by a signal)".into(),
    }
}

fn stderr_text(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        "it printed nothing on stderr".into()
    } else {
        shorten(&t.replace('\n', " | "), 500)
    }
}

/// `s` cut to at most `max` characters, with an ellipsis if cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}...", &s[..i]),
    }
}

/// Result of a hook-tool call.
pub type ToolResult<T> = Result<T, HookToolError>;

/// The Juju hook tools a charm uses, one method per kind of invocation.
///
/// Implementations run each call right away; buffering and caching belong to
/// [`crate::Model`]. Methods take `&self` so a model, a charm and a logger can share one
/// implementation.
pub trait HookTools {
    /// `relation-ids --format=json <endpoint>`: the relations on an endpoint (`[]` for an
    /// unknown endpoint: Juju does not check).
    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<RelationId>>;
    /// `relation-list --format=json -r <id>`: remote units in the relation (never this one).
    fn relation_list(&self, relation: &RelationId) -> ToolResult<Vec<UnitName>>;
    /// `relation-list --format=json --app -r <id>`: the remote application (ours for peers);
    /// `None` when Juju does not know it yet.
    fn relation_remote_app(&self, relation: &RelationId) -> ToolResult<Option<String>>;
    /// `relation-get --format=json -r <id> [--app] - <unit-or-app>`: a whole databag.
    fn relation_get(&self, relation: &RelationId, bag: &Bag) -> ToolResult<StringMap>;
    /// `relation-set -r <id> [--app] --file -` with a JSON object on stdin. An empty value
    /// deletes its key; other keys are left alone (merge).
    fn relation_set(
        &self,
        relation: &RelationId,
        target: WriteTarget,
        data: &StringMap,
    ) -> ToolResult<()>;
    /// `is-leader --format=json`.
    fn is_leader(&self) -> ToolResult<bool>;
    /// `status-set --application=<bool> <status> -- <message>`.
    fn status_set(&self, scope: StatusScope, status: &Status) -> ToolResult<()>;
    /// `status-get --include-data --format=json --application=<bool>`.
    fn status_get(&self, scope: StatusScope) -> ToolResult<StatusInfo>;
    /// `action-get --format=json`: all parameters of the running action.
    fn action_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>>;
    /// `action-set <key>=<value> ...`: results, with dotted keys for nesting.
    fn action_set(&self, results: &StringMap) -> ToolResult<()>;
    /// `action-fail -- <message>`.
    fn action_fail(&self, message: &str) -> ToolResult<()>;
    /// `action-log -- <message>`: streamed to `juju run` at once.
    fn action_log(&self, message: &str) -> ToolResult<()>;
    /// `juju-log --log-level <LEVEL> -- <message>`.
    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()>;
    /// `state-get --format=json`: all of this unit's charm state.
    fn state_get(&self) -> ToolResult<StringMap>;
    /// `state-set --file -` with a JSON object on stdin.
    fn state_set(&self, data: &StringMap) -> ToolResult<()>;
    /// `state-delete -- <key>`.
    fn state_delete(&self, key: &str) -> ToolResult<()>;
    /// `application-version-set -- <version>`.
    fn application_version_set(&self, version: &str) -> ToolResult<()>;
    /// `goal-state --format=json`.
    fn goal_state(&self) -> ToolResult<GoalState>;
    /// `config-get --format=json`: all configuration values.
    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>>;
}

/// Juju's rule for action result keys (each dotted segment), `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`,
/// and its reserved keys. Returns why a key is refused.
pub fn check_action_key(key: &str) -> Result<(), String> {
    const RESERVED: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];
    if RESERVED.contains(&key) {
        return Err(format!("cannot set reserved action key {key:?}"));
    }
    let segment_ok = |seg: &str| {
        let b = seg.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    if key.split('.').all(segment_ok) {
        Ok(())
    } else {
        Err(format!(
            "key {key:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
        ))
    }
}
