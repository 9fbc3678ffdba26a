//! The operator's side of a refresh (issue 14): the pause policy and `resume-upgrade` on both
//! substrates, the health gate, `force-upgrade`, the refresh back where the operator looks,
//! and the trust preflight on Kubernetes. State in, event, effects out.

use juju_hooks::{LogLevel, Status, StringMap, UnitName};
use upgrade_coordinator::{
    handle, Call, ClusterNotReady, DependencyError, DependencyModel, Effects, GrantOutcome,
    KubernetesClientError, Snapshot, StackError, Substrate, UpgradeConfig, UpgradeContext,
    UpgradeEvent, UpgradeHooks, FAILURE_KEY, HEALTH_KEY, MAX_STATUS, PAUSED_MESSAGE, PAUSE_CONFIG,
    RELEASED_KEY, ROLLBACK_CHARM_KEY, ROUND_KEY, STACK_KEY, STATE_KEY,
};

const OLD: &str =
    r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "1.0"}}"#;
const NEW: &str =
    r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "2.0"}}"#;
const NEEDS_2: &str =
    r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=2", "version": "3.0"}}"#;

/// As the charm runs by default (DEBUG lines not sent: `exact_logs` off).
fn config(substrate: Substrate, model: &str) -> UpgradeConfig {
    let mut c = UpgradeConfig::new(substrate, DependencyModel::from_json(model).unwrap());
    c.exact_logs = false;
    c
}

fn unit(n: u32) -> UnitName {
    UnitName::new("app", n).unwrap()
}

/// Units with (state, extra keys), every one marked with round 1; app data given.
fn world(me: u32, leader: bool, units: &[(u32, &str)], app: &[(&str, &str)]) -> Snapshot {
    let mut s = Snapshot::new(unit(me));
    s.leader = leader;
    for (n, st) in units {
        let bag = StringMap::from([
            (STATE_KEY.to_owned(), st.to_string()),
            (ROUND_KEY.to_owned(), "1".to_owned()),
            (HEALTH_KEY.to_owned(), "healthy".to_owned()),
        ]);
        s.units.insert(unit(*n), bag);
    }
    s.app = app
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s.app
        .entry(ROUND_KEY.to_owned())
        .or_insert_with(|| "1".to_owned());
    s.app
        .entry("dependencies".to_owned())
        .or_insert_with(|| DependencyModel::from_json(OLD).unwrap().to_wire());
    s
}

fn with_policy(mut w: Snapshot, policy: &str) -> Snapshot {
    w.config.insert(PAUSE_CONFIG.to_owned(), policy.to_owned());
    w
}

#[derive(Default)]
struct Hooks {
    pre_check_fails: bool,
    trusted: Option<bool>,
    partitions: Vec<u32>,
}

impl UpgradeHooks for Hooks {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        if self.pre_check_fails {
            return Err(ClusterNotReady::new("not ready", "unit 2 is degraded"));
        }
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
        Ok(GrantOutcome::InProgress)
    }
    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}
    fn may_patch_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<bool, KubernetesClientError> {
        Ok(self.trusted.unwrap_or(true))
    }
    fn set_rolling_update_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
        partition: u32,
    ) -> Result<(), KubernetesClientError> {
        self.partitions.push(partition);
        Ok(())
    }
}

fn run(
    substrate: Substrate,
    model: &str,
    me: u32,
    event: UpgradeEvent,
    w: &mut Snapshot,
    hooks: &mut Hooks,
) -> Effects {
    handle(&config(substrate, model), &unit(me), &event, w, hooks).unwrap()
}

/// A machine unit's `relation-changed` on the new charm.
fn vm_changed(me: u32, w: &mut Snapshot) -> Effects {
    run(
        Substrate::Vm,
        NEW,
        me,
        UpgradeEvent::RelationChanged,
        w,
        &mut Hooks::default(),
    )
}

const RESUME: UpgradeEvent = UpgradeEvent::ResumeUpgrade { check_health: true };

/// Machines, 3 units, stack [0, 1] after unit 2 finished in round 1: unit 1 is next.
fn vm_after_first(me: u32, leader: bool, app: &[(&str, &str)]) -> Snapshot {
    let mut app = app.to_vec();
    app.push((STACK_KEY, "[0, 1]"));
    world(
        me,
        leader,
        &[(0, "ready"), (1, "ready"), (2, "completed")],
        &app,
    )
}

