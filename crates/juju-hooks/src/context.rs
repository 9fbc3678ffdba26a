//! The hook context: which event Juju is running and for which unit, parsed from the
//! environment Juju builds for `dispatch`.
//!
//! Juju runs `$JUJU_CHARM_DIR/dispatch` with `JUJU_DISPATCH_PATH=hooks/<hook>` or
//! `actions/<action>`; very old agents (< 2.8) instead run `hooks/<hook>`, which a charm may
//! symlink to its binary, so the program name is the fallback. Every variable is untrusted
//! text: a missing or malformed one is a [`ContextError`] naming it, never a panic.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::names::{JujuVersion, RelationId, UnitName};

/// The kind of a relation hook: the part after `<endpoint>-relation-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelationEventKind {
    /// `<endpoint>-relation-created`: once per relation, before any unit joins.
    Created,
    /// `<endpoint>-relation-joined`: a remote unit entered the relation.
    Joined,
    /// `<endpoint>-relation-changed`: a remote unit's bag, or the remote app bag, changed.
    Changed,
    /// `<endpoint>-relation-departed`: a unit left (possibly this one).
    Departed,
    /// `<endpoint>-relation-broken`: the relation is gone (never for peer relations).
    Broken,
}

impl RelationEventKind {
    /// All kinds, in lifecycle order.
    pub const ALL: [RelationEventKind; 5] = [
        RelationEventKind::Created,
        RelationEventKind::Joined,
        RelationEventKind::Changed,
        RelationEventKind::Departed,
        RelationEventKind::Broken,
    ];

    /// The hook-name suffix, e.g. `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationEventKind::Created => "created",
            RelationEventKind::Joined => "joined",
            RelationEventKind::Changed => "changed",
            RelationEventKind::Departed => "departed",
            RelationEventKind::Broken => "broken",
        }
    }
}

/// A relation hook with everything Juju says about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RelationEvent {
    /// Which relation hook.
    pub kind: RelationEventKind,
    /// The relation, `<endpoint>:<id>` (`JUJU_RELATION_ID`).
    pub relation: RelationId,
    /// The related application (`JUJU_REMOTE_APP`); our own application for a peer relation.
    /// Empty only if Juju left it empty.
    pub remote_app: String,
    /// The unit the event is about (`JUJU_REMOTE_UNIT`); `None` for `created`, `broken` and
    /// for a `changed` caused by the remote application bag.
    pub remote_unit: Option<UnitName>,
    /// The unit leaving, for `departed` (`JUJU_DEPARTING_UNIT`).
    pub departing_unit: Option<UnitName>,
}

/// An action run with `juju run <unit> <action>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActionEvent {
    /// The action's name, e.g. `pre-upgrade-check`.
    pub name: String,
    /// The action (task) id, `JUJU_ACTION_UUID` (a small integer string on Juju 3).
    pub id: String,
}

/// One Juju event: what this run of `dispatch` is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// `install`
    Install,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `config-changed`
    ConfigChanged,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `upgrade-charm`: runs the new charm code after `juju refresh`.
    UpgradeCharm,
    /// `update-status`
    UpdateStatus,
    /// `<endpoint>-relation-<kind>`
    Relation(RelationEvent),
    /// `actions/<name>`
    Action(ActionEvent),
    /// Any other hook (storage, secrets, Pebble, series upgrade, metrics, ...): carried by
    /// name so the charm can ignore it explicitly.
    Other {
        /// The hook name, e.g. `data-storage-attached`.
        hook: String,
    },
}

impl Event {
    /// The hook or action name, e.g. `upgrade-relation-changed` or `pre-upgrade-check`.
    pub fn name(&self) -> String {
        match self {
            Event::Install => "install".into(),
            Event::Start => "start".into(),
            Event::Stop => "stop".into(),
            Event::Remove => "remove".into(),
            Event::ConfigChanged => "config-changed".into(),
            Event::LeaderElected => "leader-elected".into(),
            Event::LeaderSettingsChanged => "leader-settings-changed".into(),
            Event::UpgradeCharm => "upgrade-charm".into(),
            Event::UpdateStatus => "update-status".into(),
            Event::Relation(r) => {
                format!("{}-relation-{}", r.relation.endpoint(), r.kind.as_str())
            }
            Event::Action(a) => a.name.clone(),
            Event::Other { hook } => hook.clone(),
        }
    }

