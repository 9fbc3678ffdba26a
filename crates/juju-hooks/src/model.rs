//! The per-dispatch model: what one run of `dispatch` sees of Juju, read lazily and at most
//! once, and what it changes, staged and written once at the end.
//!
//! Juju itself buffers relation and state writes until the hook exits 0, but status,
//! `juju-log`, `action-log` and the workload version take effect at once and survive a failed
//! hook. The model therefore stages *everything* that should only be seen if the dispatch
//! succeeds, and [`Model::flush`] writes it in this order: relation data (one `relation-set`
//! per bag, only the keys that change), charm state, action results, action failure, then
//! what takes effect at once: workload version, application status, unit status. Log lines are sent before those writes, and
//! by the dispatcher before it reports a failure, consecutive lines of one level in one
//! `juju-log` call; DEBUG lines only when the unit's hints say so (Juju's default model
//! logging level drops them anyway).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::hints::Hints;

use crate::names::{RelationId, UnitName};
use crate::tools::{
    Bag, GoalState, HookToolError, HookTools, LogLevel, Status, StatusScope, StringMap, WriteTarget,
};

/// Something the charm asked of the model that Juju would refuse, or a tool failure.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] HookToolError),
    /// Only the leader may do this.
    #[error("only the leader may {what}; this unit ({unit}) is not the leader")]
    NotLeader {
        /// What was attempted.
        what: &'static str,
        /// This unit.
        unit: UnitName,
    },
    /// An action-only call outside an action.
    #[error("{what} is only possible while running an action, and this is the {event} hook")]
    NotInAction {
        /// What was attempted.
        what: &'static str,
        /// The running hook.
        event: String,
    },
    /// A key Juju would refuse.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Result of a model operation.
pub type ModelResult<T> = Result<T, ModelError>;

/// Counts of what [`Model::flush`] wrote, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// The unit status written, if any.
    pub unit_status_written: Option<Status>,
    /// The application status written, if any.
    pub app_status_written: Option<Status>,
    /// `relation-set` calls made.
    pub relation_writes: usize,
    /// `state-set` plus `state-delete` calls made.
    pub state_writes: usize,
    /// Whether statuses were set.
    pub statuses: usize,
}

/// One dispatch's view of Juju over a [`HookTools`] implementation.
pub struct Model<'t> {
    tools: &'t dyn HookTools,
    unit: UnitName,
    in_action: Option<String>,
    event_name: String,
    leader: Option<bool>,
    relation_ids: HashMap<String, Vec<RelationId>>,
    relation_units: HashMap<RelationId, Vec<UnitName>>,
    bags: HashMap<(RelationId, Bag), StringMap>,
    staged_bags: BTreeMap<(RelationId, WriteTarget), StringMap>,
    state: Option<StringMap>,
    staged_state: BTreeMap<String, Option<String>>,
    goal_state: Option<GoalState>,
    config: Option<serde_json::Map<String, serde_json::Value>>,
    action_params: Option<serde_json::Map<String, serde_json::Value>>,
    unit_status: Option<Status>,
    app_status: Option<Status>,
    workload_version: Option<String>,
    action_results: StringMap,
    action_failure: Option<String>,
    logs: RefCell<Vec<(LogLevel, String)>>,
    debug_logs: bool,
    event_relation: Option<RelationId>,
    peer_relations: BTreeMap<String, RelationId>,
    shown_status: Option<Status>,
    shown_app_status: Option<Status>,
}

impl<'t> Model<'t> {
    /// A fresh model for `unit`, handling `event_name` (an action if `action` is set).
    pub fn new(
        tools: &'t dyn HookTools,
        unit: UnitName,
        event_name: impl Into<String>,
        action: Option<String>,
    ) -> Self {
        Model {
            tools,
            unit,
            in_action: action,
            event_name: event_name.into(),
            leader: None,
            relation_ids: HashMap::new(),
            relation_units: HashMap::new(),
            bags: HashMap::new(),
            staged_bags: BTreeMap::new(),
            state: None,
            staged_state: BTreeMap::new(),
            goal_state: None,
            config: None,
            action_params: None,
            unit_status: None,
            app_status: None,
            workload_version: None,
            action_results: StringMap::new(),
            action_failure: None,
            logs: RefCell::new(Vec::new()),
            debug_logs: true,
            event_relation: None,
            peer_relations: BTreeMap::new(),
            shown_status: None,
            shown_app_status: None,
        }
    }

