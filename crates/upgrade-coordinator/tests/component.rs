//! `InPlaceUpgrade`, the drop-in component, run inside a whole charm with the public harness:
//! its setup errors, its routing (which events it takes, deferral, action parameters), the
//! trait's defaults, and its Kubernetes side (partition, trust, the completion of a pod).

use std::cell::RefCell;
use std::rc::Rc;

use juju_hooks::harness::{self, data, Harness};
use juju_hooks::{
    Charm, Event, FakeState, Handled, LogLevel, Model, ModelError, RelationId, Status, UnitName,
    DEFERRED_KEY,
};
use upgrade_coordinator::component::{detect_substrate, SUBSTRATE_VAR, VERSIONS_FILE};
use upgrade_coordinator::k8s::PartitionClient;
use upgrade_coordinator::{
    ClusterNotReady, DependencyError, GrantOutcome, InPlaceUpgrade, KubernetesClientError,
    SetupError, Substrate, UnitHealth, UpgradeContext, UpgradeHooks, HEALTH_KEY,
};

const VERSIONS: &str = r#"{"workload": {"dependencies": {}, "name": "kv", "upgrade_supported": ">=1.0", "version": "1.1.0"}}"#;

/// The charm's side: counts its calls; fails its upgrade when told to.
#[derive(Default)]
struct Kv {
    granted: u32,
    fail: bool,
}

impl UpgradeHooks for Kv {
    fn pre_upgrade_check(&mut self, _cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        Ok(())
    }

    fn on_upgrade_granted(
        &mut self,
        _cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        self.granted += 1;
        Ok(if self.fail {
            GrantOutcome::Failed {
                cause: Some("install 1.1.0 failed".into()),
            }
        } else {
            GrantOutcome::Completed
        })
    }
}

/// A StatefulSet that records the partitions it is given.
#[derive(Clone, Default)]
struct Sts {
    partitions: Rc<RefCell<Vec<u32>>>,
    untrusted: bool,
}

impl PartitionClient for Sts {
    fn set_partition(&self, partition: u32) -> Result<(), KubernetesClientError> {
        self.partitions.borrow_mut().push(partition);
        Ok(())
    }
    fn can_patch(&self) -> Result<bool, KubernetesClientError> {
        Ok(!self.untrusted)
    }
}

struct TestCharm {
    upgrade: InPlaceUpgrade,
    kv: Kv,
    /// The events the component left to the charm.
    own: Vec<String>,
}

impl Charm for TestCharm {
    type Error = ModelError;
    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
        if let Some(handled) = self.upgrade.handle(event, model, &mut self.kv)? {
            return Ok(handled);
        }
        self.own.push(event.name());
        Ok(Handled::Done)
    }
}

fn charm(h: &Harness, event: Event, substrate: &str, sts: &Sts, kv: Kv) -> (TestCharm, Event) {
    let ctx = h.context(&UnitName::new("kv", 0).unwrap(), event.clone());
    let env = |k: &str| (k == SUBSTRATE_VAR).then(|| substrate.to_owned());
    let upgrade = InPlaceUpgrade::from_context_with_env(&ctx, env)
        .expect("a valid versions file")
        .with_partition_client(Box::new(sts.clone()));
    (
        TestCharm {
            upgrade,
            kv,
            own: Vec::new(),
        },
        event,
    )
}

fn harness() -> Harness {
    let h = Harness::new().unwrap();
    h.write_file(VERSIONS_FILE, VERSIONS).unwrap();
    h
}

fn unit(n: u32) -> UnitName {
    UnitName::new("kv", n).unwrap()
}

fn rel() -> RelationId {
    "upgrade:3".parse().unwrap()
}

/// Unit `me` of `n` units, every unit in `state`.
fn world(me: u32, n: u32, state: &str, leader: bool) -> FakeState {
    let peers = (0..n)
        .filter(|&i| i != me)
        .map(|i| (unit(i), data([("state", state)])));
    FakeState::new(unit(me))
        .leader(leader)
        .with_peer_relation(&rel(), peers)
        .with_unit_data(&rel(), data([("state", state)]))
}

#[test]
fn the_pre_check_builds_the_default_stack_leader_last_highest_first() {
    let h = harness();
    let (mut c, event) = charm(
        &h,
        harness::action("pre-upgrade-check"),
        "vm",
        &Sts::default(),
        Kv::default(),
    );
    let out = h.run_charm(&mut c, world(0, 3, "idle", true), event);
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(out.app_data(&rel())["upgrade-stack"], "[0, 1, 2]");
    assert_eq!(out.action_failure(), None);
    assert!(c.own.is_empty(), "the charm saw {:?}", c.own);
}

#[test]
fn upgrade_charm_before_the_peer_relation_is_deferred() {
    let h = harness();
    let (mut c, event) = charm(
        &h,
        Event::UpgradeCharm,
        "vm",
        &Sts::default(),
        Kv::default(),
    );
    let out = h.run_charm(&mut c, FakeState::new(unit(0)), event);
    let report = out.result.expect("the hook succeeds");
    assert!(report.deferred_current);
    assert!(out.state.charm_state.contains_key(DEFERRED_KEY));
}

