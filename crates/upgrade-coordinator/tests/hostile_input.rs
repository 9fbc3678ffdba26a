//! 1 MB values in every key the coordinator reads: no panic, nothing echoed back whole, a
//! few short log lines, and work bounded by the units, not by the value (the upgrade stack
//! used to be walked once per element by the leader's pop-and-recurse, with a full
//! re-format each time: quadratic, > 30 s for a 1 MB `[0, 0, ...]`).

use juju_hooks::{StringMap, UnitName};
use upgrade_coordinator::{
    handle, Call, ClusterNotReady, DependencyError, DependencyModel, GrantOutcome,
    KubernetesClientError, Snapshot, StackError, StoredDependencies, Substrate, UpgradeConfig,
    UpgradeContext, UpgradeEvent, UpgradeHooks,
};

const MB: usize = 1 << 20;

struct Hooks;

impl UpgradeHooks for Hooks {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        Ok(())
    }
    fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        let mut stack = vec![cx.unit().number()];
        stack.extend(cx.peers().iter().map(UnitName::number));
        Ok(stack)
    }
    fn on_upgrade_granted(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        Ok(GrantOutcome::Completed)
    }
    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}
    fn set_rolling_update_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
        _: u32,
    ) -> Result<(), KubernetesClientError> {
        Ok(())
    }
}

