//! What the simulator hands a hook's tools (`ToolContext`, a JSON file per dispatch) and what
//! the tools hand back (`Entry` lines appended to a journal file). The simulator commits the
//! journal's buffered entries only when the dispatch exits 0, as Juju does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A databag.
pub type Bag = BTreeMap<String, String>;

/// Everything the hook tools of one dispatch can see.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToolContext {
    /// This unit, e.g. `app/1`.
    pub unit: String,
    /// The application.
    pub app: String,
    /// Whether this unit leads.
    pub leader: bool,
    /// The peer relation (`upgrade:1`) once this unit is in it.
    pub relation: Option<String>,
    /// The remote units this unit has seen join (what `relation-list` prints).
    pub members: Vec<String>,
    /// Units that departed: their bags stay readable for the relation's lifetime.
    #[serde(default)]
    pub departed: Vec<String>,
    /// Committed unit databags of every unit in the relation.
    pub bags: BTreeMap<String, Bag>,
    /// Committed application databag.
    pub app_bag: Bag,
    /// Committed charm state (`None`: nothing stored).
    pub charm_state: Option<Bag>,
    /// Planned units and their status (`goal-state`).
    pub goal_units: BTreeMap<String, String>,
    /// Charm config (`config-get`).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The running action, if this dispatch is one.
    pub action: Option<ActionContext>,
    /// This unit's status (`status-get`).
    pub unit_status: (String, String),
    /// Fault: the first call of this tool fails (`ERROR connection is shut down`).
    pub fail_tool_once: Option<String>,
    /// Fault: after this many tool calls the dispatch is killed (SIGKILL).
    pub kill_after_calls: Option<usize>,
    /// Where the tools append their entries.
    pub journal: PathBuf,
}

/// The running action.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActionContext {
    /// Its name.
    pub name: String,
    /// Its parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// A tool was called (every call, first).
    Call {
        /// Its name.
        tool: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Buffered: a databag write (`app`: the application bag).
    RelationSet {
        /// Application bag?
        app: bool,
        /// Keys and values; an empty value deletes.
        data: Bag,
    },
    /// Buffered: charm state.
    StateSet {
        /// Keys and values.
        data: Bag,
    },
    /// Buffered: charm state key removed.
    StateDelete {
        /// The key.
        key: String,
    },
    /// Immediate: a status.
    StatusSet {
        /// Application status?
        app: bool,
        /// Name.
        status: String,
        /// Message.
        message: String,
    },
    /// Immediate: a log line.
    Log {
        /// Level.
        level: String,
        /// Text.
        message: String,
    },
    /// Action results.
    ActionSet {
        /// Flattened keys and values.
        data: Bag,
    },
    /// Action failure.
    ActionFail {
        /// Message.
        message: String,
    },
    /// Immediate: an action log line.
    ActionLog {
        /// Text.
        message: String,
    },
    /// Immediate: the workload version.
    AppVersion {
        /// Version.
        version: String,
    },
    /// A fault fired.
    Fault {
        /// What.
        what: String,
    },
}