#[test]
fn other_events_are_the_charms() {
    let h = harness();
    for event in [
        Event::Start,
        Event::UpdateStatus,
        harness::action("backup"),
        Event::Relation(juju_hooks::RelationEvent {
            kind: juju_hooks::RelationEventKind::Joined,
            relation: rel(),
            remote_app: "kv".into(),
            remote_unit: Some(unit(1)),
            departing_unit: None,
        }),
        // Another relation's changed is not the peer relation's.
        harness::relation_changed(&"db:7".parse().unwrap(), None),
        // config-changed runs the coordinator and is still the charm's.
        Event::ConfigChanged,
    ] {
        let (mut c, event) = charm(&h, event, "vm", &Sts::default(), Kv::default());
        let name = event.name();
        let out = h.run_charm(&mut c, world(0, 2, "idle", false), event);
        assert!(out.result.is_ok(), "{name}: {:?}", out.result);
        assert_eq!(c.own, vec![name.clone()], "{name}");
    }
}

#[test]
fn a_parameter_that_is_not_a_boolean_fails_the_action_and_says_which() {
    let h = harness();
    let (mut c, event) = charm(
        &h,
        harness::action("resume-upgrade"),
        "vm",
        &Sts::default(),
        Kv::default(),
    );
    let state = world(0, 2, "idle", true).with_action_params([(
        "check-health-of-refreshed-units".to_string(),
        "maybe".into(),
    )]);
    let out = h.run_charm(&mut c, state, event);
    assert_eq!(
        out.action_failure(),
        Some("check-health-of-refreshed-units must be true or false, not \"maybe\"")
    );
}

#[test]
fn a_failed_unit_logs_the_default_rollback_instructions_with_the_recorded_revision() {
    let h = harness();
    let kv = Kv {
        fail: true,
        ..Kv::default()
    };
    let (mut c, event) = charm(
        &h,
        harness::relation_changed(&rel(), Some(&unit(0))),
        "vm",
        &Sts::default(),
        kv,
    );
    // Unit 1 is on top of the stack and every unit is ready: it is granted, and fails.
    let me = unit(1);
    let state = FakeState::new(me.clone())
        .with_peer_relation(&rel(), [(unit(0), data([("state", "ready")]))])
        .with_unit_data(&rel(), data([("state", "ready")]))
        .with_app_data(
            &rel(),
            data([
                ("upgrade-stack", "[0, 1]"),
                ("rollback-charm", "ch:amd64/noble/kv-12"),
            ]),
        );
    let out = h.run_charm(&mut c, state, event);
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(c.kv.granted, 1);
    assert_eq!(out.unit_data(&rel())["state"], "failed");
    assert_eq!(
        out.state.unit_status,
        Some(Status::Blocked("install 1.1.0 failed".into()))
    );
    let errors = out.logs_at(LogLevel::Error);
    assert!(
        errors.iter().any(|l| l.contains(&format!(
            "Upgrade failed on {me}. To roll back: juju run kv/leader pre-upgrade-check; then juju refresh kv --revision 12"
        ))),
        "{errors:?}"
    );
}

#[test]
fn kubernetes_pre_check_holds_every_pod_but_the_highest() {
    let h = harness();
    let sts = Sts::default();
    let (mut c, event) = charm(
        &h,
        harness::action("pre-upgrade-check"),
        "k8s",
        &sts,
        Kv::default(),
    );
    let out = h.run_charm(&mut c, world(0, 3, "idle", true), event);
    assert_eq!(out.action_failure(), None, "{:?}", out.state.logs);
    assert_eq!(*sts.partitions.borrow(), vec![2]);
}

#[test]
fn kubernetes_without_trust_fails_the_pre_check_and_writes_nothing() {
    let h = harness();
    let sts = Sts {
        untrusted: true,
        ..Sts::default()
    };
    let (mut c, event) = charm(
        &h,
        harness::action("pre-upgrade-check"),
        "k8s",
        &sts,
        Kv::default(),
    );
    let out = h.run_charm(&mut c, world(0, 3, "idle", true), event);
    assert_eq!(
        out.action_failure(),
        Some("Run juju trust kv --scope=cluster. Needed for in-place upgrades")
    );
    assert!(sts.partitions.borrow().is_empty());
    assert!(!out.app_data(&rel()).contains_key("upgrade-stack"));
}

#[test]
fn a_recreated_pod_finishes_through_on_pod_upgraded_whose_default_is_the_grant() {
    let h = harness();
    let (mut c, event) = charm(
        &h,
        Event::UpgradeCharm,
        "k8s",
        &Sts::default(),
        Kv::default(),
    );
    // Pod 0 of 2 (not the highest), recreated with the new charm while its peer upgraded.
    let state =
        world(0, 2, "ready", false).with_app_data(&rel(), data([("upgrade-stack", "[0, 1]")]));
    let out = h.run_charm(&mut c, state, event);
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(c.kv.granted, 1, "{:?}", out.state.logs);
    assert_eq!(out.unit_data(&rel())["state"], "completed");
    assert_eq!(
        out.state.unit_status,
        Some(Status::Maintenance("upgrade completed".into()))
    );
}