    /// The `JUJU_DISPATCH_PATH` that runs this event.
    pub fn dispatch_path(&self) -> String {
        match self {
            Event::Action(a) => format!("actions/{}", a.name),
            other => format!("hooks/{}", other.name()),
        }
    }

    /// Is this an action (which Juju never puts the unit in error for, and which cannot be
    /// deferred)?
    pub fn is_action(&self) -> bool {
        matches!(self, Event::Action(_))
    }
}

/// Everything about the current dispatch that comes from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookContext {
    /// This unit (`JUJU_UNIT_NAME`).
    pub unit: UnitName,
    /// The model's name (`JUJU_MODEL_NAME`); the Kubernetes namespace on Kubernetes.
    pub model_name: String,
    /// The model's UUID (`JUJU_MODEL_UUID`), when Juju set it.
    pub model_uuid: Option<String>,
    /// The charm directory (`JUJU_CHARM_DIR`, or legacy `CHARM_DIR`).
    pub charm_dir: PathBuf,
    /// The agent's version (`JUJU_VERSION`).
    pub juju_version: JujuVersion,
    /// `hooks/<name>` or `actions/<name>`, from `JUJU_DISPATCH_PATH` or the program name.
    pub dispatch_path: String,
    /// The event to handle.
    pub event: Event,
}

/// The environment did not describe a hook or action Juju could have run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A variable Juju always sets for this kind of event is absent.
    #[error("environment variable {var} is not set; Juju sets it for every {needed_for}: is dispatch being run outside Juju?")]
    Missing {
        /// The variable's name.
        var: &'static str,
        /// The kind of event that needs it, e.g. `hook` or `relation hook`.
        needed_for: &'static str,
    },
    /// A variable is set but its value makes no sense.
    #[error("environment variable {var}={value:?} is malformed: {reason}")]
    Malformed {
        /// The variable's name.
        var: &'static str,
        /// Its value (lossily decoded if it was not UTF-8).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// Neither `JUJU_DISPATCH_PATH` nor the program name says which hook this is.
    #[error("cannot tell which event to handle: JUJU_DISPATCH_PATH is not set and the program name {argv0:?} is not hooks/<hook> or actions/<action>; dispatch is run by Juju, see the README to run it locally")]
    NoDispatchPath {
        /// The program name that was looked at.
        argv0: String,
    },
}

