//! The model and the dispatcher over the in-memory fake: reads at most once, writes at most
//! once per bag, status set once, deferred events never lost nor duplicated.

use std::path::PathBuf;

use juju_hooks::fake::FakeRelation;
use juju_hooks::{
    dispatch, ActionEvent, Bag, Charm, DispatchError, Event, FakeHookTools, FakeState, Handled,
    HookContext, LogLevel, Model, ModelError, RelationEvent, RelationEventKind, RelationId, Status,
    UnitName, WriteTarget, DEFERRED_KEY,
};

fn unit(s: &str) -> UnitName {
    s.parse().unwrap()
}

fn rel() -> RelationId {
    "upgrade:3".parse().unwrap()
}

thread_local! {
    /// One charm directory per test (each test runs on its own thread): the unit's hints
    /// persist across the dispatches of a test, as they do on a real unit.
    static CHARM_DIR: PathBuf = tempfile::tempdir().unwrap().keep();
}

fn ctx(event: Event) -> HookContext {
    HookContext {
        unit: unit("db/0"),
        model_name: "dev".into(),
        model_uuid: None,
        charm_dir: CHARM_DIR.with(|d| d.clone()),
        juju_version: "3.6.7".parse().unwrap(),
        dispatch_path: event.dispatch_path(),
        event,
    }
}

fn peer_changed(remote: &str) -> Event {
    Event::Relation(RelationEvent {
        kind: RelationEventKind::Changed,
        relation: rel(),
        remote_app: "db".into(),
        remote_unit: Some(unit(remote)),
        departing_unit: None,
    })
}

/// A three-unit peer relation seen from db/0.
fn fake(leader: bool) -> FakeHookTools {
    let mut st = FakeState::new(unit("db/0"));
    st.leader = leader;
    let mut r = FakeRelation {
        remote_app: "db".into(),
        remote_units: vec![unit("db/1"), unit("db/2")],
        ..Default::default()
    };
    for u in ["db/0", "db/1", "db/2"] {
        r.bags.insert(
            Bag::Unit(unit(u)),
            [("state".to_string(), "idle".to_string())].into(),
        );
    }
    r.bags.insert(
        Bag::App("db".into()),
        [("upgrade-stack".to_string(), "[]".to_string())].into(),
    );
    st.relations.insert(rel(), r);
    FakeHookTools::new(st)
}

#[test]
fn reads_are_cached_for_the_whole_dispatch() {
    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "upgrade-charm", None);
    for _ in 0..3 {
        assert!(m.is_leader().unwrap());
        assert_eq!(m.relation("upgrade").unwrap(), Some(rel()));
        assert_eq!(m.relation_units(&rel()).unwrap().len(), 2);
        for u in ["db/0", "db/1", "db/2"] {
            assert_eq!(
                m.relation_get(&rel(), &Bag::Unit(unit(u)), "state")
                    .unwrap()
                    .as_deref(),
                Some("idle")
            );
        }
        m.relation_data(&rel(), &Bag::App("db".into())).unwrap();
        m.charm_state().unwrap();
        m.goal_state().unwrap();
        m.config().unwrap();
    }
    assert_eq!(tools.count("is-leader"), 1);
    assert_eq!(tools.count("relation-ids"), 1);
    assert_eq!(tools.count("relation-list"), 1);
    assert_eq!(tools.count("relation-get"), 4, "{:?}", tools.calls());
    assert_eq!(tools.count("state-get"), 1);
    assert_eq!(tools.count("goal-state"), 1);
    assert_eq!(tools.count("config-get"), 1);
}