fn granted(fx: &Effects) -> bool {
    fx.count(&Call::UpgradeGranted) == 1
}

#[test]
fn machines_pause_after_the_first_unit_only_with_first() {
    // Held: unit 2 finished, nobody resumed in this round.
    let mut w = with_policy(vm_after_first(1, false, &[]), "first");
    let fx = vm_changed(1, &mut w);
    assert!(!granted(&fx));
    assert_eq!(fx.status, Some(Status::Waiting(PAUSED_MESSAGE.into())));
    assert!(
        fx.unit_data.is_empty(),
        "a held unit writes nothing: {:?}",
        fx.unit_data
    );
    // A resume in this round, for whichever unit, lets every later unit go.
    for released in ["1:1", "1:0"] {
        let mut w = with_policy(
            vm_after_first(1, false, &[(RELEASED_KEY, released)]),
            "first",
        );
        let fx = vm_changed(1, &mut w);
        assert!(granted(&fx), "released {released}");
    }
    // A resume from an earlier round does not.
    let mut w = with_policy(vm_after_first(1, false, &[(RELEASED_KEY, "0:1")]), "first");
    let fx = vm_changed(1, &mut w);
    assert!(!granted(&fx));
}

#[test]
fn machines_pause_after_every_unit_with_all() {
    let mut w = with_policy(vm_after_first(1, false, &[(RELEASED_KEY, "1:2")]), "all");
    let fx = vm_changed(1, &mut w);
    assert!(!granted(&fx), "released for another unit: still held");
    let mut w = with_policy(vm_after_first(1, false, &[(RELEASED_KEY, "1:1")]), "all");
    let fx = vm_changed(1, &mut w);
    assert!(granted(&fx));
}

#[test]
fn machines_do_not_pause_by_default_or_with_none() {
    for w in [
        vm_after_first(1, false, &[]),
        with_policy(vm_after_first(1, false, &[]), "none"),
    ] {
        let mut w = w;
        let fx = vm_changed(1, &mut w);
        assert!(granted(&fx));
    }
}

#[test]
fn the_first_unit_never_waits() {
    // Nobody finished yet: the policy has nothing to pause after.
    let mut w = with_policy(
        world(
            2,
            false,
            &[(0, "ready"), (1, "ready"), (2, "ready")],
            &[(STACK_KEY, "[0, 1, 2]")],
        ),
        "all",
    );
    let fx = vm_changed(2, &mut w);
    assert!(granted(&fx));
}

#[test]
fn an_invalid_policy_pauses_after_every_unit_and_blocks_the_application() {
    let mut w = with_policy(
        vm_after_first(1, false, &[(RELEASED_KEY, "1:2")]),
        "sometimes",
    );
    let fx = vm_changed(1, &mut w);
    assert!(!granted(&fx), "treated as all");
    let mut w = with_policy(vm_after_first(0, true, &[]), "sometimes");
    let fx = vm_changed(0, &mut w);
    let Some(Status::Blocked(m)) = fx.app_status else {
        panic!("{:?}", fx.app_status)
    };
    for word in [PAUSE_CONFIG, "all, first or none", "sometimes"] {
        assert!(m.contains(word), "{m}");
    }
    assert!(m.chars().count() <= MAX_STATUS);
}

#[test]
fn the_leader_shows_the_pause_and_the_command_that_resumes() {
    let mut w = with_policy(vm_after_first(0, true, &[]), "first");
    let fx = vm_changed(0, &mut w);
    let Some(Status::Active(m)) = fx.app_status else {
        panic!("{:?}", fx.app_status)
    };
    assert!(m.contains("juju run app/leader resume-upgrade"), "{m}");
}

#[test]
fn resume_upgrade_on_machines_releases_the_next_unit() {
    let mut w = with_policy(vm_after_first(0, true, &[]), "first");
    let fx = run(Substrate::Vm, NEW, 0, RESUME, &mut w, &mut Hooks::default());
    assert_eq!(fx.action_failure, None);
    assert_eq!(
        fx.app_data.get(RELEASED_KEY).map(String::as_str),
        Some("1:1")
    );
    assert_eq!(
        fx.action_results.get("message").map(String::as_str),
        Some("Upgrade will resume on unit 1")
    );
    // The released unit, seeing it, goes.
    let mut w = with_policy(vm_after_first(1, false, &[(RELEASED_KEY, "1:1")]), "first");
    let fx = vm_changed(1, &mut w);
    assert!(granted(&fx));
}