    /// Starts from what the unit remembered (peer relation ids, whether DEBUG lines are
    /// sent). Without hints every relation is looked up and every line is sent.
    pub fn apply_hints(&mut self, hints: &Hints) {
        self.debug_logs = hints.debug_logs;
        self.shown_status = hints
            .unit_status
            .as_ref()
            .and_then(|(name, message)| Status::from_parts(name, message.clone()));
        self.shown_app_status = hints
            .app_status
            .as_ref()
            .and_then(|(name, message)| Status::from_parts(name, message.clone()));
        for (endpoint, id) in &hints.peer_relations {
            if let Ok(rel) = id.parse::<RelationId>() {
                if rel.endpoint() == endpoint {
                    self.peer_relations.insert(endpoint.clone(), rel);
                }
            }
        }
    }

    /// What the unit should remember after this dispatch (the dispatcher adds its own).
    pub fn hints(&self) -> Hints {
        Hints {
            v: 1,
            peer_relations: self
                .peer_relations
                .iter()
                .map(|(e, r)| (e.clone(), r.to_string()))
                .collect(),
            maybe_deferred: false,
            debug_logs: self.debug_logs,
            unit_status: self
                .shown_status
                .as_ref()
                .map(|s| (s.name().to_owned(), s.message().to_owned())),
            app_status: self
                .shown_app_status
                .as_ref()
                .map(|s| (s.name().to_owned(), s.message().to_owned())),
        }
    }

    /// Whether DEBUG lines are sent.
    pub fn debug_logs(&self) -> bool {
        self.debug_logs
    }

    /// The unit status this unit showed when the dispatch started, if the unit remembers it
    /// (statuses set through this model are remembered).
    pub fn shown_status(&self) -> Option<&Status> {
        self.shown_status.as_ref()
    }

    /// The relation of the current relation event, if this dispatch is one.
    pub fn set_event_relation(&mut self, relation: RelationId) {
        self.event_relation = Some(relation);
    }

    /// Whether DEBUG lines are sent to `juju-log` (remembered across dispatches).
    pub fn set_debug_logs(&mut self, on: bool) {
        self.debug_logs = on;
    }

    /// The peer relation of `endpoint` (declared under `peers:`, so there is at most one,
    /// and it lives as long as the application). Taken from the current event or from what
    /// the unit remembered; otherwise looked up with `relation-ids` and remembered.
    pub fn peer_relation(&mut self, endpoint: &str) -> ModelResult<Option<RelationId>> {
        if let Some(r) = self.peer_relations.get(endpoint) {
            return Ok(Some(r.clone()));
        }
        let found = match &self.event_relation {
            Some(r) if r.endpoint() == endpoint => Some(r.clone()),
            _ => self.relation(endpoint)?,
        };
        if let Some(r) = &found {
            self.peer_relations.insert(endpoint.to_owned(), r.clone());
        }
        Ok(found)
    }

    /// This unit.
    pub fn unit(&self) -> &UnitName {
        &self.unit
    }

    /// This unit's application.
    pub fn app(&self) -> &str {
        self.unit.app()
    }

