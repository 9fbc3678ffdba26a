//! A test harness for a whole charm: state in, event, state out, in the spirit of ops'
//! Scenario and goopstest. [`Harness::run`] builds the [`HookContext`] Juju would build for
//! the event, runs [`dispatch()`](crate::dispatch()) over the in-memory [`FakeHookTools`]
//! holding the given [`FakeState`], and applies the outcome as Juju does: committed when the
//! dispatch succeeded, discarded when it failed. The [`Outcome`] holds the resulting state
//! (relation data, statuses, workload version, action result, logs, charm state), the
//! dispatch's result and every hook-tool call.
//!
//! Each [`Harness`] owns a unit's charm directory (a fresh temporary directory, removed on
//! drop) holding the charm's files ([`Harness::with_charm_files`] copies them from the
//! charm's source, e.g. `versions.json`) and what the unit remembers between dispatches, so
//! successive runs behave as successive hooks of one unit.
//!
//! ```
//! use juju_hooks::harness::{self, Harness};
//! use juju_hooks::{Charm, Event, FakeState, Handled, Model, ModelError, RelationId, Status, UnitName};
//!
//! /// Sets its peers' count as its status on every peer relation-changed.
//! struct Counter;
//! impl Charm for Counter {
//!     type Error = ModelError;
//!     fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
//!         if let Event::Relation(r) = event {
//!             let peers = model.relation_units(&r.relation)?.len();
//!             model.set_status(Status::Active(format!("{peers} peers")));
//!         }
//!         if let Event::Action(_) = event {
//!             let who = model.action_params()?.get("who").and_then(|v| v.as_str()).unwrap_or("nobody").to_owned();
//!             model.set_action_result("greeting", &format!("hello {who}"))?;
//!         }
//!         Ok(Handled::Done)
//!     }
//! }
//!
//! let me = UnitName::new("kv", 0)?;
//! let peers: RelationId = "cluster:1".parse()?;
//! let state = FakeState::new(me.clone())
//!     .leader(true)
//!     .with_peer_relation(&peers, [(UnitName::new("kv", 1)?, Default::default())]);
//!
//! let h = Harness::new()?;
//! let out = h.run_charm(&mut Counter, state.clone(), harness::relation_changed(&peers, None));
//! assert!(out.result.is_ok());
//! assert_eq!(out.state.unit_status, Some(Status::Active("1 peers".into())));
//!
//! let out = h.run_charm(
//!     &mut Counter,
//!     state.with_action_params([("who".to_string(), "operator".into())]),
//!     harness::action("greet"),
//! );
//! assert_eq!(out.action_results()["greeting"], "hello operator");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::context::{ActionEvent, Event, HookContext, RelationEvent, RelationEventKind};
use crate::dispatch::{dispatch, Charm, DispatchError, DispatchReport};
use crate::fake::{Call, FakeAction, FakeHookTools, FakeRelation, FakeState};
use crate::names::{JujuVersion, RelationId, UnitName};
use crate::tools::{Bag, GoalStatus, LogLevel, StringMap};

/// The Juju version the harness's contexts report.
pub const JUJU_VERSION: &str = "3.6.7";

/// The model name (the Kubernetes namespace) the harness's contexts report.
pub const MODEL_NAME: &str = "test-model";

/// A unit's charm directory and the way to run its hooks: see the [module docs](self).
#[derive(Debug)]
pub struct Harness {
    charm_dir: PathBuf,
}

