//! An in-memory [`HookTools`] with Juju's semantics, for unit tests of everything above the
//! hook tools (no processes).
//!
//! What it models: committed relation data and charm state plus a pending layer of this
//! hook's writes, visible to the writer and applied by [`FakeHookTools::commit`] (what Juju
//! does when the hook exits 0) or dropped by [`FakeHookTools::rollback`]; leadership checks
//! for application data and status; statuses, logs and the workload version applied at once;
//! action parameters, results and failure. Every call is recorded, so tests can count them.
//! A call can be made to fail once with [`FakeHookTools::fail_next`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::names::{RelationId, UnitName};
use crate::tools::{
    check_action_key, Bag, GoalState, HookToolError, HookTools, LogLevel, Status, StatusInfo,
    StatusScope, StringMap, ToolResult, WriteTarget,
};

/// One relation as the fake knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeRelation {
    /// The remote application (ours for a peer relation).
    pub remote_app: String,
    /// The remote units (never the local unit).
    pub remote_units: Vec<UnitName>,
    /// Committed databags.
    pub bags: BTreeMap<Bag, StringMap>,
}

/// A running action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeAction {
    /// Parameters `action-get` returns.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Results set so far.
    pub results: StringMap,
    /// The failure message, if `action-fail` was called.
    pub failure: Option<String>,
    /// Lines sent with `action-log`.
    pub logs: Vec<String>,
}

/// Everything the fake holds; public so tests can arrange and inspect it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeState {
    /// The local unit.
    pub unit: UnitName,
    /// Whether it is the leader.
    pub leader: bool,
    /// Relations by id.
    pub relations: BTreeMap<RelationId, FakeRelation>,
    /// Committed charm state.
    pub charm_state: StringMap,
    /// The unit's status.
    pub unit_status: Option<Status>,
    /// The application's status.
    pub app_status: Option<Status>,
    /// The workload version.
    pub workload_version: Option<String>,
    /// The running action, if this is an action.
    pub action: Option<FakeAction>,
    /// `juju-log` lines.
    pub logs: Vec<(LogLevel, String)>,
    /// What `goal-state` returns.
    pub goal_state: GoalState,
    /// What `config-get` returns.
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl FakeState {
    /// A unit with no relations, not leader, nothing stored.
    pub fn new(unit: UnitName) -> Self {
        FakeState {
            unit,
            leader: false,
            relations: BTreeMap::new(),
            charm_state: StringMap::new(),
            unit_status: None,
            app_status: None,
            workload_version: None,
            action: None,
            logs: Vec::new(),
            goal_state: GoalState::default(),
            config: serde_json::Map::new(),
        }
    }
}

/// One recorded hook-tool call: the tool and what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The tool, e.g. `relation-get`.
    pub tool: &'static str,
    /// The target, e.g. `upgrade:3 unit db/1`, or `""`.
    pub target: String,
}

#[derive(Debug, Default)]
struct Pending {
    bags: BTreeMap<(RelationId, WriteTarget), StringMap>,
    state: BTreeMap<String, Option<String>>,
}

/// The in-memory hook tools.
#[derive(Debug)]
pub struct FakeHookTools {
    state: RefCell<FakeState>,
    pending: RefCell<Pending>,
    calls: RefCell<Vec<Call>>,
    fail_next: RefCell<BTreeMap<&'static str, String>>,
}

fn run_error(tool: &str, msg: impl Into<String>) -> HookToolError {
    HookToolError::Failed {
        tool: tool.to_owned(),
        args: Vec::new(),
        code: Some(1),
        stderr: format!("ERROR {}\n", msg.into()),
    }
}

fn not_found(tool: &str, relation: &RelationId) -> HookToolError {
    HookToolError::Failed {
        tool: tool.to_owned(),
        args: Vec::new(),
        code: Some(2),
        stderr: format!("ERROR invalid value \"{relation}\" for option -r: relation not found\n"),
    }
}

impl FakeHookTools {
    /// A fake holding `state`.
    pub fn new(state: FakeState) -> Self {
        FakeHookTools {
            state: RefCell::new(state),
            pending: RefCell::new(Pending::default()),
            calls: RefCell::new(Vec::new()),
            fail_next: RefCell::new(BTreeMap::new()),
        }
    }

    /// A copy of the current (committed) state.
    pub fn state(&self) -> FakeState {
        self.state.borrow().clone()
    }