#[test]
fn resume_upgrade_on_machines_grants_the_leader_itself_when_it_is_next() {
    let mut w = with_policy(
        world(
            0,
            true,
            &[(0, "ready"), (1, "completed"), (2, "completed")],
            &[(STACK_KEY, "[0]")],
        ),
        "all",
    );
    w.app.insert(RELEASED_KEY.into(), "1:1".into());
    let fx = run(Substrate::Vm, NEW, 0, RESUME, &mut w, &mut Hooks::default());
    assert_eq!(fx.action_failure, None);
    assert!(granted(&fx));
    assert_eq!(
        fx.unit_data.get(STATE_KEY).map(String::as_str),
        Some("upgrading")
    );
}

#[test]
fn resume_upgrade_fails_clearly_when_nothing_is_paused() {
    let mut w = vm_after_first(0, true, &[]);
    let fx = run(Substrate::Vm, NEW, 0, RESUME, &mut w, &mut Hooks::default());
    assert!(
        fx.action_failure.unwrap().contains("\"none\""),
        "the default on machines"
    );
    let mut w = with_policy(vm_after_first(0, true, &[(RELEASED_KEY, "1:1")]), "first");
    let fx = run(Substrate::Vm, NEW, 0, RESUME, &mut w, &mut Hooks::default());
    assert!(fx.action_failure.unwrap().starts_with("Nothing to resume"));
    let mut w = with_policy(vm_after_first(1, false, &[]), "first");
    let fx = run(Substrate::Vm, NEW, 1, RESUME, &mut w, &mut Hooks::default());
    assert!(fx.action_failure.unwrap().contains("leader"));
}

#[test]
fn resume_upgrade_refuses_while_a_refreshed_unit_is_unhealthy_unless_told_not_to_check() {
    for substrate in [Substrate::Vm, Substrate::K8s] {
        let mut w = with_policy(vm_after_first(0, true, &[]), "all");
        w.units
            .get_mut(&unit(2))
            .unwrap()
            .insert(HEALTH_KEY.into(), "unhealthy: not answering on 8080".into());
        let mut hooks = Hooks::default();
        let fx = run(substrate, NEW, 0, RESUME, &mut w.clone(), &mut hooks);
        let failure = fx.action_failure.unwrap();
        assert!(
            failure.starts_with("Unit 2 is unhealthy (workload not answering on 8080)"),
            "{failure}"
        );
        assert!(
            failure.contains("check-health-of-refreshed-units=false"),
            "{failure}"
        );
        assert!(fx.app_data.is_empty() && hooks.partitions.is_empty());

        let fx = run(
            substrate,
            NEW,
            0,
            UpgradeEvent::ResumeUpgrade {
                check_health: false,
            },
            &mut w,
            &mut hooks,
        );
        assert_eq!(fx.action_failure, None, "{substrate:?}");
        assert!(fx.action_results["message"].contains("not checked"));
        assert!(fx.logs.iter().any(|l| l.level == LogLevel::Warning));
        if substrate == Substrate::K8s {
            assert_eq!(hooks.partitions, [1]);
        }
    }
}

#[test]
fn a_unit_that_never_reported_its_health_holds_the_resume() {
    let mut w = with_policy(vm_after_first(0, true, &[]), "first");
    w.units.get_mut(&unit(2)).unwrap().remove(HEALTH_KEY);
    let fx = run(Substrate::Vm, NEW, 0, RESUME, &mut w, &mut Hooks::default());
    assert!(fx
        .action_failure
        .unwrap()
        .contains("has not reported its health"));
}

/// Kubernetes, 3 pods, unit `me` just completed (stack already popped by the leader).
fn k8s_finished(me: u32, stack: &str, states: &[(u32, &str)], policy: Option<&str>) -> Snapshot {
    let w = world(me, false, states, &[(STACK_KEY, stack)]);
    match policy {
        Some(p) => with_policy(w, p),
        None => w,
    }
}

