//! Unit states, substrates and the derived cluster state.

use std::fmt;
use std::str::FromStr;

/// Where the application runs: the two substrates take different upgrade paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Substrate {
    /// Machines: units upgrade one at a time in the order of the charm's upgrade stack.
    Vm,
    /// Kubernetes: pods are recreated by the StatefulSet's rolling update, highest ordinal
    /// first, paced by the update partition.
    K8s,
}

impl Substrate {
    /// `vm` or `k8s`, as the reference spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Substrate::Vm => "vm",
            Substrate::K8s => "k8s",
        }
    }
}

impl FromStr for Substrate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vm" => Ok(Substrate::Vm),
            "k8s" => Ok(Substrate::K8s),
            other => Err(format!("unknown substrate {other:?}: expected vm or k8s")),
        }
    }
}

/// When a refresh waits for the operator's `resume-upgrade`: the value of the config option
/// [`PAUSE_CONFIG`](crate::PAUSE_CONFIG) (`pause-after-unit-refresh`, after charm-refresh v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PausePolicy {
    /// After every refreshed unit.
    All,
    /// After the first refreshed unit only.
    First,
    /// Never.
    None,
}

impl PausePolicy {
    /// The policy when the option is unset: what the reference does on `substrate`
    /// (Kubernetes waits for `resume-upgrade` after the first pod, machines never wait).
    pub fn default_for(substrate: Substrate) -> Self {
        match substrate {
            Substrate::K8s => PausePolicy::First,
            Substrate::Vm => PausePolicy::None,
        }
    }

    /// `all`, `first` or `none`, as the option is spelled.
    pub fn as_str(self) -> &'static str {
        match self {
            PausePolicy::All => "all",
            PausePolicy::First => "first",
            PausePolicy::None => "none",
        }
    }

    /// The policy an option value asks for: `Ok(None)` when unset or empty (the substrate's
    /// default applies), `Err` with the value when it is none of the three.
    pub fn from_config(value: Option<&str>) -> Result<Option<Self>, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some("all") => Ok(Some(PausePolicy::All)),
            Some("first") => Ok(Some(PausePolicy::First)),
            Some("none") => Ok(Some(PausePolicy::None)),
            Some(other) => Err(other.to_owned()),
        }
    }

    /// What the operator reads about it (the pre-check's result).
    pub fn describe(self) -> &'static str {
        match self {
            PausePolicy::All => "the upgrade pauses after every unit until you run resume-upgrade",
            PausePolicy::First => {
                "the upgrade pauses after the first unit until you run resume-upgrade"
            }
            PausePolicy::None => "the upgrade does not pause between units",
        }
    }
}

/// A unit's upgrade state, the value of its `state` key. Declared lowest ("furthest behind")
/// first: the cluster state is the minimum over all units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitState {
    /// The leader prepared a rollback (`pre-upgrade-check` on a failed cluster).
    Recovery,
    /// The unit's upgrade failed.
    Failed,
    /// No upgrade going on.
    Idle,
    /// Refreshed, waiting for its turn.
    Ready,
    /// Upgrading now.
    Upgrading,
    /// Upgraded.
    Completed,
}

impl UnitState {
    /// Every state, lowest first.
    pub const ALL: [UnitState; 6] = [
        UnitState::Recovery,
        UnitState::Failed,
        UnitState::Idle,
        UnitState::Ready,
        UnitState::Upgrading,
        UnitState::Completed,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Recovery => "recovery",
            UnitState::Failed => "failed",
            UnitState::Idle => "idle",
            UnitState::Ready => "ready",
            UnitState::Upgrading => "upgrading",
            UnitState::Completed => "completed",
        }
    }

    /// Parses a wire value exactly (the reference is case-sensitive).
    pub fn parse(s: &str) -> Option<UnitState> {
        UnitState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reference's `cluster_state`: the lowest state over all units, or `None` when any unit
/// has no state or one the protocol does not know (or there are no units).
pub fn cluster_state<'a>(states: impl IntoIterator<Item = Option<&'a str>>) -> Option<UnitState> {
    let mut lowest: Option<UnitState> = None;
    for raw in states {
        let state = UnitState::parse(raw?)?;
        lowest = Some(lowest.map_or(state, |l| l.min(state)));
    }
    lowest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_state_is_the_lowest_known_state() {
        assert_eq!(
            cluster_state([Some("completed"), Some("ready")]),
            Some(UnitState::Ready)
        );
        assert_eq!(
            cluster_state([Some("failed"), Some("recovery")]),
            Some(UnitState::Recovery)
        );
        assert_eq!(cluster_state([Some("idle"), None]), None);
        assert_eq!(cluster_state([Some("idle"), Some("IDLE")]), None);
        assert_eq!(cluster_state([Some("idle"), Some("")]), None);
        assert_eq!(cluster_state(std::iter::empty()), None);
        for s in UnitState::ALL {
            assert_eq!(UnitState::parse(s.as_str()), Some(s));
            assert_eq!(
                cluster_state([Some(s.as_str()), Some("completed")]),
                Some(s)
            );
        }
    }
}