    /// Change the committed state between dispatches.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// How many calls `tool` got.
    pub fn count(&self, tool: &str) -> usize {
        self.calls
            .borrow()
            .iter()
            .filter(|c| c.tool == tool)
            .count()
    }

    /// Forget the recorded calls.
    pub fn clear_calls(&self) {
        self.calls.borrow_mut().clear();
    }

    /// Make the next call of `tool` fail with `ERROR <message>` (exit 1).
    pub fn fail_next(&self, tool: &'static str, message: &str) {
        self.fail_next.borrow_mut().insert(tool, message.to_owned());
    }

    /// The hook exited 0: apply pending relation data and charm state, as Juju's commit does.
    pub fn commit(&self) {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let mut st = self.state.borrow_mut();
        let unit = st.unit.clone();
        for ((rel, target), writes) in pending.bags {
            let bag = match target {
                WriteTarget::OwnUnit => Bag::Unit(unit.clone()),
                WriteTarget::OwnApp => Bag::App(unit.app().to_owned()),
            };
            if let Some(r) = st.relations.get_mut(&rel) {
                apply(r.bags.entry(bag).or_default(), &writes);
            }
        }
        for (k, v) in pending.state {
            match v {
                Some(v) => st.charm_state.insert(k, v),
                None => st.charm_state.remove(&k),
            };
        }
    }

    /// The hook failed: drop pending relation data and charm state.
    pub fn rollback(&self) {
        *self.pending.borrow_mut() = Pending::default();
    }

    fn record(&self, tool: &'static str, target: String) -> ToolResult<()> {
        self.calls.borrow_mut().push(Call { tool, target });
        if let Some(msg) = self.fail_next.borrow_mut().remove(tool) {
            return Err(run_error(tool, msg));
        }
        Ok(())
    }

    fn with_relation<R>(
        &self,
        tool: &str,
        relation: &RelationId,
        f: impl FnOnce(&FakeRelation) -> R,
    ) -> ToolResult<R> {
        let st = self.state.borrow();
        st.relations
            .get(relation)
            .map(f)
            .ok_or_else(|| not_found(tool, relation))
    }
}