#[test]
fn kubernetes_pods_follow_the_policy_when_they_finish() {
    let cases = [
        // (unit, policy, partition set)
        (2, None, None), // default first: the highest pauses
        (2, Some("first"), None),
        (2, Some("none"), Some(1)), // none: straight on
        (2, Some("all"), None),
        (1, Some("first"), Some(0)), // after the resume, first no longer pauses
        (1, Some("all"), None),      // all does
        (1, Some("none"), Some(0)),
    ];
    for (me, policy, want) in cases {
        let states = [(0, "idle"), (1, "upgrading"), (2, "upgrading")];
        let mut w = k8s_finished(me, "[0, 1, 2]", &states, policy);
        let mut hooks = Hooks::default();
        run(
            Substrate::K8s,
            NEW,
            me,
            UpgradeEvent::UnitCompleted,
            &mut w,
            &mut hooks,
        );
        assert_eq!(
            hooks.partitions.first().copied(),
            want,
            "unit {me} policy {policy:?}"
        );
    }
}

#[test]
fn kubernetes_resume_works_at_every_pause_with_all() {
    // Units 2 and 1 done, 0 waiting: a second resume.
    let mut w = with_policy(
        world(
            0,
            true,
            &[(0, "idle"), (1, "completed"), (2, "completed")],
            &[(STACK_KEY, "[0]")],
        ),
        "all",
    );
    w.app.insert(RELEASED_KEY.into(), "1:1".into());
    let mut hooks = Hooks::default();
    let fx = run(Substrate::K8s, NEW, 0, RESUME, &mut w, &mut hooks);
    assert_eq!(fx.action_failure, None);
    assert_eq!(hooks.partitions, [0]);
    assert_eq!(
        fx.app_data.get(RELEASED_KEY).map(String::as_str),
        Some("1:0")
    );
}

