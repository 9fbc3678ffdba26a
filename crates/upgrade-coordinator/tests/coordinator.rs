//! Behaviour beyond the recorded scenarios: the deviations that have no Python counterpart
//! to record (DEVIATIONS.md), and what a dispatch reads.

use juju_hooks::{LogLevel, Status, StringMap, UnitName};
use upgrade_coordinator::{
    handle, Call, ClusterNotReady, DependencyError, DependencyModel, GrantOutcome, Snapshot,
    StackError, Substrate, UpgradeConfig, UpgradeContext, UpgradeEvent, UpgradeHooks,
};

const MODEL: &str =
    r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "2.0"}}"#;

fn config(substrate: Substrate) -> UpgradeConfig {
    UpgradeConfig::new(substrate, DependencyModel::from_json(MODEL).unwrap())
}

fn unit(n: u32) -> UnitName {
    UnitName::new("app", n).unwrap()
}

fn bag(state: &str) -> StringMap {
    StringMap::from([("state".to_owned(), state.to_owned())])
}

/// A snapshot seen from unit `me` with the given unit states and app data.
fn world(me: u32, leader: bool, states: &[(u32, &str)], app: &[(&str, &str)]) -> Snapshot {
    let mut s = Snapshot::new(unit(me));
    s.leader = leader;
    for (n, st) in states {
        s.units.insert(unit(*n), bag(st));
    }
    s.app = app
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s
}

#[derive(Default)]
struct Hooks {
    stack: Option<Vec<u32>>,
    grant: Option<Result<GrantOutcome, DependencyError>>,
}

impl UpgradeHooks for Hooks {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        Ok(())
    }
    fn build_upgrade_stack(&mut self, _: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        self.stack.clone().ok_or(StackError::NotImplemented)
    }
    fn on_upgrade_granted(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        self.grant.clone().unwrap_or(Ok(GrantOutcome::InProgress))
    }
    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}
    fn set_rolling_update_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
        _partition: u32,
    ) -> Result<(), upgrade_coordinator::KubernetesClientError> {
        Ok(())
    }
}

#[test]
fn d6_stack_repair_inserts_missing_units_in_ascending_order_below_the_failed_top() {
    // Units 0..5; unit 5 failed at the top; 1, 2, 3 completed and were popped; 0 and 4 untouched.
    let states = [
        (0, "ready"),
        (1, "completed"),
        (2, "completed"),
        (3, "completed"),
        (4, "ready"),
        (5, "failed"),
    ];
    let mut w = world(0, true, &states, &[("upgrade-stack", "[0, 4, 5]")]);
    let fx = handle(
        &config(Substrate::Vm),
        &unit(0),
        &UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.app_data["upgrade-stack"], "[0, 4, 1, 2, 3, 5]");
    assert_eq!(fx.unit_data["state"], "recovery");
    assert_eq!(
        fx.status,
        Some(Status::Blocked("ready to rollback application".into()))
    );
    assert_eq!(fx.action_failure, None);
}

#[test]
fn d7_a_charm_stack_that_misses_or_repeats_units_fails_the_action_clearly() {
    let states = [(0, "idle"), (1, "idle"), (2, "idle")];
    for (stack, why) in [
        (vec![0, 1], "it leaves out unit(s) 2"),
        (vec![0, 1, 1, 2], "unit 1 appears more than once"),
        (vec![0, 1, 2, 7], "unit 7 is not a unit of the application"),
    ] {
        let mut w = world(0, true, &states, &[]);
        let mut hooks = Hooks {
            stack: Some(stack.clone()),
            ..Hooks::default()
        };
        let fx = handle(
            &config(Substrate::Vm),
            &unit(0),
            &UpgradeEvent::PreUpgradeCheck,
            &mut w,
            &mut hooks,
        )
        .unwrap();
        let failure = fx.action_failure.unwrap();
        assert!(failure.contains(why), "{stack:?}: {failure}");
        assert!(fx.app_data.is_empty(), "nothing written for {stack:?}");
    }
}