impl Harness {
    /// A harness with an empty charm directory.
    pub fn new() -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let charm_dir = std::env::temp_dir().join(format!(
            "juju-hooks-harness-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&charm_dir);
        std::fs::create_dir_all(&charm_dir)?;
        Ok(Harness { charm_dir })
    }

    /// A harness whose charm directory holds copies of the regular files at the top of
    /// `source` (the charm's `versions.json`, `metadata.yaml`, ...; directories are skipped).
    pub fn with_charm_files(source: impl AsRef<Path>) -> std::io::Result<Self> {
        let h = Harness::new()?;
        for entry in std::fs::read_dir(source.as_ref())? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), h.charm_dir.join(entry.file_name()))?;
            }
        }
        Ok(h)
    }

    /// The unit's charm directory (`JUJU_CHARM_DIR`).
    pub fn charm_dir(&self) -> &Path {
        &self.charm_dir
    }

    /// Writes `name` in the charm directory (e.g. another `versions.json`, or `.juju-charm`
    /// as a refresh would leave it).
    pub fn write_file(&self, name: &str, contents: &str) -> std::io::Result<()> {
        std::fs::write(self.charm_dir.join(name), contents)
    }

    /// The context Juju builds for `event` on `unit`.
    pub fn context(&self, unit: &UnitName, event: Event) -> HookContext {
        HookContext {
            unit: unit.clone(),
            model_name: MODEL_NAME.to_owned(),
            model_uuid: Some("00000000-0000-4000-8000-000000000000".to_owned()),
            charm_dir: self.charm_dir.clone(),
            juju_version: JujuVersion {
                major: 3,
                minor: 6,
                patch: 7,
                tag: None,
                build: 0,
            },
            dispatch_path: event.dispatch_path(),
            event,
        }
    }

    /// Runs `event` on the unit `state` describes, with the charm `make` builds from the
    /// context (as the charm's `main` does).
    pub fn run<C: Charm>(
        &self,
        state: FakeState,
        event: Event,
        make: impl FnOnce(&HookContext) -> C,
    ) -> Outcome<C::Error> {
        let ctx = self.context(&state.unit, complete(event, &state));
        let mut charm = make(&ctx);
        self.dispatch(&ctx, &mut charm, state)
    }

    /// Runs `event` with an already built `charm`.
    pub fn run_charm<C: Charm>(
        &self,
        charm: &mut C,
        state: FakeState,
        event: Event,
    ) -> Outcome<C::Error> {
        let ctx = self.context(&state.unit, complete(event, &state));
        self.dispatch(&ctx, charm, state)
    }

    fn dispatch<C: Charm>(
        &self,
        ctx: &HookContext,
        charm: &mut C,
        mut state: FakeState,
    ) -> Outcome<C::Error> {
        if ctx.event.is_action() && state.action.is_none() {
            state.action = Some(FakeAction::default());
        }
        let tools = FakeHookTools::new(state);
        let result = dispatch(ctx, &tools, charm);
        match &result {
            Ok(_) => tools.commit(),
            Err(_) => tools.rollback(),
        }
        Outcome {
            state: tools.state(),
            result,
            calls: tools.calls(),
        }
    }
}

/// A relation event's remote application, when the test left it empty, is the relation's.
fn complete(mut event: Event, state: &FakeState) -> Event {
    if let Event::Relation(r) = &mut event {
        if r.remote_app.is_empty() {
            if let Some(rel) = state.relations.get(&r.relation) {
                r.remote_app = rel.remote_app.clone();
            }
        }
    }
    event
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.charm_dir);
    }
}

/// What one run left: the state after it, its result, its hook-tool calls.
#[derive(Debug)]
pub struct Outcome<E: std::error::Error + 'static> {
    /// The state after the dispatch (its writes committed if it succeeded). Feed it to the
    /// next [`Harness::run`] to go on (clear `action` first: see [`Outcome::next_state`]).
    pub state: FakeState,
    /// What the dispatch returned: `Err` is a hook Juju would mark failed and retry.
    pub result: Result<DispatchReport, DispatchError<E>>,
    /// Every hook-tool call, in order.
    pub calls: Vec<Call>,
}

impl<E: std::error::Error + 'static> Outcome<E> {
    /// The state to run the next event against: this one without the finished action and
    /// its logs.
    pub fn next_state(&self) -> FakeState {
        let mut s = self.state.clone();
        s.action = None;
        s.logs.clear();
        s
    }

    /// The action's results (empty when it set none, or for a hook).
    pub fn action_results(&self) -> StringMap {
        self.state
            .action
            .as_ref()
            .map(|a| a.results.clone())
            .unwrap_or_default()
    }

    /// The action's failure message, if it failed.
    pub fn action_failure(&self) -> Option<&str> {
        self.state
            .action
            .as_ref()
            .and_then(|a| a.failure.as_deref())
    }

    /// This unit's databag in `relation` after the run.
    pub fn unit_data(&self, relation: &RelationId) -> StringMap {
        self.state
            .bag(relation, &Bag::Unit(self.state.unit.clone()))
    }

    /// The application's databag in `relation` after the run.
    pub fn app_data(&self, relation: &RelationId) -> StringMap {
        self.state
            .bag(relation, &Bag::App(self.state.unit.app().to_owned()))
    }

    /// The log lines at `level` or above.
    pub fn logs_at(&self, level: LogLevel) -> Vec<&str> {
        let rank = |l: &LogLevel| match l {
            LogLevel::Debug => 0,
            LogLevel::Info => 1,
            LogLevel::Warning => 2,
            LogLevel::Error => 3,
            LogLevel::Critical => 4,
        };
        self.state
            .logs
            .iter()
            .filter(|(l, _)| rank(l) >= rank(&level))
            .map(|(_, m)| m.as_str())
            .collect()
    }

    /// How many calls `tool` got.
    pub fn count(&self, tool: &str) -> usize {
        self.calls.iter().filter(|c| c.tool == tool).count()
    }
}

