//! What a unit remembers between dispatches to spare hook-tool calls, in
//! `$JUJU_CHARM_DIR/.juju-hooks.json` (beside where ops keeps its own state, and like it,
//! kept across `juju refresh`).
//!
//! Nothing here is needed for correctness: each entry is either a fact that stays true once
//! learned (the id of a peer relation: it lives as long as the application) or a flag whose
//! staleness only costs a call (`maybe_deferred` is set before a queue can exist and cleared
//! only after the committed charm state was seen empty). A missing or unreadable file means
//! "know nothing": every call is made, as without hints.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's name in the charm directory.
pub const HINTS_FILE: &str = ".juju-hooks.json";

/// The remembered facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    /// Format version (1).
    #[serde(default)]
    pub v: u32,
    /// Peer relations by endpoint, e.g. `upgrade` -> `upgrade:3`.
    #[serde(default)]
    pub peer_relations: BTreeMap<String, String>,
    /// A deferred-event queue may be stored in charm state: read it.
    #[serde(default)]
    pub maybe_deferred: bool,
    /// Send DEBUG log lines to `juju-log` (Juju's default model logging level drops them).
    #[serde(default)]
    pub debug_logs: bool,
    /// The unit status this unit last set (name, message), when known for sure.
    #[serde(default)]
    pub unit_status: Option<(String, String)>,
    /// The application status this unit last set as leader (forgotten at leader-elected).
    #[serde(default)]
    pub app_status: Option<(String, String)>,
}

impl Hints {
    /// Reads the hints of `charm_dir`; a problem other than "no file yet" is returned for
    /// the log (and the hints start empty).
    pub fn load(charm_dir: &Path) -> (Hints, Option<String>) {
        let path = charm_dir.join(HINTS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str::<Hints>(&text) {
                Ok(h) => (h, None),
                Err(e) => (
                    Hints::default(),
                    Some(format!("ignoring unreadable {} ({e})", path.display())),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Hints::default(), None),
            Err(e) => (
                Hints::default(),
                Some(format!("cannot read {} ({e})", path.display())),
            ),
        }
    }

    /// Writes the hints atomically (a temporary file renamed over the old one).
    pub fn save(&self, charm_dir: &Path) -> std::io::Result<()> {
        let path = charm_dir.join(HINTS_FILE);
        let tmp = charm_dir.join(format!("{HINTS_FILE}.tmp"));
        let mut h = self.clone();
        h.v = 1;
        let text = serde_json::to_string(&h).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Hints::load(dir.path()), (Hints::default(), None));
        let mut h = Hints::default();
        h.peer_relations
            .insert("upgrade".into(), "upgrade:3".into());
        h.maybe_deferred = true;
        h.save(dir.path()).unwrap();
        let (back, problem) = Hints::load(dir.path());
        assert!(problem.is_none());
        assert_eq!(back.peer_relations["upgrade"], "upgrade:3");
        assert!(back.maybe_deferred && back.v == 1);
        std::fs::write(dir.path().join(HINTS_FILE), "{not json").unwrap();
        let (back, problem) = Hints::load(dir.path());
        assert_eq!(back, Hints::default());
        assert!(problem.unwrap().contains("unreadable"));
    }
}