#[test]
fn writes_are_staged_visible_to_the_writer_and_flushed_once_per_bag() {
    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "upgrade-relation-changed", None);
    m.relation_set(&rel(), WriteTarget::OwnUnit, "state", "ready")
        .unwrap();
    m.relation_set(&rel(), WriteTarget::OwnUnit, "state", "upgrading")
        .unwrap();
    m.relation_set(&rel(), WriteTarget::OwnApp, "upgrade-stack", "[0, 2]")
        .unwrap();
    m.relation_set(&rel(), WriteTarget::OwnApp, "dependencies", "{}")
        .unwrap();
    // Read-your-writes before anything reaches Juju.
    assert_eq!(
        m.relation_get(&rel(), &Bag::Unit(unit("db/0")), "state")
            .unwrap()
            .as_deref(),
        Some("upgrading")
    );
    assert_eq!(tools.count("relation-set"), 0);
    m.set_status(Status::Waiting("other units upgrading first...".into()));
    m.set_status(Status::Maintenance("upgrading...".into()));
    let report = m.flush().unwrap();
    assert_eq!(report.relation_writes, 2);
    assert_eq!(tools.count("relation-set"), 2);
    assert_eq!(tools.count("status-set"), 1);
    assert_eq!(
        tools.state().unit_status,
        Some(Status::Maintenance("upgrading...".into()))
    );
    // Nothing committed until the hook "exits 0".
    let bag = |t: &FakeHookTools, b: Bag| t.state().relations[&rel()].bags[&b].clone();
    assert_eq!(bag(&tools, Bag::Unit(unit("db/0")))["state"], "idle");
    tools.commit();
    assert_eq!(bag(&tools, Bag::Unit(unit("db/0")))["state"], "upgrading");
    assert_eq!(
        bag(&tools, Bag::App("db".into()))["upgrade-stack"],
        "[0, 2]"
    );
    assert_eq!(bag(&tools, Bag::App("db".into()))["dependencies"], "{}");
}

#[test]
fn unchanged_values_are_not_written() {
    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    m.relation_get(&rel(), &Bag::Unit(unit("db/0")), "state")
        .unwrap();
    m.relation_set(&rel(), WriteTarget::OwnUnit, "state", "idle")
        .unwrap();
    m.relation_set(&rel(), WriteTarget::OwnUnit, "absent", "")
        .unwrap();
    assert_eq!(m.flush().unwrap().relation_writes, 0);
    assert_eq!(tools.count("relation-set"), 0);
}

#[test]
fn empty_value_deletes() {
    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    m.relation_set(&rel(), WriteTarget::OwnUnit, "state", "")
        .unwrap();
    assert_eq!(
        m.relation_get(&rel(), &Bag::Unit(unit("db/0")), "state")
            .unwrap(),
        None
    );
    m.flush().unwrap();
    tools.commit();
    assert!(!tools.state().relations[&rel()].bags[&Bag::Unit(unit("db/0"))].contains_key("state"));
}

#[test]
fn non_leader_cannot_stage_app_writes_or_app_status() {
    let tools = fake(false);
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    let err = m
        .relation_set(&rel(), WriteTarget::OwnApp, "upgrade-stack", "[1]")
        .unwrap_err();
    assert!(matches!(err, ModelError::NotLeader { .. }), "{err}");
    assert!(err.to_string().contains("db/0"));
    assert!(matches!(
        m.set_app_status(Status::Active(String::new())),
        Err(ModelError::NotLeader { .. })
    ));
    // A non-leader may still read its own application's peer bag.
    assert_eq!(
        m.relation_get(&rel(), &Bag::App("db".into()), "upgrade-stack")
            .unwrap()
            .as_deref(),
        Some("[]")
    );
    m.flush().unwrap();
    assert_eq!(tools.count("relation-set"), 0);
}