fn apply(bag: &mut StringMap, writes: &StringMap) {
    for (k, v) in writes {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}

impl HookTools for FakeHookTools {
    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<RelationId>> {
        self.record("relation-ids", endpoint.to_owned())?;
        let st = self.state.borrow();
        let mut ids: Vec<RelationId> = st
            .relations
            .keys()
            .filter(|r| r.endpoint() == endpoint)
            .cloned()
            .collect();
        // Juju sorts the strings: `x:10` before `x:9`.
        ids.sort_by_key(|r| r.to_string());
        Ok(ids)
    }

    fn relation_list(&self, relation: &RelationId) -> ToolResult<Vec<UnitName>> {
        self.record("relation-list", relation.to_string())?;
        self.with_relation("relation-list", relation, |r| {
            let mut units = r.remote_units.clone();
            units.sort_by_key(|u| u.to_string());
            units
        })
    }

    fn relation_remote_app(&self, relation: &RelationId) -> ToolResult<Option<String>> {
        self.record("relation-list", format!("{relation} --app"))?;
        self.with_relation("relation-list", relation, |r| {
            Some(r.remote_app.clone()).filter(|a| !a.is_empty())
        })
    }

    fn relation_get(&self, relation: &RelationId, bag: &Bag) -> ToolResult<StringMap> {
        self.record("relation-get", format!("{relation} {bag}"))?;
        let (unit, leader) = {
            let st = self.state.borrow();
            (st.unit.clone(), st.leader)
        };
        let mut data = self.with_relation("relation-get", relation, |r| {
            r.bags.get(bag).cloned().unwrap_or_default()
        })?;
        // Read-your-writes: own unit bag, and own app bag while leader.
        let own = match bag {
            Bag::Unit(u) if *u == unit => Some(WriteTarget::OwnUnit),
            Bag::App(a) if a == unit.app() && leader => Some(WriteTarget::OwnApp),
            _ => None,
        };
        if let Some(target) = own {
            if let Some(w) = self.pending.borrow().bags.get(&(relation.clone(), target)) {
                apply(&mut data, w);
            }
        }
        Ok(data)
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        target: WriteTarget,
        data: &StringMap,
    ) -> ToolResult<()> {
        self.record("relation-set", format!("{relation} {target:?}"))?;
        self.with_relation("relation-set", relation, |_| ())?;
        if target == WriteTarget::OwnApp && !self.state.borrow().leader {
            return Err(run_error("relation-set", "cannot write relation settings"));
        }
        let mut pending = self.pending.borrow_mut();
        let bag = pending.bags.entry((relation.clone(), target)).or_default();
        for (k, v) in data {
            bag.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    fn is_leader(&self) -> ToolResult<bool> {
        self.record("is-leader", String::new())?;
        Ok(self.state.borrow().leader)
    }

    fn status_set(&self, scope: StatusScope, status: &Status) -> ToolResult<()> {
        self.record("status-set", format!("{scope:?}"))?;
        let mut st = self.state.borrow_mut();
        match scope {
            StatusScope::Unit => st.unit_status = Some(status.clone()),
            StatusScope::Application => {
                if !st.leader {
                    return Err(run_error("status-set", "this unit is not the leader"));
                }
                st.app_status = Some(status.clone());
            }
        }
        Ok(())
    }

    fn status_get(&self, scope: StatusScope) -> ToolResult<StatusInfo> {
        self.record("status-get", format!("{scope:?}"))?;
        let st = self.state.borrow();
        let s = match scope {
            StatusScope::Unit => &st.unit_status,
            StatusScope::Application => {
                if !st.leader {
                    return Err(run_error(
                        "status-get",
                        "finding application status: this unit is not the leader",
                    ));
                }
                &st.app_status
            }
        };
        Ok(match s {
            Some(s) => StatusInfo {
                status: s.name().to_owned(),
                message: s.message().to_owned(),
                data: BTreeMap::new(),
            },
            None => StatusInfo {
                status: "unknown".into(),
                ..StatusInfo::default()
            },
        })
    }

    fn action_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        self.record("action-get", String::new())?;
        match &self.state.borrow().action {
            Some(a) => Ok(a.params.clone()),
            None => Err(run_error("action-get", "not running an action")),
        }
    }

    fn action_set(&self, results: &StringMap) -> ToolResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.record("action-set", String::new())?;
        for k in results.keys() {
            check_action_key(k).map_err(|m| HookToolError::Failed {
                tool: "action-set".into(),
                args: Vec::new(),
                code: Some(2),
                stderr: format!("ERROR {m}\n"),
            })?;
        }
        match &mut self.state.borrow_mut().action {
            Some(a) => {
                a.results.extend(results.clone());
                Ok(())
            }
            None => Err(run_error("action-set", "not running an action")),
        }
    }

    fn action_fail(&self, message: &str) -> ToolResult<()> {
        self.record("action-fail", String::new())?;
        match &mut self.state.borrow_mut().action {
            Some(a) => {
                a.failure = Some(message.to_owned());
                Ok(())
            }
            None => Err(run_error("action-fail", "not running an action")),
        }
    }

    fn action_log(&self, message: &str) -> ToolResult<()> {
        self.record("action-log", String::new())?;
        match &mut self.state.borrow_mut().action {
            Some(a) => {
                a.logs.push(message.to_owned());
                Ok(())
            }
            None => Err(run_error("action-log", "not running an action")),
        }
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()> {
        self.record("juju-log", String::new())?;
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_owned()));
        Ok(())
    }

    fn state_get(&self) -> ToolResult<StringMap> {
        self.record("state-get", String::new())?;
        let mut s = self.state.borrow().charm_state.clone();
        for (k, v) in &self.pending.borrow().state {
            match v {
                Some(v) => s.insert(k.clone(), v.clone()),
                None => s.remove(k),
            };
        }
        Ok(s)
    }

    fn state_set(&self, data: &StringMap) -> ToolResult<()> {
        self.record("state-set", String::new())?;
        let mut p = self.pending.borrow_mut();
        for (k, v) in data {
            p.state.insert(k.clone(), Some(v.clone()));
        }
        Ok(())
    }

    fn state_delete(&self, key: &str) -> ToolResult<()> {
        self.record("state-delete", key.to_owned())?;
        self.pending.borrow_mut().state.insert(key.to_owned(), None);
        Ok(())
    }

    fn application_version_set(&self, version: &str) -> ToolResult<()> {
        self.record("application-version-set", String::new())?;
        self.state.borrow_mut().workload_version = Some(version.to_owned());
        Ok(())
    }

    fn goal_state(&self) -> ToolResult<GoalState> {
        self.record("goal-state", String::new())?;
        Ok(self.state.borrow().goal_state.clone())
    }

    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        self.record("config-get", String::new())?;
        Ok(self.state.borrow().config.clone())
    }
}