/// Values of about 1 MB, in the shapes a broken or hostile peer could write.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("zeros", format!("[0{}]", ", 0".repeat(MB / 3))),
        (
            "distinct units",
            format!(
                "[{}]",
                (0..MB / 8)
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("digits", "7".repeat(MB)),
        ("json string", format!("\"{}\"", "a".repeat(MB))),
        ("garbage", "x".repeat(MB)),
        ("nesting", "[".repeat(MB)),
        (
            "many entries",
            format!(
                "{{{}}}",
                (0..MB / 40)
                    .map(|n| format!("\"k{n}\": {{\"version\": \"1\"}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "many unreadable entries",
            format!(
                "{{{}}}",
                (0..MB / 16)
                    .map(|n| format!("\"k{n}\": 1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "long version",
            format!("{{\"app\": {{\"version\": \"1{}\"}}}}", ".1".repeat(MB / 2)),
        ),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Where {
    App(&'static str),
    OwnUnit(&'static str),
    PeerUnit(&'static str),
}

const PLACES: [Where; 9] = [
    Where::App("upgrade-stack"),
    Where::App("dependencies"),
    Where::App("upgrade-round"),
    Where::App("upgrade-resumed"),
    Where::OwnUnit("state"),
    Where::OwnUnit("upgrade-round"),
    Where::PeerUnit("state"),
    Where::PeerUnit("upgrade-round"),
    Where::PeerUnit("workload-health"),
];

fn events() -> Vec<UpgradeEvent> {
    vec![
        UpgradeEvent::RelationCreated,
        UpgradeEvent::RelationChanged,
        UpgradeEvent::RelationDeparted,
        UpgradeEvent::UpgradeCharm,
        UpgradeEvent::PreUpgradeCheck,
        UpgradeEvent::ResumeUpgrade { check_health: true },
        UpgradeEvent::ForceUpgrade {
            check_compatibility: false,
            run_pre_upgrade_checks: false,
        },
        UpgradeEvent::UnitCompleted,
        UpgradeEvent::UnitFailed { cause: None },
        UpgradeEvent::UpgradeFinished,
    ]
}

const MODEL: &str =
    r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.1"}}"#;

/// A 3-unit model in the middle of an upgrade (the states that make the leader pop and
/// grant), with `value` at `place`.
fn snapshot(me: u32, leader: bool, place: Where, value: &str) -> Snapshot {
    let unit = |n| UnitName::new("app", n).unwrap();
    let mut snap = Snapshot::new(unit(me));
    snap.leader = leader;
    let states = ["ready", "completed", "completed"];
    for n in 0..3u32 {
        let mut bag = StringMap::new();
        bag.insert("state".into(), states[n as usize].into());
        bag.insert("upgrade-round".into(), "1".into());
        bag.insert("workload-health".into(), "healthy".into());
        snap.units.insert(unit(n), bag);
    }
    snap.app.insert("upgrade-stack".into(), "[0, 1, 2]".into());
    snap.app.insert("upgrade-round".into(), "1".into());
    snap.app.insert(
        "dependencies".into(),
        r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.0"}}"#.into(),
    );
    match place {
        Where::App(key) => {
            snap.app.insert(key.into(), value.into());
        }
        Where::OwnUnit(key) => {
            snap.units
                .get_mut(&unit(me))
                .unwrap()
                .insert(key.into(), value.into());
        }
        Where::PeerUnit(key) => {
            let peer = if me == 2 { 1 } else { 2 };
            snap.units
                .get_mut(&unit(peer))
                .unwrap()
                .insert(key.into(), value.into());
        }
    }
    snap
}

#[test]
fn a_megabyte_in_any_key_is_handled_in_bounded_work_with_short_output() {
    let model = DependencyModel::from_json(MODEL).unwrap();
    let mut cases = 0;
    for (shape, value) in hostile_values() {
        for place in PLACES {
            for substrate in [Substrate::Vm, Substrate::K8s] {
                let config = UpgradeConfig::new(substrate, model.clone());
                for (me, leader) in [(0, true), (2, false)] {
                    for event in events() {
                        let mut snap = snapshot(me, leader, place, &value);
                        let unit = UnitName::new("app", me).unwrap();
                        let fx = handle(&config, &unit, &event, &mut snap, &mut Hooks).unwrap();
                        cases += 1;
                        let what =
                            format!("{shape} at {place:?}, {substrate:?}, unit {me}, {event:?}");
                        // Work: the relation-changed logic runs at most twice per unit (the
                        // leader pops each completed unit, then grants itself and looks
                        // again); it recursed once per stack element before.
                        assert!(
                            fx.count(&Call::UpgradeChanged) <= 6,
                            "{what}: the relation-changed logic ran {} times",
                            fx.count(&Call::UpgradeChanged)
                        );
                        // Reads: each bag at most once, whatever the value.
                        assert!(
                            snap.bag_reads() <= 4,
                            "{what}: {} bag reads",
                            snap.bag_reads()
                        );
                        // Nothing echoes the value back whole.
                        let log_bytes: usize = fx.logs.iter().map(|l| l.message.len()).sum();
                        assert!(log_bytes < 4096, "{what}: {log_bytes} bytes of log");
                        assert!(fx.logs.len() <= 16, "{what}: {} log lines", fx.logs.len());
                        for (k, v) in fx.unit_data.iter().chain(fx.app_data.iter()) {
                            assert!(v.len() < 1024, "{what}: wrote {} bytes to {k}", v.len());
                        }
                        let status_len = fx.status.as_ref().map_or(0, |s| s.message().len());
                        assert!(status_len < 200, "{what}: status of {status_len} bytes");
                        let failure = fx.action_failure.as_deref().unwrap_or_default();
                        assert!(failure.len() < 512, "{what}: action failure {failure:?}");
                    }
                }
            }
        }
    }
    assert_eq!(cases, 9 * 9 * 2 * 2 * events().len());
}

#[test]
fn a_malformed_stack_is_one_clear_log_line() {
    let model = DependencyModel::from_json(MODEL).unwrap();
    let config = UpgradeConfig::new(Substrate::Vm, model);
    let (_, zeros) = &hostile_values()[0];
    let mut snap = snapshot(0, true, Where::App("upgrade-stack"), zeros);
    let unit = UnitName::new("app", 0).unwrap();
    let fx = handle(
        &config,
        &unit,
        &UpgradeEvent::RelationChanged,
        &mut snap,
        &mut Hooks,
    )
    .unwrap();
    // (The reference's own DEBUG lines stay as they are.)
    let about: Vec<&str> = fx
        .logs
        .iter()
        .filter(|l| l.level != juju_hooks::LogLevel::Debug)
        .map(|l| l.message.as_str())
        .filter(|m| m.contains("upgrade-stack"))
        .collect();
    assert_eq!(about.len(), 1, "{about:?}");
    assert!(
        about[0].contains("lists unit 0 twice (item 1)")
            && about[0].contains("run pre-upgrade-check on the leader"),
        "{}",
        about[0]
    );
    // Nothing was granted or popped on the strength of it.
    assert!(!fx.app_data.contains_key("upgrade-stack"));
    assert_eq!(fx.count(&Call::UpgradeGranted), 0);
}

#[test]
fn stored_dependencies_name_a_few_problems_and_count_the_rest() {
    let text = format!(
        "{{{}}}",
        (0..10_000)
            .map(|n| format!("\"k{n}\": 1"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let stored = StoredDependencies::parse(&text);
    assert_eq!(stored.problems.len(), 4, "{:?}", stored.problems);
    assert_eq!(
        stored.problems[3],
        "9997 more stored entries have no readable version"
    );
}