#[test]
fn action_results_and_failure_once_and_only_in_actions() {
    let mut st = fake(true).state();
    st.action = Some(Default::default());
    let tools = FakeHookTools::new(st);
    let mut m = Model::new(
        &tools,
        unit("db/0"),
        "resume-upgrade",
        Some("resume-upgrade".into()),
    );
    m.set_action_result("message", "Upgrade will resume on unit 1")
        .unwrap();
    m.fail_action("first").unwrap();
    m.fail_action("Cannot set rolling update partition.")
        .unwrap();
    assert!(m.set_action_result("Bad_Key", "x").is_err());
    m.flush().unwrap();
    assert_eq!(tools.count("action-set"), 1);
    assert_eq!(tools.count("action-fail"), 1);
    let a = tools.state().action.unwrap();
    assert_eq!(a.results["message"], "Upgrade will resume on unit 1");
    assert_eq!(
        a.failure.as_deref(),
        Some("Cannot set rolling update partition.")
    );

    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    let err = m.fail_action("x").unwrap_err();
    assert!(matches!(err, ModelError::NotInAction { .. }));
    assert!(err.to_string().contains("start"), "{err}");
    m.flush().unwrap();
    assert_eq!(tools.count("action-fail"), 0);
}

#[test]
fn logging_batches_lines_per_level_and_never_fails_the_hook() {
    let tools = fake(true);
    let m = Model::new(&tools, unit("db/0"), "start", None);
    m.log(LogLevel::Info, "one");
    m.log(LogLevel::Info, "two");
    m.log(LogLevel::Debug, "detail");
    m.log(LogLevel::Info, "three");
    assert!(tools.state().logs.is_empty(), "sent when the dispatch ends");
    m.send_logs();
    assert_eq!(
        tools.state().logs,
        vec![
            (LogLevel::Info, "one\ntwo".to_string()),
            (LogLevel::Debug, "detail".to_string()),
            (LogLevel::Info, "three".to_string()),
        ]
    );
    assert_eq!(tools.count("juju-log"), 3);

    tools.fail_next("juju-log", "cannot reach the agent");
    m.log(LogLevel::Info, "lost to stderr, not fatal");
    m.send_logs();
    assert_eq!(tools.state().logs.len(), 3);

    // DEBUG lines are dropped when the unit's hints say so (the dispatcher's default).
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    m.apply_hints(&juju_hooks::Hints::default());
    m.log(LogLevel::Debug, "not sent");
    m.log(LogLevel::Warning, "sent");
    m.flush().unwrap();
    assert_eq!(
        tools.state().logs.last().unwrap(),
        &(LogLevel::Warning, "sent".to_string())
    );
    assert_eq!(tools.state().logs.len(), 4);
}

#[test]
fn failed_flush_reports_the_tool() {
    let tools = fake(true);
    let mut m = Model::new(&tools, unit("db/0"), "start", None);
    m.relation_set(&rel(), WriteTarget::OwnUnit, "state", "ready")
        .unwrap();
    tools.fail_next("relation-set", "connection is shut down");
    let err = m.flush().unwrap_err();
    assert!(err.to_string().contains("relation-set"), "{err}");
    assert!(err.to_string().contains("connection is shut down"), "{err}");
}

/// A charm that defers `upgrade-charm` until the peer relation exists, like the reference,
/// and records what it handled.
#[derive(Default)]
struct Deferrer {
    handled: Vec<String>,
    fail_on: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("boom")]
struct Boom;

impl Charm for Deferrer {
    type Error = Boom;
    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, Boom> {
        if self.fail_on.as_deref() == Some(&event.name()) {
            return Err(Boom);
        }
        match event {
            Event::UpgradeCharm | Event::LeaderSettingsChanged => {
                let Some(r) = model.relation("upgrade").map_err(|_| Boom)? else {
                    return Ok(Handled::Defer);
                };
                model
                    .relation_set(&r, WriteTarget::OwnUnit, "state", "ready")
                    .map_err(|_| Boom)?;
            }
            Event::Action(_) => return Ok(Handled::Defer),
            _ => {}
        }
        self.handled.push(event.name());
        Ok(Handled::Done)
    }
}

fn queued(tools: &FakeHookTools) -> Vec<String> {
    match tools.state().charm_state.get(DEFERRED_KEY) {
        None => vec![],
        Some(raw) => {
            let v: serde_json::Value = serde_json::from_str(raw).unwrap();
            assert_eq!(v["v"], 1);
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event"].as_str().unwrap().to_string())
                .collect()
        }
    }
}