#[test]
fn d8_an_unknown_peer_state_is_named_in_a_warning() {
    let mut w = world(0, true, &[(0, "idle"), (1, "Idle")], &[]);
    let fx = handle(
        &config(Substrate::Vm),
        &unit(0),
        &UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(
        fx.action_failure.as_deref(),
        Some("Cannot run pre-upgrade checks, cluster already upgrading.")
    );
    assert!(
        fx.logs.iter().any(|l| l.level == LogLevel::Warning
            && l.message
                .contains("app/1 has an unknown upgrade state \"Idle\"")),
        "{:?}",
        fx.logs
    );
}

#[test]
fn d9_a_dependency_error_on_a_single_unit_refresh_marks_it_failed_instead_of_crashing() {
    let mut w = world(0, true, &[(0, "idle")], &[("upgrade-stack", "[0]")]);
    let mut hooks = Hooks {
        grant: Some(Err(DependencyError::new("db too old", "needs ^3"))),
        ..Hooks::default()
    };
    let fx = handle(
        &config(Substrate::Vm),
        &unit(0),
        &UpgradeEvent::UpgradeCharm,
        &mut w,
        &mut hooks,
    )
    .unwrap();
    assert_eq!(fx.unit_data["state"], "failed");
    assert_eq!(fx.status, Some(Status::Blocked(String::new())));
    assert_eq!(fx.count(&Call::LogRollbackInstructions), 1);
}

#[test]
fn d10_resume_upgrade_on_machines_without_a_pause_policy_says_it_does_not_pause() {
    let mut w = world(
        0,
        true,
        &[(0, "ready"), (1, "ready")],
        &[("upgrade-stack", "[0]")],
    );
    let fx = handle(
        &config(Substrate::Vm),
        &unit(0),
        &UpgradeEvent::ResumeUpgrade { check_health: true },
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert!(fx
        .action_failure
        .unwrap()
        .starts_with("pause-after-unit-refresh is \"none\""));
    assert!(fx.calls.is_empty());
}

#[test]
fn d11_a_completed_machine_leader_re_evaluates_the_stack_by_itself() {
    // Leader last: 1 and 2 done; the leader is granted, completes, and in the same dispatch
    // pops itself and finishes the upgrade (the reference needs the charm to call
    // on_upgrade_changed for this).
    let mut w = world(
        0,
        true,
        &[(0, "ready"), (1, "completed"), (2, "completed")],
        &[("upgrade-stack", "[0]")],
    );
    let mut hooks = Hooks {
        grant: Some(Ok(GrantOutcome::Completed)),
        ..Hooks::default()
    };
    let fx = handle(
        &config(Substrate::Vm),
        &unit(0),
        &UpgradeEvent::RelationChanged,
        &mut w,
        &mut hooks,
    )
    .unwrap();
    assert_eq!(fx.app_data["upgrade-stack"], "[]");
    assert_eq!(fx.unit_data["state"], "idle");
    assert_eq!(fx.status, Some(Status::Active(String::new())));
    assert_eq!(
        fx.app_data["dependencies"],
        upgrade_coordinator::DependencyModel::from_json(MODEL)
            .unwrap()
            .to_wire()
    );
}

#[test]
fn dispatches_that_need_no_peer_data_read_none() {
    // 100 units; a non-leader machine unit's upgrade-charm reads only the app bag (the stack)
    // and writes its own `state` without reading its bag.
    let states: Vec<(u32, &str)> = (0..100).map(|n| (n, "idle")).collect();
    let mut w = world(7, false, &states, &[("upgrade-stack", "[0, 1, 2]")]);
    let fx = handle(
        &config(Substrate::Vm),
        &unit(7),
        &UpgradeEvent::UpgradeCharm,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.unit_data["state"], "ready");
    assert_eq!(w.bag_reads(), 1, "the app bag only");

    // relation-created reads only its own bag (for the write) and the app bag on the leader.
    let mut w = world(7, false, &states, &[]);
    let fx = handle(
        &config(Substrate::Vm),
        &unit(7),
        &UpgradeEvent::RelationCreated,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.unit_data["state"], "idle");
    assert_eq!(w.bag_reads(), 1, "relation-created reads the app bag only");

    // A unit joining in the middle of an upgrade with the new charm counts as upgraded.
    let stored = r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.0"}}"#;
    let mut w = world(
        7,
        false,
        &[(7, "")],
        &[("upgrade-stack", "[0, 1]"), ("dependencies", stored)],
    );
    let fx = handle(
        &config(Substrate::Vm),
        &unit(7),
        &UpgradeEvent::RelationCreated,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.unit_data["state"], "completed");

    // A waiting unit whose top is not completed never asks for leadership.
    struct NoLeader(Snapshot);
    impl upgrade_coordinator::View for NoLeader {
        type Error = std::convert::Infallible;
        fn has_relation(&mut self) -> Result<bool, Self::Error> {
            self.0.has_relation()
        }
        fn is_leader(&mut self) -> Result<bool, Self::Error> {
            panic!("is-leader asked")
        }
        fn peers(&mut self) -> Result<Vec<UnitName>, Self::Error> {
            self.0.peers()
        }
        fn unit_data(&mut self, u: &UnitName) -> Result<StringMap, Self::Error> {
            self.0.unit_data(u)
        }
        fn app_data(&mut self) -> Result<StringMap, Self::Error> {
            self.0.app_data()
        }
        fn planned_units(&mut self) -> Result<usize, Self::Error> {
            self.0.planned_units()
        }
    }
    let mut w = NoLeader(world(
        1,
        false,
        &[(0, "ready"), (1, "ready"), (2, "upgrading")],
        &[("upgrade-stack", "[0, 1, 2]")],
    ));
    let fx = handle(
        &config(Substrate::Vm),
        &unit(1),
        &UpgradeEvent::RelationChanged,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(
        fx.status,
        Some(Status::Waiting("other units upgrading first...".into()))
    );

    // resume-upgrade reads the app bag only when the reference's count holds (the highest
    // unit left the stack); only otherwise does it look at the units' states. (The health
    // gate reads every unit's bag, to find the refreshed ones: off here.)
    let stack = format!(
        "[{}]",
        (0..99)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut w = world(0, true, &states, &[("upgrade-stack", &stack)]);
    handle(
        &config(Substrate::K8s),
        &unit(0),
        &UpgradeEvent::ResumeUpgrade {
            check_health: false,
        },
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(w.bag_reads(), 1);
}

#[test]
fn the_leader_says_where_the_upgrade_stands() {
    let mut cfg = config(Substrate::Vm);
    cfg.exact_logs = false;
    let stored = r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.0"}}"#;
    let status = |states: &[(u32, &str)], stack: &str, leader: bool| {
        let mut w = world(
            0,
            leader,
            states,
            &[("upgrade-stack", stack), ("dependencies", stored)],
        );
        let fx = handle(
            &cfg,
            &unit(0),
            &UpgradeEvent::RelationChanged,
            &mut w,
            &mut Hooks::default(),
        )
        .unwrap();
        fx.app_status
    };
    assert_eq!(
        status(
            &[(0, "ready"), (1, "ready"), (2, "completed")],
            "[0, 1, 2]",
            true
        ),
        Some(Status::Maintenance(
            "Upgrading: 1/3 units done, unit 1 next".into()
        ))
    );
    assert_eq!(
        status(
            &[(0, "ready"), (1, "failed"), (2, "completed")],
            "[0, 1]",
            true
        ),
        Some(Status::Blocked(
            "Upgrade failed on unit 1: run pre-upgrade-check on the leader, then juju refresh back"
                .into()
        ))
    );
    // After the recovery pre-check the next step is the refresh back, though the failed
    // unit still says failed (it said "run pre-upgrade-check" again before: D19).
    assert_eq!(
        status(
            &[(0, "recovery"), (1, "failed"), (2, "completed")],
            "[0, 2, 1]",
            true
        ),
        Some(Status::Blocked(
            "Ready to roll back: juju refresh app to the previous revision".into()
        ))
    );
    // The refresh back under way: a unit rolled back in this round (it recorded the round).
    let mut w = world(
        0,
        true,
        &[(0, "recovery"), (1, "completed"), (2, "ready")],
        &[
            ("upgrade-stack", "[0, 2]"),
            ("dependencies", stored),
            ("upgrade-round", "2"),
        ],
    );
    w.units
        .get_mut(&unit(1))
        .unwrap()
        .insert("upgrade-round".into(), "2".into());
    let fx = handle(
        &cfg,
        &unit(0),
        &UpgradeEvent::RelationChanged,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(
        fx.app_status,
        Some(Status::Maintenance(
            "Rolling back: 1/3 units done, unit 2 next".into()
        ))
    );
    assert_eq!(
        status(&[(0, "ready"), (1, "ready")], "[0, 1]", false),
        None,
        "only the leader"
    );
    // Refreshed (this charm ships 2.0, 1.0 is stored) without a pre-check: the leader's
    // upgrade-charm finds no stack and says what to do.
    let mut w = world(
        0,
        true,
        &[(0, "idle"), (1, "idle")],
        &[("dependencies", stored)],
    );
    let fx = handle(
        &cfg,
        &unit(0),
        &UpgradeEvent::UpgradeCharm,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(
        fx.app_status,
        Some(Status::Blocked(
            "Refreshed without pre-upgrade-check: run juju run app/leader pre-upgrade-check".into()
        ))
    );
    // A pod restart (same versions stored) is not a refresh.
    let same = DependencyModel::from_json(MODEL).unwrap().to_wire();
    let mut w = world(
        0,
        true,
        &[(0, "idle"), (1, "idle")],
        &[("dependencies", &same)],
    );
    let fx = handle(
        &config(Substrate::K8s),
        &unit(0),
        &UpgradeEvent::UpgradeCharm,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.app_status, None);
}

/// What the Kubernetes leader (unit 0) does on `event`, given the units' states and the
/// application bag.
fn k8s_leader_on(
    event: UpgradeEvent,
    states: &[(u32, &str)],
    app: &[(&str, &str)],
) -> upgrade_coordinator::Effects {
    let mut w = world(0, true, states, app);
    handle(
        &config(Substrate::K8s),
        &unit(0),
        &event,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap()
}

/// Did the dispatch patch the rolling-update partition at all?
fn patched_partition(fx: &upgrade_coordinator::Effects) -> bool {
    fx.calls.iter().any(|c| matches!(c, Call::SetPartition(_)))
}

/// D18 (Kubernetes scaling): a unit departing before any remaining unit started moves the
/// partition to the new top of the stack (the old top may be gone, leaving the partition
/// above every pod); once a unit started, departures leave the partition alone.
#[test]
fn d18_kubernetes_departure_before_the_first_upgrade_moves_the_partition() {
    let depart = |states: &[(u32, &str)], stack: &str| {
        k8s_leader_on(
            UpgradeEvent::RelationDeparted,
            states,
            &[("upgrade-stack", stack)],
        )
    };
    // Unit 3 (the top) left after the pre-check: the stack drops it, the rollout starts at 2.
    let fx = depart(&[(0, "idle"), (1, "idle"), (2, "idle")], "[0, 1, 2, 3]");
    assert_eq!(fx.app_data["upgrade-stack"], "[0, 1, 2]");
    assert!(fx.calls.contains(&Call::SetPartition(2)), "{:?}", fx.calls);
    // Unit 2 already upgraded: the rollout is under way, nothing to move.
    let fx = depart(
        &[(0, "idle"), (1, "idle"), (2, "completed")],
        "[0, 1, 2, 3]",
    );
    assert!(!patched_partition(&fx), "{:?}", fx.calls);
}

/// D18: a pod added while every unit is idle (after the pre-check, before the refresh)
/// runs the old charm and has the highest ordinal: the leader points the partition at it so
/// the refresh recreates it alone; it stays out of the stack. During a rollback (not all
/// idle) the partition is left alone.
#[test]
fn d18_kubernetes_joiner_before_the_refresh_goes_first_alone() {
    let joined = |states: &[(u32, &str)]| {
        k8s_leader_on(
            UpgradeEvent::RelationChanged,
            states,
            &[("upgrade-stack", "[0, 1, 2]")],
        )
    };
    let fx = joined(&[(0, "idle"), (1, "idle"), (2, "idle"), (3, "idle")]);
    assert!(fx.calls.contains(&Call::SetPartition(3)), "{:?}", fx.calls);
    assert!(
        !fx.app_data.contains_key("upgrade-stack"),
        "{:?}",
        fx.app_data
    );
    let fx = joined(&[(0, "recovery"), (1, "idle"), (2, "failed"), (3, "idle")]);
    assert!(!patched_partition(&fx), "{:?}", fx.calls);
    // Once the operator resumed in this round (e.g. the joiner already ran the refreshed
    // charm, so pointing the partition at it recreated nothing), the leader leaves the
    // partition where resume-upgrade put it.
    let all_idle = [(0, "idle"), (1, "idle"), (2, "idle"), (3, "idle")];
    let fx = k8s_leader_on(
        UpgradeEvent::ResumeUpgrade { check_health: true },
        &all_idle,
        &[("upgrade-stack", "[0, 1, 2]"), ("upgrade-round", "4")],
    );
    assert!(fx.calls.contains(&Call::SetPartition(2)), "{fx:?}");
    assert_eq!(fx.app_data["upgrade-resumed"], "4");
    let fx = k8s_leader_on(
        UpgradeEvent::RelationChanged,
        &all_idle,
        &[
            ("upgrade-stack", "[0, 1, 2]"),
            ("upgrade-round", "4"),
            ("upgrade-resumed", "4"),
        ],
    );
    assert!(!patched_partition(&fx), "{:?}", fx.calls);
}

/// D18: resume-upgrade accepts a pause that the reference's count misses (units added or
/// removed since the pre-check): some unit finished this round, nobody is upgrading, and
/// the top of the stack has not started. A second resume once the top started is refused.
#[test]
fn d18_resume_upgrade_recognises_the_pause_after_scaling() {
    let resume = |states: &[(u32, &str)], stack: &str| {
        k8s_leader_on(
            // (The health gate is tested in tests/operator.rs.)
            UpgradeEvent::ResumeUpgrade {
                check_health: false,
            },
            states,
            &[("upgrade-stack", stack)],
        )
    };
    // 5 units; 4 (added before the refresh, never in the stack) and 3 upgraded; 3 popped.
    let fx = resume(
        &[
            (0, "idle"),
            (1, "idle"),
            (2, "idle"),
            (3, "completed"),
            (4, "completed"),
        ],
        "[0, 1, 2]",
    );
    assert!(fx.calls.contains(&Call::SetPartition(2)), "{:?}", fx);
    // The reference's count alone would refuse it (3 in the stack, 4 peers).
    let fx = resume(
        &[
            (0, "idle"),
            (1, "idle"),
            (2, "upgrading"),
            (3, "completed"),
            (4, "completed"),
        ],
        "[0, 1, 2]",
    );
    assert_eq!(
        fx.action_failure.as_deref(),
        Some("Upgrade can be resumed only once after juju refresh is called.")
    );
    // Nobody upgraded yet (the whole stack is there): refused as in the reference.
    let fx = resume(&[(0, "idle"), (1, "idle"), (2, "idle")], "[0, 1, 2]");
    assert_eq!(
        fx.action_failure.as_deref(),
        Some("Upgrade can be resumed only once after juju refresh is called.")
    );
}

/// D16 on Kubernetes: refreshed without a pre-check, every pod already runs the new charm.
/// After the pre-check each idle unit runs its upgrade-charm logic when it is the top of
/// the stack and nobody else is upgrading; the others wait.
#[test]
fn d16_kubernetes_late_upgrade_charm_goes_from_the_top() {
    let stored = r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.0"}}"#;
    let changed = |me: u32, states: &[(u32, &str)]| {
        let mut w = world(
            me,
            false,
            states,
            &[("upgrade-stack", "[0, 1, 2]"), ("dependencies", stored)],
        );
        w.planned_units = Some(3);
        handle(
            &config(Substrate::K8s),
            &unit(me),
            &UpgradeEvent::RelationChanged,
            &mut w,
            &mut Hooks::default(),
        )
        .unwrap()
    };
    let all_idle = [(0, "idle"), (1, "idle"), (2, "idle")];
    let fx = changed(2, &all_idle);
    assert_eq!(fx.unit_data["state"], "upgrading");
    assert_eq!(
        fx.status,
        Some(Status::Maintenance("upgrading unit".into()))
    );
    let fx = changed(1, &all_idle);
    assert!(!fx.unit_data.contains_key("state"), "{fx:?}");
    // 2 popped, 1 on top, but 0 is (wrongly) upgrading: 1 waits its turn.
    let mut w = world(
        1,
        false,
        &[(0, "upgrading"), (1, "idle"), (2, "completed")],
        &[("upgrade-stack", "[0, 1]"), ("dependencies", stored)],
    );
    w.planned_units = Some(3);
    let fx = handle(
        &config(Substrate::K8s),
        &unit(1),
        &UpgradeEvent::RelationChanged,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert!(!fx.unit_data.contains_key("state"), "{fx:?}");
}

/// `event` on unit `me` of world `w`, with default hooks.
fn on(
    cfg: &UpgradeConfig,
    me: u32,
    event: UpgradeEvent,
    w: &mut Snapshot,
) -> upgrade_coordinator::Effects {
    handle(cfg, &unit(me), &event, w, &mut Hooks::default()).unwrap()
}

/// Issue 18, case 2: an incompatible refresh says why, on the application, within 120
/// characters; another failure does not inherit the reason.
#[test]
fn an_incompatible_refresh_says_why_on_the_application() {
    let mut cfg = config(Substrate::Vm);
    cfg.exact_logs = false; // as the charm runs without debug logs
                            // This charm's `app` entry needs >=1 to upgrade from; 0.5 is stored.
    let stored = r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=0", "version": "0.5"}}"#;
    let mut w = world(
        0,
        true,
        &[(0, "idle"), (1, "ready")],
        &[("upgrade-stack", "[0, 1]"), ("dependencies", stored)],
    );
    let fx = on(&cfg, 0, UpgradeEvent::UpgradeCharm, &mut w);
    assert_eq!(
        fx.unit_data.get("state").map(String::as_str),
        Some("failed")
    );
    let why = fx
        .unit_data
        .get("upgrade-failure")
        .cloned()
        .unwrap_or_default();
    assert_eq!(why, "Versions incompatible: app 0.5 does not satisfy >=1");
    // The leader's next look at every unit says it on the application.
    let mut w = world(
        0,
        true,
        &[(0, "failed"), (1, "ready")],
        &[("upgrade-stack", "[0, 1]"), ("dependencies", stored)],
    );
    w.units
        .get_mut(&unit(0))
        .unwrap()
        .insert("upgrade-failure".into(), why.clone());
    let fx = on(&cfg, 0, UpgradeEvent::RelationChanged, &mut w);
    assert_eq!(
        fx.app_status,
        Some(Status::Blocked(
            "Versions incompatible: app 0.5 does not satisfy >=1; juju refresh back".into()
        ))
    );
    // A workload failure clears a reason left from before.
    let mut w = world(1, false, &[(0, "ready"), (1, "upgrading")], &[]);
    w.units
        .get_mut(&unit(1))
        .unwrap()
        .insert("upgrade-failure".into(), why);
    let fx = on(&cfg, 1, UpgradeEvent::UnitFailed { cause: None }, &mut w);
    assert_eq!(
        fx.unit_data.get("upgrade-failure").map(String::as_str),
        Some("")
    );
}

#[test]
fn a_long_incompatibility_stays_within_the_status_length() {
    let model = r#"{"a-component-with-a-very-long-name-indeed": {"dependencies": {}, "name": "x", "upgrade_supported": ">=10.0.0.0.0.0.0.0.0.0.0,<20", "version": "10.0.0"}, "b": {"dependencies": {}, "name": "b", "upgrade_supported": ">=3", "version": "3"}}"#;
    let cfg = UpgradeConfig::new(Substrate::Vm, DependencyModel::from_json(model).unwrap());
    let stored = r#"{"a-component-with-a-very-long-name-indeed": {"version": "1.2.3.4.5.6.7.8.9.10.11.12"}, "b": {"version": "1"}}"#;
    let mut w = world(
        0,
        true,
        &[(0, "idle")],
        &[("upgrade-stack", "[0]"), ("dependencies", stored)],
    );
    let fx = on(&cfg, 0, UpgradeEvent::UpgradeCharm, &mut w);
    let Some(Status::Blocked(m)) = &fx.app_status else {
        panic!("{:?}", fx.app_status)
    };
    assert!(m.chars().count() <= 120, "{} chars: {m}", m.chars().count());
    assert!(
        m.starts_with("Versions incompatible: a-component") && m.ends_with("; juju refresh back"),
        "{m}"
    );
    // The reason in the unit's bag has it all, each part cut short.
    let why = &fx.unit_data["upgrade-failure"];
    assert!(
        why.ends_with("(+1 more)") && why.contains("1.2.3.4"),
        "{why}"
    );
}
