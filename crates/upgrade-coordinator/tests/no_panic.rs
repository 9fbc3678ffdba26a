//! Whatever Juju or a peer hands the coordinator, it never panics, never writes the
//! application bag unless it leads, and only ever writes the six known states.

use juju_hooks::{StringMap, UnitName};
use proptest::prelude::*;
use upgrade_coordinator::{
    handle, ClusterNotReady, DependencyError, DependencyModel, GrantOutcome, KubernetesClientError,
    Snapshot, StackError, Substrate, UnitState, UpgradeConfig, UpgradeContext, UpgradeEvent,
    UpgradeHooks,
};

struct Hooks {
    check_ok: bool,
    stack: Option<Vec<u32>>,
    grant: u8,
    partition_ok: bool,
}

impl UpgradeHooks for Hooks {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        if self.check_ok {
            Ok(())
        } else {
            Err(ClusterNotReady::new("no", "because"))
        }
    }
    fn build_upgrade_stack(&mut self, _: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        self.stack.clone().ok_or(StackError::NotImplemented)
    }
    fn on_upgrade_granted(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        match self.grant % 4 {
            0 => Ok(GrantOutcome::Completed),
            1 => Ok(GrantOutcome::Failed {
                cause: Some("x".into()),
            }),
            2 => Ok(GrantOutcome::InProgress),
            _ => Err(DependencyError::new("d", "c")),
        }
    }
    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}
    fn set_rolling_update_partition(
        &mut self,
        _: &mut UpgradeContext<'_>,
        _: u32,
    ) -> Result<(), KubernetesClientError> {
        if self.partition_ok {
            Ok(())
        } else {
            Err(KubernetesClientError::new("k", "c"))
        }
    }
}

fn state() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(UnitState::ALL.to_vec()).prop_map(|s| Some(s.as_str().to_owned())),
        1 => Just(None),
        1 => "[a-zA-Z]{0,8}".prop_map(Some),
    ]
}

fn stack_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => prop::collection::vec(0u32..8, 0..8).prop_map(|v| Some(format!("{v:?}"))),
        1 => Just(None),
        1 => ".{0,12}".prop_map(Some),
        1 => Just(Some("[1, -2]".into())),
        1 => Just(Some("[4294967296]".into())),
    ]
}

fn deps_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(r#"{"app": {"version": "0.5"}}"#.to_owned())),
        Just(Some(r#"{"app": {"version": "1.5"}}"#.to_owned())),
        Just(Some(r#"{"other": {"version": "1"}}"#.to_owned())),
        ".{0,20}".prop_map(Some),
    ]
}

fn event() -> impl Strategy<Value = UpgradeEvent> {
    prop_oneof![
        Just(UpgradeEvent::RelationCreated),
        Just(UpgradeEvent::RelationChanged),
        Just(UpgradeEvent::UpgradeCharm),
        Just(UpgradeEvent::PreUpgradeCheck),
        Just(UpgradeEvent::ResumeUpgrade { check_health: true }),
        Just(UpgradeEvent::ResumeUpgrade {
            check_health: false
        }),
        (any::<bool>(), any::<bool>()).prop_map(|(c, r)| UpgradeEvent::ForceUpgrade {
            check_compatibility: c,
            run_pre_upgrade_checks: r
        }),
        Just(UpgradeEvent::UnitCompleted),
        Just(UpgradeEvent::UnitFailed { cause: None }),
        Just(UpgradeEvent::UpgradeFinished),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_respects_leadership(
        me in 0u32..6,
        states in prop::collection::vec(state(), 1..6),
        extra_peer in prop::option::of(6u32..9),
        leader: bool,
        relation in prop::bool::weighted(0.9),
        k8s: bool,
        stack in stack_text(),
        deps in deps_text(),
        planned in prop::option::of(0usize..10),
        ev in event(),
        check_ok: bool,
        built in prop::option::of(prop::collection::vec(0u32..8, 0..8)),
        grant: u8,
        partition_ok: bool,
        exact: bool,
        status_waiting: bool,
    ) {
        let mut config = UpgradeConfig::new(
            if k8s { Substrate::K8s } else { Substrate::Vm },
            DependencyModel::from_json(r#"{"app": {"dependencies": {}, "name": "app", "upgrade_supported": ">=1", "version": "2.0"}}"#).unwrap(),
        );
        config.exact_logs = exact;
        let me = UnitName::new("app", me).unwrap();
        let mut snap = Snapshot::new(me.clone());
        snap.relation = relation;
        snap.leader = leader;
        snap.planned_units = planned;
        for (n, st) in states.iter().enumerate() {
            let mut bag = StringMap::new();
            if let Some(st) = st { bag.insert("state".into(), st.clone()); }
            snap.units.insert(UnitName::new("app", n as u32).unwrap(), bag);
        }
        if let Some(p) = extra_peer {
            snap.units.insert(UnitName::new("app", p).unwrap(), StringMap::new());
        }
        if status_waiting {
            snap.status = Some(juju_hooks::Status::Waiting("other units upgrading first...".into()));
        }
        if let Some(s) = stack { snap.app.insert("upgrade-stack".into(), s); }
        if let Some(d) = deps { snap.app.insert("dependencies".into(), d); }
        let exact_snap = snap.clone();
        let mut hooks = Hooks { check_ok, stack: built.clone(), grant, partition_ok };
        let fx = handle(&config, &me, &ev, &mut snap, &mut hooks).unwrap();
        if !exact {
            // The shortcut changes nothing but DEBUG lines and a Waiting status already shown.
            let mut exact_config = config.clone();
            exact_config.exact_logs = true;
            let mut snap2 = exact_snap.clone();
            let mut hooks = Hooks { check_ok, stack: built, grant, partition_ok };
            let full = handle(&exact_config, &me, &ev, &mut snap2, &mut hooks).unwrap();
            prop_assert_eq!(&fx.unit_data, &full.unit_data);
            prop_assert_eq!(&fx.app_data, &full.app_data);
            prop_assert_eq!(&fx.action_failure, &full.action_failure);
            prop_assert_eq!(&fx.action_results, &full.action_results);
            prop_assert_eq!(fx.deferred, full.deferred);
            let granted = |f: &upgrade_coordinator::Effects| f.count(&upgrade_coordinator::Call::UpgradeGranted);
            prop_assert_eq!(granted(&fx), granted(&full));
            if fx.status != full.status {
                prop_assert!(fx.status.is_none() && full.status == exact_snap.status, "{:?} vs {:?}", fx.status, full.status);
            }
            // (Our own diagnostics about malformed data depend on which data was read.)
            let loud = |f: &upgrade_coordinator::Effects| {
                f.logs
                    .iter()
                    .filter(|l| l.level > juju_hooks::LogLevel::Warning || l.level == juju_hooks::LogLevel::Info)
                    .filter(|l| !l.message.starts_with("ignoring the stored upgrade-stack"))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(loud(&fx), loud(&full));
            // (At most its own bag and the app bag when the full path reads fewer.)
            // The shortcut costs at most one read more (the app bag) when it does not apply.
            prop_assert!(snap.bag_reads() <= snap2.bag_reads() + 1);
        }
        if !leader || !relation {
            prop_assert!(fx.app_data.is_empty(), "non-leader wrote {:?}", fx.app_data);
        }
        if let Some(st) = fx.unit_data.get("state") {
            prop_assert!(UnitState::parse(st).is_some());
        }
        if !relation {
            prop_assert!(fx.unit_data.is_empty());
        }
    }
}