/// Building the state a test starts from.
impl FakeState {
    /// Leader or not.
    pub fn leader(mut self, leader: bool) -> Self {
        self.leader = leader;
        self
    }

    /// Adds the peer relation `relation` with `peers` (each with its databag); this unit's
    /// and the application's bags start empty. `goal-state` plans this unit and the peers.
    pub fn with_peer_relation(
        mut self,
        relation: &RelationId,
        peers: impl IntoIterator<Item = (UnitName, StringMap)>,
    ) -> Self {
        let app = self.unit.app().to_owned();
        let mut rel = FakeRelation {
            remote_app: app.clone(),
            ..FakeRelation::default()
        };
        rel.bags
            .insert(Bag::Unit(self.unit.clone()), StringMap::new());
        rel.bags.insert(Bag::App(app), StringMap::new());
        let active = || GoalStatus {
            status: "active".into(),
            since: None,
        };
        self.goal_state
            .units
            .insert(self.unit.to_string(), active());
        for (unit, bag) in peers {
            self.goal_state.units.insert(unit.to_string(), active());
            rel.remote_units.push(unit.clone());
            rel.bags.insert(Bag::Unit(unit), bag);
        }
        self.relations.insert(relation.clone(), rel);
        self
    }

    /// Sets `bag`'s data in `relation` (which must have been added).
    pub fn with_bag(mut self, relation: &RelationId, bag: Bag, data: StringMap) -> Self {
        if let Some(rel) = self.relations.get_mut(relation) {
            rel.bags.insert(bag, data);
        }
        self
    }

    /// Sets this unit's databag in `relation`.
    pub fn with_unit_data(self, relation: &RelationId, data: StringMap) -> Self {
        let bag = Bag::Unit(self.unit.clone());
        self.with_bag(relation, bag, data)
    }

    /// Sets the application's databag in `relation`.
    pub fn with_app_data(self, relation: &RelationId, data: StringMap) -> Self {
        let bag = Bag::App(self.unit.app().to_owned());
        self.with_bag(relation, bag, data)
    }

    /// Sets a config option (`config-get`).
    pub fn with_config(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.config.insert(key.to_owned(), value.into());
        self
    }

    /// The running action's parameters (`action-get`).
    pub fn with_action_params(
        mut self,
        params: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Self {
        let action = self.action.get_or_insert_with(FakeAction::default);
        action.params.extend(params);
        self
    }

    /// A databag's committed data (empty if absent).
    pub fn bag(&self, relation: &RelationId, bag: &Bag) -> StringMap {
        self.relations
            .get(relation)
            .and_then(|r| r.bags.get(bag))
            .cloned()
            .unwrap_or_default()
    }
}

/// A string map from pairs: `data([("state", "idle")])`.
pub fn data<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> StringMap {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The action `name` (`juju run <unit> <name>`); its parameters go in the state
/// ([`FakeState::with_action_params`]).
pub fn action(name: &str) -> Event {
    Event::Action(ActionEvent {
        name: name.to_owned(),
        id: "1".to_owned(),
    })
}

/// A relation hook on `relation` (the remote application is filled in from the state's
/// relation when the harness runs it).
fn relation_event(
    kind: RelationEventKind,
    relation: &RelationId,
    remote: Option<&UnitName>,
) -> Event {
    Event::Relation(RelationEvent {
        kind,
        relation: relation.clone(),
        remote_app: remote.map(|u| u.app().to_owned()).unwrap_or_default(),
        remote_unit: remote.cloned(),
        departing_unit: None,
    })
}

/// `<endpoint>-relation-created`.
pub fn relation_created(relation: &RelationId) -> Event {
    relation_event(RelationEventKind::Created, relation, None)
}

/// `<endpoint>-relation-changed`, about `remote` (`None`: the application bag changed).
pub fn relation_changed(relation: &RelationId, remote: Option<&UnitName>) -> Event {
    relation_event(RelationEventKind::Changed, relation, remote)
}

/// `<endpoint>-relation-departed` of `departing`.
pub fn relation_departed(relation: &RelationId, departing: &UnitName) -> Event {
    let mut e = relation_event(RelationEventKind::Departed, relation, Some(departing));
    if let Event::Relation(r) = &mut e {
        r.departing_unit = Some(departing.clone());
    }
    e
}