/// Run one dispatch the way Juju does: commit on success, roll back on failure.
fn run(tools: &FakeHookTools, charm: &mut Deferrer, event: Event) -> bool {
    match dispatch(&ctx(event), tools, charm) {
        Ok(_) => {
            tools.commit();
            true
        }
        Err(_) => {
            tools.rollback();
            false
        }
    }
}

fn without_relation() -> FakeHookTools {
    let mut st = FakeState::new(unit("db/0"));
    st.leader = true;
    FakeHookTools::new(st)
}

#[test]
fn deferred_event_waits_then_runs_exactly_once() {
    let tools = without_relation();
    let mut charm = Deferrer::default();
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    assert_eq!(queued(&tools), ["upgrade-charm"]);
    assert!(charm.handled.is_empty());

    // Still no relation: re-run, deferred again, and a second identical event is not queued twice.
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    assert!(run(&tools, &mut charm, Event::ConfigChanged));
    assert_eq!(queued(&tools), ["upgrade-charm"]);
    assert_eq!(charm.handled, ["config-changed"]);

    // The relation appears: the deferred event runs before the new one, then is gone.
    let rel_tools = fake(true);
    tools.with_state(|s| s.relations = rel_tools.state().relations);
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(
        charm.handled,
        ["config-changed", "upgrade-charm", "update-status"]
    );
    assert!(queued(&tools).is_empty());
    assert!(!tools.state().charm_state.contains_key(DEFERRED_KEY));
    assert_eq!(
        tools.state().relations[&rel()].bags[&Bag::Unit(unit("db/0"))]["state"],
        "ready"
    );
    // And never again.
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(
        charm
            .handled
            .iter()
            .filter(|h| *h == "upgrade-charm")
            .count(),
        1
    );
}

#[test]
fn a_hook_failing_half_way_neither_loses_nor_duplicates_a_deferred_event() {
    let tools = without_relation();
    let mut charm = Deferrer::default();
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    let rel_tools = fake(true);
    tools.with_state(|s| s.relations = rel_tools.state().relations);

    // The deferred event runs (and stages a write), then the current event fails: Juju
    // discards everything, including the queue change.
    charm.fail_on = Some("config-changed".into());
    assert!(!run(&tools, &mut charm, Event::ConfigChanged));
    assert_eq!(queued(&tools), ["upgrade-charm"]);
    assert_eq!(
        tools.state().relations[&rel()].bags[&Bag::Unit(unit("db/0"))]["state"],
        "idle",
        "the failed dispatch's write must not be committed"
    );

    // Juju retries the hook; now it succeeds: the deferred event's work lands once.
    charm.fail_on = None;
    charm.handled.clear();
    assert!(run(&tools, &mut charm, Event::ConfigChanged));
    assert_eq!(charm.handled, ["upgrade-charm", "config-changed"]);
    assert!(queued(&tools).is_empty());
    assert!(run(&tools, &mut charm, Event::ConfigChanged));
    assert_eq!(
        charm.handled,
        ["upgrade-charm", "config-changed", "config-changed"]
    );
}

#[test]
fn failing_flush_keeps_the_queue() {
    let tools = without_relation();
    let mut charm = Deferrer::default();
    tools.fail_next("state-set", "quota exceeded");
    assert!(!run(&tools, &mut charm, Event::UpgradeCharm));
    // The event was not recorded as deferred, but the hook failed, so Juju re-runs it.
    assert!(queued(&tools).is_empty());
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    assert_eq!(queued(&tools), ["upgrade-charm"]);
}

#[test]
fn actions_cannot_be_deferred() {
    let mut st = FakeState::new(unit("db/0"));
    st.action = Some(Default::default());
    let tools = FakeHookTools::new(st);
    let err = dispatch(
        &ctx(Event::Action(ActionEvent {
            name: "pre-upgrade-check".into(),
            id: "1".into(),
        })),
        &tools,
        &mut Deferrer::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DispatchError::ActionDeferred { .. }), "{err}");
}