#[test]
fn force_past_a_refused_refresh_runs_on_the_unit_that_refused() {
    // Machines: the leader checks the versions and refused; the others are ready.
    let refused = || {
        let mut w = world(
            0,
            true,
            &[(0, "failed"), (1, "ready"), (2, "ready")],
            &[(STACK_KEY, "[0, 1, 2]")],
        );
        w.units.get_mut(&unit(0)).unwrap().insert(
            FAILURE_KEY.into(),
            "Versions incompatible: app 1.0 does not satisfy >=2".into(),
        );
        w
    };
    let force = |c, p| UpgradeEvent::ForceUpgrade {
        check_compatibility: c,
        run_pre_upgrade_checks: p,
    };
    // Nothing to force.
    let fx = run(
        Substrate::Vm,
        NEEDS_2,
        0,
        force(true, true),
        &mut refused(),
        &mut Hooks::default(),
    );
    assert!(fx.action_failure.unwrap().starts_with("Nothing to force"));
    // The wrong parameter names the right one.
    let fx = run(
        Substrate::Vm,
        NEEDS_2,
        0,
        force(true, false),
        &mut refused(),
        &mut Hooks::default(),
    );
    assert!(fx
        .action_failure
        .unwrap()
        .contains("juju run app/0 force-upgrade check-compatibility=false"));
    // Elsewhere: names the unit.
    let mut w = refused();
    w.me = Some(unit(1));
    w.leader = false;
    let fx = handle(
        &config(Substrate::Vm, NEEDS_2),
        &unit(1),
        &force(false, true),
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert!(fx.action_failure.unwrap().starts_with("Must run on unit 0"));
    // On it: ready again, reason cleared, a WARNING says what was skipped.
    let fx = run(
        Substrate::Vm,
        NEEDS_2,
        0,
        force(false, true),
        &mut refused(),
        &mut Hooks::default(),
    );
    assert_eq!(fx.action_failure, None);
    assert_eq!(
        fx.unit_data.get(STATE_KEY).map(String::as_str),
        Some("ready")
    );
    assert_eq!(fx.unit_data.get(FAILURE_KEY).map(String::as_str), Some(""));
    assert!(fx
        .logs
        .iter()
        .any(|l| l.level == LogLevel::Warning && l.message.contains("check-compatibility=false")));
    // Without force the same unit refuses again.
    let fx = run(
        Substrate::Vm,
        NEEDS_2,
        0,
        UpgradeEvent::UpgradeCharm,
        &mut refused(),
        &mut Hooks::default(),
    );
    assert_eq!(
        fx.unit_data.get(STATE_KEY).map(String::as_str),
        Some("failed")
    );
}

#[test]
fn force_past_a_refused_refresh_on_kubernetes_starts_the_pod_upgrade() {
    let mut w = world(
        2,
        false,
        &[(0, "idle"), (1, "idle"), (2, "failed")],
        &[(STACK_KEY, "[0, 1, 2]")],
    );
    w.units.get_mut(&unit(2)).unwrap().insert(
        FAILURE_KEY.into(),
        "Versions incompatible: app 1.0 does not satisfy >=2".into(),
    );
    let fx = run(
        Substrate::K8s,
        NEEDS_2,
        2,
        UpgradeEvent::ForceUpgrade {
            check_compatibility: false,
            run_pre_upgrade_checks: true,
        },
        &mut w,
        &mut Hooks::default(),
    );
    assert_eq!(fx.action_failure, None);
    assert_eq!(
        fx.unit_data.get(STATE_KEY).map(String::as_str),
        Some("upgrading")
    );
}

#[test]
fn force_past_a_failing_pre_check_starts_the_upgrade_without_it() {
    let idle = || world(0, true, &[(0, "idle"), (1, "idle"), (2, "idle")], &[]);
    let mut hooks = Hooks {
        pre_check_fails: true,
        ..Hooks::default()
    };
    let fx = run(
        Substrate::Vm,
        OLD,
        0,
        UpgradeEvent::PreUpgradeCheck,
        &mut idle(),
        &mut hooks,
    );
    assert!(fx.action_failure.is_some());
    let force = UpgradeEvent::ForceUpgrade {
        check_compatibility: true,
        run_pre_upgrade_checks: false,
    };
    let fx = run(
        Substrate::Vm,
        OLD,
        0,
        force.clone(),
        &mut idle(),
        &mut hooks,
    );
    assert_eq!(fx.action_failure, None);
    assert_eq!(fx.count(&Call::PreUpgradeCheck), 0);
    assert_eq!(
        fx.app_data.get(STACK_KEY).map(String::as_str),
        Some("[0, 1, 2]")
    );
    assert!(fx.logs.iter().any(
        |l| l.level == LogLevel::Warning && l.message.contains("run-pre-upgrade-checks=false")
    ));
    // Kubernetes: the checks are skipped, not the partition that holds the other pods.
    let mut hooks = Hooks {
        pre_check_fails: true,
        ..Hooks::default()
    };
    let fx = run(
        Substrate::K8s,
        OLD,
        0,
        force.clone(),
        &mut idle(),
        &mut hooks,
    );
    assert_eq!(fx.action_failure, None);
    assert_eq!(hooks.partitions, [2]);
    // Only on the leader, only before the upgrade started.
    let mut w = idle();
    w.leader = false;
    let fx = run(
        Substrate::Vm,
        OLD,
        0,
        force.clone(),
        &mut w,
        &mut Hooks::default(),
    );
    assert!(fx
        .action_failure
        .unwrap()
        .contains("juju run app/leader force-upgrade"));
    let mut w = world(
        0,
        true,
        &[(0, "ready"), (1, "ready")],
        &[(STACK_KEY, "[0, 1]")],
    );
    let fx = run(Substrate::Vm, OLD, 0, force, &mut w, &mut Hooks::default());
    assert!(fx.action_failure.unwrap().contains("already started"));
}

#[test]
fn the_pre_check_records_and_tells_the_way_back_and_the_pause_policy() {
    let mut cfg = config(Substrate::Vm, OLD);
    cfg.charm_url = Some("ch:amd64/noble/app-12".into());
    let mut w = with_policy(world(0, true, &[(0, "idle"), (1, "idle")], &[]), "all");
    let fx = handle(
        &cfg,
        &unit(0),
        &UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    assert_eq!(fx.action_failure, None);
    assert_eq!(
        fx.app_data.get(ROLLBACK_CHARM_KEY).map(String::as_str),
        Some("ch:amd64/noble/app-12")
    );
    assert_eq!(
        fx.action_results["rollback-command"],
        "juju refresh app --revision 12"
    );
    assert_eq!(fx.action_results[PAUSE_CONFIG], "all");
    let message = &fx.action_results["message"];
    assert!(
        message.contains("juju refresh app --revision 12"),
        "{message}"
    );
    assert!(message.contains("after every unit"), "{message}");
}

#[test]
fn statuses_during_and_after_a_refresh_show_the_refresh_back_within_120_characters() {
    let app = [
        (ROLLBACK_CHARM_KEY, "ch:amd64/noble/app-12"),
        (STACK_KEY, "[0, 1]"),
    ];
    let cases: [(&[(u32, &str)], &str); 3] = [
        (&[(0, "ready"), (1, "ready"), (2, "completed")], "Upgrading"),
        (
            &[(0, "ready"), (1, "ready"), (2, "failed")],
            "Upgrade failed on unit 2",
        ),
        (
            &[(0, "recovery"), (1, "ready"), (2, "failed")],
            "Ready to roll back",
        ),
    ];
    for (states, head) in cases {
        let mut w = world(0, true, states, &app);
        let fx = vm_changed(0, &mut w);
        let status = fx.app_status.expect("a status");
        let m = status.message();
        assert!(m.starts_with(head), "{m}");
        assert!(m.contains("juju refresh app --revision 12"), "{m}");
        assert!(m.chars().count() <= MAX_STATUS, "{m}");
    }
    // A long application name: the next step is kept whole, the status still within 120.
    let name = "a-very-long-application-name-for-a-database-x";
    let me = UnitName::new(name, 0).unwrap();
    let mut w = Snapshot::new(me.clone());
    w.leader = true;
    for (n, st) in [(0, "ready"), (1, "ready"), (2, "failed")] {
        w.units.insert(
            UnitName::new(name, n).unwrap(),
            StringMap::from([(STATE_KEY.to_owned(), st.to_owned())]),
        );
    }
    w.app.insert(STACK_KEY.into(), "[0, 1]".into());
    w.app.insert(
        ROLLBACK_CHARM_KEY.into(),
        format!("ch:amd64/noble/{name}-123456"),
    );
    let fx = handle(
        &config(Substrate::Vm, NEW),
        &me,
        &UpgradeEvent::RelationChanged,
        &mut w,
        &mut Hooks::default(),
    )
    .unwrap();
    let m = fx.app_status.expect("a status").message().to_owned();
    assert!(m.chars().count() <= MAX_STATUS, "{} {m}", m.len());
    assert!(m.contains("pre-upgrade-check"), "{m}");
}

#[test]
fn an_untrusted_kubernetes_app_is_told_before_anything_is_written() {
    let trust = "Run juju trust app --scope=cluster. Needed for in-place upgrades";
    let mut hooks = Hooks {
        trusted: Some(false),
        ..Hooks::default()
    };
    let mut w = world(0, true, &[(0, "idle"), (1, "idle")], &[]);
    let fx = run(
        Substrate::K8s,
        OLD,
        0,
        UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut hooks,
    );
    assert_eq!(fx.action_failure.as_deref(), Some(trust));
    assert_eq!(fx.app_status, Some(Status::Blocked(trust.into())));
    assert!(fx.app_data.is_empty() && fx.unit_data.is_empty() && hooks.partitions.is_empty());
    assert_eq!(fx.count(&Call::PreUpgradeCheck), 0);

    // The leader's upgrade-charm waits (deferred) and writes nothing.
    let mut w = world(
        0,
        true,
        &[(0, "ready"), (1, "completed")],
        &[(STACK_KEY, "[0]")],
    );
    let fx = run(
        Substrate::K8s,
        NEW,
        0,
        UpgradeEvent::UpgradeCharm,
        &mut w,
        &mut hooks,
    );
    assert!(fx.deferred);
    assert_eq!(fx.app_status, Some(Status::Blocked(trust.into())));
    assert!(fx.app_data.is_empty() && fx.unit_data.is_empty());

    // Trusted: as before.
    let mut hooks = Hooks::default();
    let mut w = world(0, true, &[(0, "idle"), (1, "idle")], &[]);
    let fx = run(
        Substrate::K8s,
        OLD,
        0,
        UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut hooks,
    );
    assert_eq!(fx.action_failure, None);
    // Machines never ask.
    let mut hooks = Hooks {
        trusted: Some(false),
        ..Hooks::default()
    };
    let mut w = world(0, true, &[(0, "idle"), (1, "idle")], &[]);
    let fx = run(
        Substrate::Vm,
        OLD,
        0,
        UpgradeEvent::PreUpgradeCheck,
        &mut w,
        &mut hooks,
    );
    assert_eq!(fx.action_failure, None);
}
