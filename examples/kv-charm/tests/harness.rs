//! The kv charm, whole, under `juju_hooks::harness`: state in, event, state out.

use std::cell::RefCell;
use std::rc::Rc;

use juju_hooks::harness::{self, data, Harness};
use juju_hooks::{Event, FakeState, HookContext, RelationId, Status, UnitName};
use kv_charm::{KvCharm, Store};
use upgrade_coordinator::component::SUBSTRATE_VAR;
use upgrade_coordinator::k8s::PartitionClient;
use upgrade_coordinator::{InPlaceUpgrade, KubernetesClientError, HEALTH_KEY};

const CHARM: &str = env!("CARGO_MANIFEST_DIR");

struct Unit {
    harness: Harness,
    workload: tempfile::TempDir,
    substrate: &'static str,
    sts: Sts,
}

/// The StatefulSet, as the partitions it was given.
#[derive(Clone, Default)]
struct Sts(Rc<RefCell<Vec<u32>>>);

impl PartitionClient for Sts {
    fn set_partition(&self, partition: u32) -> Result<(), KubernetesClientError> {
        self.0.borrow_mut().push(partition);
        Ok(())
    }
}

impl Unit {
    /// A unit of the charm in this directory, shipping `versions` (a file of the charm).
    fn new(versions: &str, substrate: &'static str) -> Unit {
        let harness = Harness::with_charm_files(CHARM).unwrap();
        let text = std::fs::read_to_string(format!("{CHARM}/{versions}")).unwrap();
        harness.write_file("versions.json", &text).unwrap();
        Unit {
            harness,
            workload: tempfile::tempdir().unwrap(),
            substrate,
            sts: Sts::default(),
        }
    }

    fn charm(&self, ctx: &HookContext) -> KvCharm {
        let env = |k: &str| (k == SUBSTRATE_VAR).then(|| self.substrate.to_owned());
        let upgrade = InPlaceUpgrade::from_context_with_env(ctx, env).unwrap();
        KvCharm {
            upgrade: upgrade.with_partition_client(Box::new(self.sts.clone())),
            store: Store(self.workload.path().to_owned()),
        }
    }

    fn run(&self, state: FakeState, event: Event) -> harness::Outcome<juju_hooks::ModelError> {
        let out = self.harness.run(state, event, |ctx| self.charm(ctx));
        assert!(out.result.is_ok(), "{:?}", out.result);
        out
    }

    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.workload.path().join(name)).ok()
    }
}

fn unit(n: u32) -> UnitName {
    UnitName::new("kv", n).unwrap()
}

fn rel() -> RelationId {
    "upgrade:1".parse().unwrap()
}

/// Unit `me` of 3, every unit's bag `bag`.
fn world(me: u32, bag: &[(&str, &str)]) -> FakeState {
    let peers = (0..3)
        .filter(|&n| n != me)
        .map(|n| (unit(n), data(bag.iter().copied())));
    FakeState::new(unit(me))
        .with_peer_relation(&rel(), peers)
        .with_unit_data(&rel(), data(bag.iter().copied()))
}

#[test]
fn install_runs_the_shipped_version_and_reports_it() {
    let u = Unit::new("versions.json", "vm");
    let out = u.run(world(0, &[]), Event::Install);
    assert_eq!(u.file("version").as_deref(), Some("1.0.0"));
    assert_eq!(out.state.unit_status, Some(Status::Active(String::new())));
    assert_eq!(out.state.workload_version.as_deref(), Some("1.0.0"));
    assert_eq!(out.unit_data(&rel())[HEALTH_KEY], "healthy");
}

#[test]
fn the_pre_check_refuses_while_a_peer_is_unhealthy_and_names_it() {
    let u = Unit::new("versions.json", "vm");
    u.run(world(0, &[]), Event::Install);
    let mut state = world(0, &[("state", "idle"), (HEALTH_KEY, "healthy")]).leader(true);
    state = state.with_bag(
        &rel(),
        juju_hooks::Bag::Unit(unit(2)),
        data([
            ("state", "idle"),
            (HEALTH_KEY, "unhealthy: kv is not running"),
        ]),
    );
    let out = u.run(state.clone(), harness::action("pre-upgrade-check"));
    assert_eq!(
        out.action_failure(),
        Some("Pre-upgrade check failed and cannot safely upgrade")
    );
    let logs = out.logs_at(juju_hooks::LogLevel::Debug).join("\n");
    assert!(
        logs.contains("kv/2: unhealthy: kv is not running"),
        "{logs}"
    );

    let state = state.with_bag(
        &rel(),
        juju_hooks::Bag::Unit(unit(2)),
        data([("state", "idle"), (HEALTH_KEY, "healthy")]),
    );
    let out = u.run(state, harness::action("pre-upgrade-check"));
    assert_eq!(out.action_failure(), None);
    assert_eq!(out.app_data(&rel())["upgrade-stack"], "[0, 1, 2]");
}

#[test]
fn the_granted_unit_installs_the_new_version_and_completes() {
    let u = Unit::new("revisions/versions-1.1.0.json", "vm");
    u.run(world(2, &[]), Event::Install);
    let state = world(2, &[("state", "ready")])
        .with_app_data(&rel(), data([("upgrade-stack", "[0, 1, 2]")]));
    let out = u.run(state, harness::relation_changed(&rel(), Some(&unit(1))));
    assert_eq!(u.file("version").as_deref(), Some("1.1.0"));
    assert_eq!(out.unit_data(&rel())["state"], "completed");
    assert_eq!(out.state.workload_version.as_deref(), Some("1.1.0"));
}

#[test]
fn a_failed_install_fails_the_unit_with_the_cause() {
    let u = Unit::new("revisions/versions-1.1.0.json", "vm");
    u.run(world(2, &[]), Event::Install);
    std::fs::write(u.workload.path().join("fail-install"), "1.1.0").unwrap();
    let state = world(2, &[("state", "ready")])
        .with_app_data(&rel(), data([("upgrade-stack", "[0, 1, 2]")]));
    let out = u.run(state, harness::relation_changed(&rel(), Some(&unit(1))));
    assert_eq!(out.unit_data(&rel())["state"], "failed");
    assert_eq!(
        out.state.unit_status,
        Some(Status::Blocked("installing kv 1.1.0 failed".into()))
    );
}

#[test]
fn a_recreated_pod_upgrades_its_store_on_kubernetes() {
    let u = Unit::new("revisions/versions-1.1.0.json", "k8s");
    std::fs::create_dir_all(u.workload.path()).unwrap();
    std::fs::write(u.workload.path().join("running"), "1.0.0").unwrap();
    let state = world(1, &[("state", "ready")])
        .with_app_data(&rel(), data([("upgrade-stack", "[0, 1, 2]")]));
    let out = u.run(state, Event::UpgradeCharm);
    assert_eq!(u.file("version").as_deref(), Some("1.1.0"));
    assert_eq!(
        out.unit_data(&rel())["state"],
        "completed",
        "{:?}",
        out.state
    );
    // Done: the next pod down may go (the partition follows, as the reference sets it).
    assert_eq!(*u.sts.0.borrow(), vec![0]);
}