#[test]
fn deferred_relation_event_is_dropped_when_the_relation_is_gone() {
    let tools = fake(true);
    let queue = serde_json::json!({"v": 1, "events": [
        serde_json::to_value(peer_changed("db/1")).unwrap(),
        {"event": "upgrade-relation-changed", "kind": "changed", "relation": "upgrade:99",
         "remote_app": "db", "remote_unit": "db/1", "departing_unit": null}
    ]});
    tools.with_state(|s| {
        s.charm_state.insert(DEFERRED_KEY.into(), queue.to_string());
    });
    // The stored relation event keeps its name through the `event` tag; build it for real.
    let mut charm = Deferrer::default();
    // A unit without hints reads the queue.
    let report = dispatch(&ctx(Event::Start), &tools, &mut charm);
    // The hand-written second entry is not a valid Event (its tag is a hook name), so the
    // whole queue is unreadable: discarded with an error log rather than failing forever.
    let report = report.unwrap();
    tools.commit();
    assert_eq!(report.dropped, 0);
    assert!(
        tools
            .state()
            .logs
            .iter()
            .any(|(l, m)| *l == LogLevel::Error
                && m.contains("discarding unreadable deferred events"))
    );
    assert!(queued(&tools).is_empty());

    // A well-formed queue with a dead relation: that event is dropped, the live one runs.
    let gone = Event::Relation(RelationEvent {
        kind: RelationEventKind::Changed,
        relation: "upgrade:99".parse().unwrap(),
        remote_app: "db".into(),
        remote_unit: Some(unit("db/1")),
        departing_unit: None,
    });
    let queue = serde_json::json!({"v": 1, "events": [gone, peer_changed("db/1")]});
    tools.with_state(|s| {
        s.charm_state.insert(DEFERRED_KEY.into(), queue.to_string());
    });
    let mut charm = Deferrer::default();
    // (Stored behind the hints' back: forget them so that the queue is read.)
    let _ = std::fs::remove_file(CHARM_DIR.with(|d| d.join(juju_hooks::HINTS_FILE)));
    let report = dispatch(&ctx(Event::ConfigChanged), &tools, &mut charm).unwrap();
    tools.commit();
    assert_eq!(report.dropped, 1);
    assert_eq!(report.reemitted_done, 1);
    assert_eq!(
        charm.handled,
        ["upgrade-relation-changed", "config-changed"]
    );
    assert!(queued(&tools).is_empty());
}

#[test]
fn old_juju_without_charm_state_fails_the_hook_instead_of_losing_the_event() {
    let tools = without_relation();
    let mut c = ctx(Event::UpgradeCharm);
    c.juju_version = "2.7.6".parse().unwrap();
    let err = dispatch(&c, &tools, &mut Deferrer::default()).unwrap_err();
    assert!(matches!(err, DispatchError::NoCharmState { .. }), "{err}");
    assert_eq!(tools.count("state-get"), 0);
}