#[test]
fn on_machines_the_pod_step_never_runs() {
    let h = harness();
    let (mut c, event) = charm(
        &h,
        Event::UpgradeCharm,
        "vm",
        &Sts::default(),
        Kv::default(),
    );
    let state = world(0, 2, "idle", false);
    let out = h.run_charm(&mut c, state, event);
    assert!(out.result.is_ok(), "{:?}", out.result);
    // A machine unit refreshed without a pre-check is not granted here (its peer is first).
    assert_eq!(c.kv.granted, 0);
}

#[test]
fn setup_errors_say_what_is_wrong_and_never_panic() {
    let h = Harness::new().unwrap();
    let ctx = h.context(&unit(0), Event::Start);
    let vm = |_: &str| None;
    let e = InPlaceUpgrade::from_context_with_env(&ctx, vm).unwrap_err();
    assert!(matches!(e, SetupError::VersionsUnreadable { .. }), "{e}");
    assert!(e.to_string().starts_with("cannot read "), "{e}");
    assert_eq!(
        e.status(),
        Status::Blocked("invalid versions.json: see juju debug-log".into())
    );

    h.write_file(VERSIONS_FILE, "{\"workload\": 3}").unwrap();
    let e = InPlaceUpgrade::from_context_with_env(&ctx, vm).unwrap_err();
    assert!(matches!(e, SetupError::VersionsInvalid { .. }), "{e}");

    h.write_file(VERSIONS_FILE, VERSIONS).unwrap();
    let up = InPlaceUpgrade::from_context_with_env(&ctx, vm).unwrap();
    assert_eq!(up.substrate(), Substrate::Vm);
    assert_eq!(up.target_version("workload"), Some("1.1.0"));
    let e = up.requiring("engine").unwrap_err();
    assert!(e.to_string().contains("no \"engine\" entry"), "{e}");

    let e = InPlaceUpgrade::from_context_with_env(&ctx, |k| {
        (k == SUBSTRATE_VAR).then(|| "lxd".to_owned())
    })
    .unwrap_err();
    assert!(matches!(e, SetupError::InvalidSubstrate { .. }), "{e}");
}

#[test]
fn the_substrate_is_kubernetes_in_a_pod_unless_overridden() {
    let pod = |k: &str| (k == "KUBERNETES_SERVICE_HOST").then(|| "10.0.0.1".to_owned());
    assert_eq!(detect_substrate(pod).unwrap(), Substrate::K8s);
    assert_eq!(detect_substrate(|_| None).unwrap(), Substrate::Vm);
    let forced = |k: &str| match k {
        SUBSTRATE_VAR => Some("vm".to_owned()),
        "KUBERNETES_SERVICE_HOST" => Some("10.0.0.1".to_owned()),
        _ => None,
    };
    assert_eq!(detect_substrate(forced).unwrap(), Substrate::Vm);
}

/// Health published from a charm's own hook: nothing before the peer relation, then the
/// value `UnitHealth::from_bag` (and so the peers' checks) reads back, in both directions.
#[test]
fn health_published_by_the_charm_reads_back_as_published() {
    struct Publisher(InPlaceUpgrade, UnitHealth);
    impl Charm for Publisher {
        type Error = ModelError;
        fn handle(&mut self, _: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
            self.0.publish_health(model, &self.1)?;
            Ok(Handled::Done)
        }
    }
    let h = harness();
    for health in [
        UnitHealth::Healthy,
        UnitHealth::Unhealthy("kv is not running".into()),
        UnitHealth::Unknown,
    ] {
        let ctx = h.context(&unit(0), Event::UpdateStatus);
        let upgrade = InPlaceUpgrade::from_context_with_env(&ctx, |_| None).unwrap();
        let mut c = Publisher(upgrade, health.clone());
        let before = world(0, 2, "idle", false).with_unit_data(
            &rel(),
            data([("state", "idle"), (HEALTH_KEY, "unhealthy: stale")]),
        );
        let out = h.run_charm(&mut c, before, Event::UpdateStatus);
        assert!(out.result.is_ok(), "{:?}", out.result);
        let bag = out.unit_data(&rel());
        assert_eq!(UnitHealth::from_bag(Some(&bag)), health, "{bag:?}");
        assert_eq!(bag["state"], "idle", "the coordinator's key is left alone");

        // (A new unit: the other remembers its peer relation, as a unit's charm dir does.)
        let h = harness();
        let ctx = h.context(&unit(0), Event::Install);
        let upgrade = InPlaceUpgrade::from_context_with_env(&ctx, |_| None).unwrap();
        let out = h.run_charm(
            &mut Publisher(upgrade, health),
            FakeState::new(unit(0)),
            Event::Install,
        );
        assert!(
            out.result.is_ok(),
            "no relation yet is not an error: {:?}",
            out.result
        );
        assert_eq!(out.count("relation-set"), 0);
    }
}