    /// The hook tools underneath, for calls the model does not cover.
    pub fn tools(&self) -> &'t dyn HookTools {
        self.tools
    }

    /// Is this unit the leader? Asked once per dispatch: Juju guarantees leadership for 30 s
    /// after a `true`, longer than a hook should take.
    pub fn is_leader(&mut self) -> ModelResult<bool> {
        if let Some(l) = self.leader {
            return Ok(l);
        }
        let l = self.tools.is_leader()?;
        self.leader = Some(l);
        Ok(l)
    }

    /// The relations on `endpoint` (`[]` if none or unknown).
    pub fn relation_ids(&mut self, endpoint: &str) -> ModelResult<Vec<RelationId>> {
        if let Some(ids) = self.relation_ids.get(endpoint) {
            return Ok(ids.clone());
        }
        let ids = self.tools.relation_ids(endpoint)?;
        self.relation_ids.insert(endpoint.to_owned(), ids.clone());
        Ok(ids)
    }

    /// The one relation on `endpoint` (a peer relation has exactly one once it exists).
    /// With several, the lowest id.
    pub fn relation(&mut self, endpoint: &str) -> ModelResult<Option<RelationId>> {
        Ok(self
            .relation_ids(endpoint)?
            .into_iter()
            .min_by_key(|r| r.id()))
    }

    /// The remote units of a relation (for a peer relation: the other units, never this one).
    pub fn relation_units(&mut self, relation: &RelationId) -> ModelResult<Vec<UnitName>> {
        if let Some(u) = self.relation_units.get(relation) {
            return Ok(u.clone());
        }
        let units = self.tools.relation_list(relation)?;
        self.relation_units.insert(relation.clone(), units.clone());
        Ok(units)
    }

    fn own_target(&self, bag: &Bag) -> Option<WriteTarget> {
        match bag {
            Bag::Unit(u) if *u == self.unit => Some(WriteTarget::OwnUnit),
            Bag::App(a) if a == self.unit.app() => Some(WriteTarget::OwnApp),
            _ => None,
        }
    }

    /// The bag as Juju had it at the start of this dispatch (read at most once).
    fn committed_bag(&mut self, relation: &RelationId, bag: &Bag) -> ModelResult<&StringMap> {
        let key = (relation.clone(), bag.clone());
        if !self.bags.contains_key(&key) {
            let data = self.tools.relation_get(relation, bag)?;
            self.bags.insert(key.clone(), data);
        }
        Ok(&self.bags[&key])
    }

    /// A whole databag, including this dispatch's own staged writes to it.
    pub fn relation_data(&mut self, relation: &RelationId, bag: &Bag) -> ModelResult<StringMap> {
        let mut data = self.committed_bag(relation, bag)?.clone();
        if let Some(target) = self.own_target(bag) {
            if let Some(staged) = self.staged_bags.get(&(relation.clone(), target)) {
                for (k, v) in staged {
                    if v.is_empty() {
                        data.remove(k);
                    } else {
                        data.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(data)
    }

    /// One key of a databag (`None` if absent), including staged writes.
    pub fn relation_get(
        &mut self,
        relation: &RelationId,
        bag: &Bag,
        key: &str,
    ) -> ModelResult<Option<String>> {
        Ok(self.relation_data(relation, bag)?.remove(key))
    }

    /// Stage a write of `key` in one of our bags; an empty `value` deletes the key. Writing
    /// the application bag needs leadership, checked now (Juju checks again at commit).
    pub fn relation_set(
        &mut self,
        relation: &RelationId,
        target: WriteTarget,
        key: &str,
        value: &str,
    ) -> ModelResult<()> {
        if key.is_empty() {
            return Err(ModelError::InvalidKey {
                key: key.into(),
                reason: "relation data keys must not be empty".into(),
            });
        }
        if target == WriteTarget::OwnApp && !self.is_leader()? {
            return Err(ModelError::NotLeader {
                what: "write application relation data",
                unit: self.unit.clone(),
            });
        }
        self.staged_bags
            .entry((relation.clone(), target))
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// This unit's charm state (Juju's `state-get`), including staged changes.
    pub fn charm_state(&mut self) -> ModelResult<StringMap> {
        let mut state = match &self.state {
            Some(s) => s.clone(),
            None => {
                let s = self.tools.state_get()?;
                self.state = Some(s.clone());
                s
            }
        };
        for (k, v) in &self.staged_state {
            match v {
                Some(v) => state.insert(k.clone(), v.clone()),
                None => state.remove(k),
            };
        }
        Ok(state)
    }

    /// Stage a charm-state change: `Some` sets, `None` deletes. Committed by Juju only if the
    /// hook succeeds, together with the relation data.
    pub fn set_charm_state(&mut self, key: &str, value: Option<String>) -> ModelResult<()> {
        if key.is_empty() || key.len() > 256 {
            return Err(ModelError::InvalidKey {
                key: key.into(),
                reason: "charm state keys must be 1 to 256 bytes".into(),
            });
        }
        if let Some(v) = &value {
            if v.len() > 65536 {
                return Err(ModelError::InvalidKey {
                    key: key.into(),
                    reason: format!(
                        "a charm state value may hold at most 65536 bytes, this one has {}",
                        v.len()
                    ),
                });
            }
        }
        self.staged_state.insert(key.to_owned(), value);
        Ok(())
    }

    /// The planned units and relations (`goal-state`), read once.
    pub fn goal_state(&mut self) -> ModelResult<&GoalState> {
        if self.goal_state.is_none() {
            self.goal_state = Some(self.tools.goal_state()?);
        }
        Ok(self.goal_state.get_or_insert_with(GoalState::default))
    }

    /// The charm's configuration (`config-get`), read once.
    pub fn config(&mut self) -> ModelResult<&serde_json::Map<String, serde_json::Value>> {
        if self.config.is_none() {
            self.config = Some(self.tools.config_get()?);
        }
        Ok(self.config.get_or_insert_with(Default::default))
    }

    /// The running action's parameters, read once.
    pub fn action_params(&mut self) -> ModelResult<&serde_json::Map<String, serde_json::Value>> {
        self.require_action("reading action parameters")?;
        if self.action_params.is_none() {
            self.action_params = Some(self.tools.action_get()?);
        }
        Ok(self.action_params.get_or_insert_with(Default::default))
    }

    fn require_action(&self, what: &'static str) -> ModelResult<()> {
        if self.in_action.is_none() {
            return Err(ModelError::NotInAction {
                what,
                event: self.event_name.clone(),
            });
        }
        Ok(())
    }

    /// Stage this unit's final status for this dispatch (set once, at flush).
    pub fn set_status(&mut self, status: Status) {
        self.unit_status = Some(status);
    }

    /// The unit status staged so far, if any.
    pub fn staged_status(&self) -> Option<&Status> {
        self.unit_status.as_ref()
    }

    /// Stage the application's status (leader only, checked now).
    pub fn set_app_status(&mut self, status: Status) -> ModelResult<()> {
        if !self.is_leader()? {
            return Err(ModelError::NotLeader {
                what: "set the application status",
                unit: self.unit.clone(),
            });
        }
        self.app_status = Some(status);
        Ok(())
    }

    /// Show a status right now, before the dispatch ends: for long work (restarting a
    /// workload) the operator should see. It stays visible even if the hook later fails, so
    /// the staged final status should follow it.
    pub fn publish_status_now(&mut self, status: &Status) -> ModelResult<()> {
        self.shown_status = None; // unknown until the dispatch ends well
        self.tools.status_set(StatusScope::Unit, status)?;
        Ok(())
    }

    /// Stage the workload version `juju status` shows.
    pub fn set_workload_version(&mut self, version: &str) {
        self.workload_version = Some(version.to_owned());
    }

    /// Stage an action result; dotted keys nest (`a.b=1` is `{a: {b: 1}}`).
    pub fn set_action_result(&mut self, key: &str, value: &str) -> ModelResult<()> {
        self.require_action("setting action results")?;
        crate::tools::check_action_key(key).map_err(|reason| ModelError::InvalidKey {
            key: key.into(),
            reason,
        })?;
        self.action_results.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Mark the running action failed with `message` (the last call wins). The dispatch still
    /// succeeds, so staged relation data is committed.
    pub fn fail_action(&mut self, message: &str) -> ModelResult<()> {
        self.require_action("failing an action")?;
        self.action_failure = Some(message.to_owned());
        Ok(())
    }

    /// The failure message staged for the running action, if any.
    pub fn action_failure(&self) -> Option<&str> {
        self.action_failure.as_deref()
    }

    /// The results staged for the running action.
    pub fn action_results(&self) -> &StringMap {
        &self.action_results
    }

    /// Send a progress line to the operator's `juju run` at once.
    pub fn action_log(&mut self, message: &str) -> ModelResult<()> {
        self.require_action("action-log")?;
        self.tools.action_log(message)?;
        Ok(())
    }

    /// Log to `juju debug-log`. Lines are sent when the dispatch ends or fails (see
    /// [`Model::send_logs`]); DEBUG lines only if enabled ([`Model::set_debug_logs`]).
    pub fn log(&self, level: LogLevel, message: &str) {
        if level == LogLevel::Debug && !self.debug_logs {
            return;
        }
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    /// Sends the pending log lines: consecutive lines of one level in one `juju-log` call.
    /// Logging never fails a hook: if `juju-log` fails the lines go to stderr, which Juju
    /// logs at WARNING.
    pub fn send_logs(&self) {
        let lines = std::mem::take(&mut *self.logs.borrow_mut());
        let mut i = 0;
        while i < lines.len() {
            let level = lines[i].0;
            let mut j = i;
            while j < lines.len() && lines[j].0 == level {
                j += 1;
            }
            let text = lines[i..j]
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            if let Err(e) = self.tools.juju_log(level, &text) {
                eprintln!("{} {text} (juju-log failed: {e})", level.as_str());
            }
            i = j;
        }
    }

    /// Send the log lines, then write everything staged, each bag at most once and only
    /// what changes.
    pub fn flush(mut self) -> ModelResult<FlushReport> {
        self.send_logs();
        let mut report = FlushReport::default();
        let staged = std::mem::take(&mut self.staged_bags);
        for ((relation, target), writes) in staged {
            let bag = match target {
                WriteTarget::OwnUnit => Bag::Unit(self.unit.clone()),
                WriteTarget::OwnApp => Bag::App(self.unit.app().to_owned()),
            };
            // Only what differs from what Juju holds; if the bag was never read, all of it.
            let changes: StringMap = match self.bags.get(&(relation.clone(), bag)) {
                Some(current) => writes
                    .into_iter()
                    .filter(|(k, v)| match current.get(k) {
                        Some(old) => old != v,
                        None => !v.is_empty(),
                    })
                    .collect(),
                None => writes,
            };
            if !changes.is_empty() {
                self.tools.relation_set(&relation, target, &changes)?;
                report.relation_writes += 1;
            }
        }

        let staged_state = std::mem::take(&mut self.staged_state);
        let current_state = self.state.take();
        let mut sets = StringMap::new();
        let mut deletes = Vec::new();
        for (k, v) in staged_state {
            let old = current_state.as_ref().and_then(|s| s.get(&k));
            match v {
                Some(v) if old != Some(&v) => {
                    sets.insert(k, v);
                }
                None if current_state.is_none() || old.is_some() => deletes.push(k),
                _ => {}
            }
        }
        if !sets.is_empty() {
            self.tools.state_set(&sets)?;
            report.state_writes += 1;
        }
        for k in deletes {
            self.tools.state_delete(&k)?;
            report.state_writes += 1;
        }

        // The action's results go with the buffered writes: Juju shows them only if the
        // dispatch completes. What takes effect at once (the version, the statuses) comes
        // last, so that a dispatch that dies before its end shows as little as possible of
        // what it never committed (a status saying "ready" over data that was discarded).
        if self.in_action.is_some() {
            self.tools.action_set(&self.action_results)?;
            if let Some(msg) = &self.action_failure {
                self.tools.action_fail(msg)?;
            }
        }

        if let Some(v) = &self.workload_version {
            self.tools.application_version_set(v)?;
        }
        // The application status only when it changes: the leader sets it on most of its
        // dispatches, and remembers what it showed (forgotten when it is elected again).
        if let Some(s) = self
            .app_status
            .as_ref()
            .filter(|s| self.shown_app_status.as_ref() != Some(*s))
        {
            self.tools.status_set(StatusScope::Application, s)?;
            report.app_status_written = Some(s.clone());
            report.statuses += 1;
        }
        if let Some(s) = &self.unit_status {
            self.tools.status_set(StatusScope::Unit, s)?;
            report.unit_status_written = Some(s.clone());
            report.statuses += 1;
        }
        Ok(report)
    }
}