#[test]
fn a_dispatch_reads_and_writes_each_bag_at_most_once() {
    /// Reads every bag several times and writes its own twice.
    struct Busy;
    impl Charm for Busy {
        type Error = ModelError;
        fn handle(&mut self, _e: &Event, m: &mut Model<'_>) -> Result<Handled, ModelError> {
            let r = m.peer_relation("upgrade")?.expect("relation");
            for _ in 0..5 {
                let mut units = m.relation_units(&r)?;
                units.push(m.unit().clone());
                for u in units {
                    m.relation_data(&r, &Bag::Unit(u))?;
                }
                m.relation_data(&r, &Bag::App(m.app().to_owned()))?;
                m.is_leader()?;
            }
            m.relation_set(&r, WriteTarget::OwnUnit, "state", "ready")?;
            m.relation_set(&r, WriteTarget::OwnUnit, "state", "upgrading")?;
            m.relation_set(&r, WriteTarget::OwnApp, "upgrade-stack", "[0]")?;
            m.relation_set(&r, WriteTarget::OwnApp, "upgrade-stack", "[0, 1]")?;
            m.set_status(Status::Waiting("a".into()));
            m.set_status(Status::Maintenance("b".into()));
            Ok(Handled::Done)
        }
    }
    let tools = fake(true);
    // A unit that has run before: its hints say no deferred event is stored.
    juju_hooks::Hints {
        v: 1,
        ..Default::default()
    }
    .save(&CHARM_DIR.with(|d| d.clone()))
    .unwrap();
    dispatch(&ctx(peer_changed("db/1")), &tools, &mut Busy).unwrap();
    let gets: Vec<String> = tools
        .calls()
        .into_iter()
        .filter(|c| c.tool == "relation-get")
        .map(|c| c.target)
        .collect();
    let mut unique = gets.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(gets.len(), 4, "{gets:?}");
    assert_eq!(unique.len(), gets.len(), "a bag was read twice: {gets:?}");
    assert_eq!(tools.count("relation-set"), 2);
    assert_eq!(tools.count("status-set"), 1);
    assert_eq!(tools.count("is-leader"), 1);
    // No deferred event can be stored (the unit's hints say so): the queue is not read.
    assert_eq!(tools.count("state-get"), 0);
    // The relation of the event is known from the environment: no relation-ids.
    assert_eq!(tools.count("relation-ids"), 0);
    assert_eq!(tools.count("state-set") + tools.count("state-delete"), 0);
}

#[test]
fn the_queue_is_read_only_when_one_may_exist() {
    let tools = without_relation();
    let mut charm = Deferrer::default();
    let dir = CHARM_DIR.with(|d| d.clone());

    // A new unit has no hints: its first dispatch reads the queue and writes them.
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(tools.count("state-get"), 1);
    assert!(!juju_hooks::Hints::load(&dir).0.maybe_deferred);
    // Nothing deferred: the next hooks do not ask for charm state.
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(tools.count("state-get"), 1);

    // upgrade-charm defers (reading the queue before writing one); the hint now says a
    // queue exists.
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    assert_eq!(queued(&tools), ["upgrade-charm"]);
    assert!(juju_hooks::Hints::load(&dir).0.maybe_deferred);
    let before = tools.count("state-get");
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(tools.count("state-get"), before + 1);

    // The relation appears: the deferred event runs; the hint stays until a dispatch has
    // seen the committed queue empty.
    tools.with_state(|s| {
        s.relations.insert(
            rel(),
            juju_hooks::fake::FakeRelation {
                remote_app: "db".into(),
                ..Default::default()
            },
        );
    });
    tools.commit();
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert!(queued(&tools).is_empty());
    assert!(juju_hooks::Hints::load(&dir).0.maybe_deferred);
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert!(!juju_hooks::Hints::load(&dir).0.maybe_deferred);
    let before = tools.count("state-get");
    assert!(run(&tools, &mut charm, Event::UpdateStatus));
    assert_eq!(
        tools.count("state-get"),
        before,
        "hint cleared: not read again"
    );
}

#[test]
fn lost_hints_never_lose_a_deferred_event() {
    // A queue exists but the charm directory was recreated (new pod): the hints are gone.
    let tools = without_relation();
    let mut charm = Deferrer::default();
    assert!(run(&tools, &mut charm, Event::UpgradeCharm));
    let dir = CHARM_DIR.with(|d| d.clone());
    std::fs::remove_file(dir.join(juju_hooks::HINTS_FILE)).unwrap();

    // A hook that does not read the queue defers another event: the stored queue is read
    // before it is written, so the first event is kept.
    assert!(run(&tools, &mut charm, Event::LeaderSettingsChanged));
    assert_eq!(queued(&tools), ["upgrade-charm", "leader-settings-changed"]);
}
