//! Table tests: every `JUJU_DISPATCH_PATH` form to its event, and bad environments to their
//! documented errors.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};

use juju_hooks::{
    ActionEvent, ContextError, Event, HookContext, RelationEvent, RelationEventKind, RelationId,
    UnitName,
};

/// The variables Juju sets for every hook on a machine.
fn base_env(dispatch: &str) -> HashMap<String, String> {
    [
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_UNIT_NAME", "db/2"),
        ("JUJU_MODEL_NAME", "prod"),
        ("JUJU_MODEL_UUID", "8b4a1f6e-0000-4000-8000-000000000000"),
        ("JUJU_CHARM_DIR", "/var/lib/juju/agents/unit-db-2/charm"),
        ("JUJU_VERSION", "3.6.7"),
        ("JUJU_HOOK_NAME", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn relation_env(dispatch: &str, remote_unit: &str) -> HashMap<String, String> {
    let mut env = base_env(dispatch);
    env.insert("JUJU_RELATION".into(), "upgrade".into());
    env.insert("JUJU_RELATION_ID".into(), "upgrade:3".into());
    env.insert("JUJU_REMOTE_APP".into(), "db".into());
    env.insert("JUJU_REMOTE_UNIT".into(), remote_unit.into());
    env
}

fn parse(env: &HashMap<String, String>) -> Result<HookContext, ContextError> {
    parse_argv0(env, None)
}

fn parse_argv0(
    env: &HashMap<String, String>,
    argv0: Option<&str>,
) -> Result<HookContext, ContextError> {
    HookContext::from_lookup(|k| env.get(k).map(OsString::from), argv0.map(OsStr::new))
}

fn unit(s: &str) -> UnitName {
    s.parse().unwrap()
}

fn rel_event(kind: RelationEventKind, remote_unit: Option<&str>, departing: Option<&str>) -> Event {
    Event::Relation(RelationEvent {
        kind,
        relation: "upgrade:3".parse::<RelationId>().unwrap(),
        remote_app: "db".into(),
        remote_unit: remote_unit.map(unit),
        departing_unit: departing.map(unit),
    })
}

#[test]
fn simple_hooks() {
    let table = [
        ("hooks/install", Event::Install),
        ("hooks/start", Event::Start),
        ("hooks/stop", Event::Stop),
        ("hooks/remove", Event::Remove),
        ("hooks/config-changed", Event::ConfigChanged),
        ("hooks/leader-elected", Event::LeaderElected),
        (
            "hooks/leader-settings-changed",
            Event::LeaderSettingsChanged,
        ),
        ("hooks/upgrade-charm", Event::UpgradeCharm),
        ("hooks/update-status", Event::UpdateStatus),
    ];
    for (path, want) in table {
        let ctx = parse(&base_env(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(ctx.event, want, "{path}");
        assert_eq!(ctx.event.dispatch_path(), path);
        assert_eq!(ctx.dispatch_path, path);
        assert_eq!(ctx.unit, unit("db/2"));
        assert_eq!(ctx.app(), "db");
        assert_eq!(ctx.model_name, "prod");
        assert_eq!(ctx.juju_version.to_string(), "3.6.7");
        assert_eq!(
            ctx.charm_dir,
            std::path::Path::new("/var/lib/juju/agents/unit-db-2/charm")
        );
    }
}

#[test]
fn relation_hooks() {
    use RelationEventKind::*;
    let table = [
        (
            "hooks/upgrade-relation-created",
            "",
            rel_event(Created, None, None),
        ),
        (
            "hooks/upgrade-relation-joined",
            "db/1",
            rel_event(Joined, Some("db/1"), None),
        ),
        (
            "hooks/upgrade-relation-changed",
            "db/1",
            rel_event(Changed, Some("db/1"), None),
        ),
        // An application-bag change: no remote unit.
        (
            "hooks/upgrade-relation-changed",
            "",
            rel_event(Changed, None, None),
        ),
        (
            "hooks/upgrade-relation-broken",
            "",
            rel_event(Broken, None, None),
        ),
    ];
    for (path, remote, want) in table {
        let ctx = parse(&relation_env(path, remote)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(ctx.event, want, "{path} remote={remote:?}");
        assert_eq!(ctx.event.dispatch_path(), path);
    }
    let mut env = relation_env("hooks/upgrade-relation-departed", "db/1");
    env.insert("JUJU_DEPARTING_UNIT".into(), "db/1".into());
    assert_eq!(
        parse(&env).unwrap().event,
        rel_event(Departed, Some("db/1"), Some("db/1"))
    );
    // Juju < 2.8 does not set JUJU_DEPARTING_UNIT.
    env.remove("JUJU_DEPARTING_UNIT");
    assert_eq!(
        parse(&env).unwrap().event,
        rel_event(Departed, Some("db/1"), None)
    );
}

#[test]
fn relation_endpoints_with_dashes_and_bare_ids() {
    let mut env = relation_env("hooks/my-peers-relation-changed", "db/0");
    env.insert("JUJU_RELATION".into(), "my-peers".into());
    env.insert("JUJU_RELATION_ID".into(), "7".into());
    let ctx = parse(&env).unwrap();
    match ctx.event {
        Event::Relation(r) => {
            assert_eq!(r.relation.to_string(), "my-peers:7");
            assert_eq!(r.kind, RelationEventKind::Changed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn actions() {
    let mut env = base_env("actions/pre-upgrade-check");
    env.insert("JUJU_ACTION_NAME".into(), "pre-upgrade-check".into());
    env.insert("JUJU_ACTION_UUID".into(), "2".into());
    env.insert("JUJU_ACTION_TAG".into(), "action-2".into());
    let ctx = parse(&env).unwrap();
    assert_eq!(
        ctx.event,
        Event::Action(ActionEvent {
            name: "pre-upgrade-check".into(),
            id: "2".into()
        })
    );
    assert!(ctx.event.is_action());
    assert_eq!(ctx.event.dispatch_path(), "actions/pre-upgrade-check");
    assert_eq!(ctx.event.name(), "pre-upgrade-check");
}

#[test]
fn hooks_we_do_not_handle_are_other() {
    for name in [
        "collect-metrics",
        "data-storage-attached",
        "workload-pebble-ready",
        "secret-changed",
        "pre-series-upgrade",
        "leader-deposed",
        "db-relation-exploded",
    ] {
        let path = format!("hooks/{name}");
        let ctx = parse(&base_env(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(ctx.event, Event::Other { hook: name.into() });
        assert_eq!(ctx.event.dispatch_path(), path);
    }
}

#[test]
fn legacy_argv0_form() {
    let mut env = base_env("");
    env.remove("JUJU_DISPATCH_PATH");
    let ctx = parse_argv0(
        &env,
        Some("/var/lib/juju/agents/unit-db-2/charm/hooks/upgrade-charm"),
    )
    .unwrap();
    assert_eq!(ctx.event, Event::UpgradeCharm);
    assert_eq!(ctx.dispatch_path, "hooks/upgrade-charm");
    let ctx = parse_argv0(&env, Some("hooks/install")).unwrap();
    assert_eq!(ctx.event, Event::Install);
    // JUJU_DISPATCH_PATH wins over argv[0].
    let env2 = base_env("hooks/start");
    assert_eq!(
        parse_argv0(&env2, Some("hooks/install")).unwrap().event,
        Event::Start
    );
    for argv0 in [
        None,
        Some("./dispatch"),
        Some("/charm/dispatch"),
        Some("install"),
    ] {
        let err = parse_argv0(&env, argv0).unwrap_err();
        assert!(
            matches!(err, ContextError::NoDispatchPath { .. }),
            "{argv0:?}: {err}"
        );
        assert!(err.to_string().contains("JUJU_DISPATCH_PATH is not set"));
    }
}

#[test]
fn legacy_charm_dir_variable() {
    let mut env = base_env("hooks/start");
    env.remove("JUJU_CHARM_DIR");
    env.insert("CHARM_DIR".into(), "/charm".into());
    assert_eq!(
        parse(&env).unwrap().charm_dir,
        std::path::Path::new("/charm")
    );
}

/// Every bad environment gives an error naming the variable.
#[test]
fn bad_environments_name_the_variable() {
    let env_for = |path: &str| {
        let mut env = if path.contains("relation") {
            relation_env(path, "db/1")
        } else {
            base_env(path)
        };
        if path.starts_with("actions/") {
            env.insert("JUJU_ACTION_UUID".into(), "1".into());
        }
        env
    };
    let missing = |var: &str, path: &str| {
        let mut env = env_for(path);
        env.remove(var);
        (env, var.to_string())
    };
    let set = |var: &str, value: &str, path: &str| {
        let mut env = env_for(path);
        env.insert(var.into(), value.into());
        (env, var.to_string())
    };
    let cases = vec![
        missing("JUJU_UNIT_NAME", "hooks/start"),
        missing("JUJU_MODEL_NAME", "hooks/start"),
        missing("JUJU_CHARM_DIR", "hooks/start"),
        missing("JUJU_VERSION", "hooks/start"),
        missing("JUJU_ACTION_UUID", "actions/resume-upgrade"),
        missing("JUJU_RELATION", "hooks/upgrade-relation-changed"),
        missing("JUJU_RELATION_ID", "hooks/upgrade-relation-changed"),
        missing("JUJU_REMOTE_APP", "hooks/upgrade-relation-changed"),
        missing("JUJU_REMOTE_UNIT", "hooks/upgrade-relation-changed"),
        set("JUJU_UNIT_NAME", "db", "hooks/start"),
        set("JUJU_UNIT_NAME", "", "hooks/start"),
        set("JUJU_UNIT_NAME", "DB/1", "hooks/start"),
        set("JUJU_MODEL_NAME", "", "hooks/start"),
        set("JUJU_CHARM_DIR", "relative/dir", "hooks/start"),
        set("JUJU_VERSION", "three", "hooks/start"),
        set("JUJU_DISPATCH_PATH", "upgrade-charm", "hooks/start"),
        set("JUJU_DISPATCH_PATH", "bin/upgrade-charm", "hooks/start"),
        set("JUJU_DISPATCH_PATH", "hooks/", "hooks/start"),
        set("JUJU_DISPATCH_PATH", "hooks/a/b", "hooks/start"),
        set("JUJU_DISPATCH_PATH", "hooks/../x", "hooks/start"),
        set("JUJU_ACTION_NAME", "other-action", "actions/resume-upgrade"),
        set("JUJU_RELATION", "other", "hooks/upgrade-relation-changed"),
        set(
            "JUJU_RELATION_ID",
            "other:3",
            "hooks/upgrade-relation-changed",
        ),
        set(
            "JUJU_RELATION_ID",
            "upgrade:x",
            "hooks/upgrade-relation-changed",
        ),
        set("JUJU_REMOTE_UNIT", "db1", "hooks/upgrade-relation-changed"),
        set("JUJU_REMOTE_UNIT", "", "hooks/upgrade-relation-joined"),
        set("JUJU_REMOTE_APP", "Db", "hooks/upgrade-relation-changed"),
        set(
            "JUJU_DEPARTING_UNIT",
            "nope",
            "hooks/upgrade-relation-departed",
        ),
    ];
    for (env, var) in cases {
        let err = parse(&env).expect_err(&format!("{var} accepted: {env:?}"));
        let text = err.to_string();
        assert!(
            text.contains(&var),
            "error for {var} does not name it: {text}"
        );
        match &err {
            ContextError::Missing { var: v, .. } | ContextError::Malformed { var: v, .. } => {
                assert_eq!(*v, var)
            }
            other => panic!("{var}: unexpected {other:?}"),
        }
    }
}

#[test]
fn non_utf8_variable_is_malformed() {
    use std::os::unix::ffi::OsStringExt;
    let env = base_env("hooks/start");
    let err = HookContext::from_lookup(
        |k| {
            if k == "JUJU_MODEL_NAME" {
                Some(OsString::from_vec(vec![0xff, 0xfe]))
            } else {
                env.get(k).map(OsString::from)
            }
        },
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ContextError::Malformed {
                var: "JUJU_MODEL_NAME",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn events_round_trip_through_json() {
    let events = vec![
        Event::UpgradeCharm,
        rel_event(RelationEventKind::Changed, Some("db/1"), None),
        rel_event(RelationEventKind::Departed, Some("db/1"), Some("db/2")),
        Event::Other {
            hook: "x-storage-attached".into(),
        },
    ];
    for e in events {
        let json = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e, "{json}");
    }
    assert_eq!(
        serde_json::to_string(&Event::UpgradeCharm).unwrap(),
        r#"{"event":"upgrade-charm"}"#
    );
}