fn malformed(var: &'static str, value: &str, reason: impl Into<String>) -> ContextError {
    ContextError::Malformed {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Reads variables through a lookup function so tests (and the simulator) need not touch the
/// process environment.
struct Vars<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<OsString>> Vars<F> {
    /// The variable as UTF-8, `None` if unset. Non-UTF-8 is malformed.
    fn get(&self, var: &'static str) -> Result<Option<String>, ContextError> {
        match (self.lookup)(var) {
            None => Ok(None),
            Some(v) => v
                .into_string()
                .map(Some)
                .map_err(|v| ContextError::Malformed {
                    var,
                    value: v.to_string_lossy().into_owned(),
                    reason: "not valid UTF-8".into(),
                }),
        }
    }

    fn require(&self, var: &'static str, needed_for: &'static str) -> Result<String, ContextError> {
        self.get(var)?
            .ok_or(ContextError::Missing { var, needed_for })
    }

    fn require_non_empty(
        &self,
        var: &'static str,
        needed_for: &'static str,
    ) -> Result<String, ContextError> {
        let v = self.require(var, needed_for)?;
        if v.is_empty() {
            return Err(malformed(var, &v, "must not be empty"));
        }
        Ok(v)
    }

    /// An optional unit name: unset or empty is `None`.
    fn unit(&self, var: &'static str) -> Result<Option<UnitName>, ContextError> {
        match self.get(var)? {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e: crate::names::NameError| malformed(var, &v, e.reason)),
        }
    }
}

impl HookContext {
    /// Parse the context of the running process: its environment and `argv[0]`.
    pub fn from_process_env() -> Result<Self, ContextError> {
        let argv0 = std::env::args_os().next();
        Self::from_lookup(|k| std::env::var_os(k), argv0.as_deref())
    }

    /// Parse a context from any variable lookup and program name (the testable core of
    /// [`HookContext::from_process_env`]).
    pub fn from_lookup<F>(lookup: F, argv0: Option<&OsStr>) -> Result<Self, ContextError>
    where
        F: Fn(&str) -> Option<OsString>,
    {
        let vars = Vars { lookup };
        let dispatch_path = match vars.get("JUJU_DISPATCH_PATH")? {
            Some(p) => p,
            None => dispatch_path_from_argv0(argv0)?,
        };
        let (location, name) = split_dispatch_path(&dispatch_path)?;

        let unit_raw = vars.require_non_empty("JUJU_UNIT_NAME", "hook and action")?;
        let unit: UnitName = unit_raw.parse().map_err(|e: crate::names::NameError| {
            malformed("JUJU_UNIT_NAME", &unit_raw, e.reason)
        })?;
        let model_name = vars.require_non_empty("JUJU_MODEL_NAME", "hook and action")?;
        let model_uuid = vars.get("JUJU_MODEL_UUID")?.filter(|s| !s.is_empty());
        let charm_dir = match vars.get("JUJU_CHARM_DIR")? {
            Some(d) => d,
            None => vars.get("CHARM_DIR")?.ok_or(ContextError::Missing {
                var: "JUJU_CHARM_DIR",
                needed_for: "hook and action",
            })?,
        };
        if charm_dir.is_empty() || !Path::new(&charm_dir).is_absolute() {
            return Err(malformed(
                "JUJU_CHARM_DIR",
                &charm_dir,
                "expected an absolute path",
            ));
        }
        let version_raw = vars.require_non_empty("JUJU_VERSION", "hook and action")?;
        let juju_version: JujuVersion =
            version_raw.parse().map_err(|e: crate::names::NameError| {
                malformed("JUJU_VERSION", &version_raw, e.reason)
            })?;

        let event = match location {
            Location::Actions => parse_action(&vars, name)?,
            Location::Hooks => parse_hook(&vars, name)?,
        };
        Ok(HookContext {
            unit,
            model_name,
            model_uuid,
            charm_dir: PathBuf::from(charm_dir),
            juju_version,
            dispatch_path,
            event,
        })
    }

    /// This unit's application name.
    pub fn app(&self) -> &str {
        self.unit.app()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Hooks,
    Actions,
}

/// The legacy form: Juju < 2.8 runs `<charm dir>/hooks/<hook>` (often a symlink to dispatch).
fn dispatch_path_from_argv0(argv0: Option<&OsStr>) -> Result<String, ContextError> {
    let shown = argv0
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let no_path = || ContextError::NoDispatchPath {
        argv0: shown.clone(),
    };
    let path = Path::new(argv0.ok_or_else(no_path)?);
    let name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(no_path)?;
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .ok_or_else(no_path)?;
    match parent {
        "hooks" | "actions" => Ok(format!("{parent}/{name}")),
        _ => Err(no_path()),
    }
}

fn split_dispatch_path(path: &str) -> Result<(Location, &str), ContextError> {
    let bad = |reason: &str| malformed("JUJU_DISPATCH_PATH", path, reason);
    let (dir, name) = path
        .split_once('/')
        .ok_or_else(|| bad("expected hooks/<hook> or actions/<action>"))?;
    let location = match dir {
        "hooks" => Location::Hooks,
        "actions" => Location::Actions,
        _ => return Err(bad("expected hooks/<hook> or actions/<action>")),
    };
    let name_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !name_ok {
        return Err(bad(
            "the event name must be letters, digits, '-', '_' and '.', starting with a letter or digit",
        ));
    }
    Ok((location, name))
}

fn parse_action<F: Fn(&str) -> Option<OsString>>(
    vars: &Vars<F>,
    name: &str,
) -> Result<Event, ContextError> {
    if let Some(declared) = vars.get("JUJU_ACTION_NAME")? {
        if !declared.is_empty() && declared != name {
            return Err(malformed(
                "JUJU_ACTION_NAME",
                &declared,
                format!("does not match the action in JUJU_DISPATCH_PATH ({name:?})"),
            ));
        }
    }
    let id = vars.require_non_empty("JUJU_ACTION_UUID", "action")?;
    Ok(Event::Action(ActionEvent {
        name: name.to_owned(),
        id,
    }))
}

fn parse_hook<F: Fn(&str) -> Option<OsString>>(
    vars: &Vars<F>,
    name: &str,
) -> Result<Event, ContextError> {
    let simple = match name {
        "install" => Some(Event::Install),
        "start" => Some(Event::Start),
        "stop" => Some(Event::Stop),
        "remove" => Some(Event::Remove),
        "config-changed" => Some(Event::ConfigChanged),
        "leader-elected" => Some(Event::LeaderElected),
        "leader-settings-changed" => Some(Event::LeaderSettingsChanged),
        "upgrade-charm" => Some(Event::UpgradeCharm),
        "update-status" => Some(Event::UpdateStatus),
        _ => None,
    };
    if let Some(e) = simple {
        return Ok(e);
    }
    for kind in RelationEventKind::ALL {
        let suffix = format!("-relation-{}", kind.as_str());
        if let Some(endpoint) = name.strip_suffix(&suffix) {
            if !endpoint.is_empty() {
                return parse_relation(vars, endpoint, kind).map(Event::Relation);
            }
        }
    }
    Ok(Event::Other {
        hook: name.to_owned(),
    })
}

fn parse_relation<F: Fn(&str) -> Option<OsString>>(
    vars: &Vars<F>,
    endpoint: &str,
    kind: RelationEventKind,
) -> Result<RelationEvent, ContextError> {
    const FOR: &str = "relation hook";
    let rel_name = vars.require("JUJU_RELATION", FOR)?;
    if rel_name != endpoint {
        return Err(malformed(
            "JUJU_RELATION",
            &rel_name,
            format!("does not match the endpoint of the hook ({endpoint:?})"),
        ));
    }
    let rel_raw = vars.require_non_empty("JUJU_RELATION_ID", FOR)?;
    // Juju prints `<endpoint>:<id>`; accept a bare number as well, like the hook tools do.
    let relation = if rel_raw.bytes().all(|b| b.is_ascii_digit()) {
        let id = rel_raw
            .parse::<u64>()
            .map_err(|_| malformed("JUJU_RELATION_ID", &rel_raw, "the number is too large"))?;
        RelationId::new(endpoint, id).map_err(|e| malformed("JUJU_RELATION", endpoint, e.reason))?
    } else {
        let r: RelationId = rel_raw.parse().map_err(|e: crate::names::NameError| {
            malformed("JUJU_RELATION_ID", &rel_raw, e.reason)
        })?;
        if r.endpoint() != endpoint {
            return Err(malformed(
                "JUJU_RELATION_ID",
                &rel_raw,
                format!("names another endpoint than the hook ({endpoint:?})"),
            ));
        }
        r
    };
    let remote_app = vars.require("JUJU_REMOTE_APP", FOR)?;
    if !remote_app.is_empty() && !crate::names::is_valid_app_name(&remote_app) {
        return Err(malformed(
            "JUJU_REMOTE_APP",
            &remote_app,
            "expected an application name",
        ));
    }
    let remote_unit = match kind {
        RelationEventKind::Joined | RelationEventKind::Changed | RelationEventKind::Departed => {
            // Juju exports it for every relation hook, empty when there is no remote unit.
            vars.require("JUJU_REMOTE_UNIT", FOR)?;
            vars.unit("JUJU_REMOTE_UNIT")?
        }
        RelationEventKind::Created | RelationEventKind::Broken => vars.unit("JUJU_REMOTE_UNIT")?,
    };
    if matches!(
        kind,
        RelationEventKind::Joined | RelationEventKind::Departed
    ) && remote_unit.is_none()
    {
        return Err(malformed(
            "JUJU_REMOTE_UNIT",
            "",
            format!("relation-{} needs the unit it is about", kind.as_str()),
        ));
    }
    // Juju >= 2.8 sets it for relation-departed; older agents do not, so it stays optional.
    let departing_unit = match kind {
        RelationEventKind::Departed => vars.unit("JUJU_DEPARTING_UNIT")?,
        _ => None,
    };
    Ok(RelationEvent {
        kind,
        relation,
        remote_app,
        remote_unit,
        departing_unit,
    })
}
