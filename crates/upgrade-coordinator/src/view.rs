//! What the coordinator can see of the world, and an in-memory stand-in.
//!
//! The coordinator never runs a process: it asks a [`View`] for the relation data it needs,
//! at the moment it needs it, so that a dispatch that does not need a peer's databag never
//! reads it. The charm's shell implements [`View`] over Juju's hook tools; tests, the
//! simulator and benchmarks use [`Snapshot`].

use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;

use juju_hooks::{StringMap, UnitName};

/// Read access to the peer relation and the unit's situation. Each method is called at most
/// once per dispatch for the same argument (the coordinator caches).
pub trait View {
    /// Why a read failed (a hook-tool failure in the real charm). Such a failure fails the
    /// hook, so that Juju retries it.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Does the peer relation exist yet?
    fn has_relation(&mut self) -> Result<bool, Self::Error>;
    /// Is this unit the leader?
    fn is_leader(&mut self) -> Result<bool, Self::Error>;
    /// The other units in the peer relation (`relation-list`), not including this one.
    fn peers(&mut self) -> Result<Vec<UnitName>, Self::Error>;
    /// A unit's databag in the peer relation (this unit's or a peer's).
    fn unit_data(&mut self, unit: &UnitName) -> Result<StringMap, Self::Error>;
    /// The application databag of the peer relation.
    fn app_data(&mut self) -> Result<StringMap, Self::Error>;
    /// How many units the application will have (`goal-state`, not counting dying units):
    /// ops' `planned_units()`.
    fn planned_units(&mut self) -> Result<usize, Self::Error>;

    /// The unit status this unit shows now, if known without asking Juju (default: unknown).
    fn current_status(&mut self) -> Result<Option<juju_hooks::Status>, Self::Error> {
        Ok(None)
    }

    /// The value of the charm's config option `key` (`config-get`), as text; `None` when
    /// unset. Default: every option unset.
    fn config_value(&mut self, key: &str) -> Result<Option<String>, Self::Error> {
        let _ = key;
        Ok(None)
    }

    /// Shows `status` at once, before the dispatch ends (`status-set` is immediate in Juju):
    /// for long work the operator should see happen, such as a workload upgrade. The final
    /// status is still the one in [`Effects`](crate::Effects). Default: nothing to show it on.
    fn publish_status(&mut self, status: &juju_hooks::Status) -> Result<(), Self::Error> {
        let _ = status;
        Ok(())
    }
}

/// An in-memory [`View`]: the state of one unit's world, for tests, the simulator and
/// benchmarks. It counts the databags read, so tests can assert that a dispatch read only
/// what it needed.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Whether the peer relation exists.
    pub relation: bool,
    /// Whether this unit leads.
    pub leader: bool,
    /// Databags of the units in the relation, this unit's included.
    pub units: BTreeMap<UnitName, StringMap>,
    /// Units listed by `relation-list` (defaults to every unit of `units` but `me`).
    pub peers: Option<Vec<UnitName>>,
    /// This unit.
    pub me: Option<UnitName>,
    /// The application databag.
    pub app: StringMap,
    /// `planned_units()`; defaults to the number of units in `units`.
    pub planned_units: Option<usize>,
    /// The status this unit shows (`View::current_status`).
    pub status: Option<juju_hooks::Status>,
    /// The charm's config (`View::config_value`).
    pub config: StringMap,
    /// Statuses published during the dispatch (`View::publish_status`), in order.
    pub published: Vec<juju_hooks::Status>,
    reads: Cell<usize>,
}

impl Snapshot {
    /// A snapshot seen from `me`.
    pub fn new(me: UnitName) -> Self {
        let mut units = BTreeMap::new();
        units.insert(me.clone(), StringMap::new());
        Snapshot {
            relation: true,
            me: Some(me),
            units,
            ..Snapshot::default()
        }
    }

    /// How many unit or app databags were read so far.
    pub fn bag_reads(&self) -> usize {
        self.reads.get()
    }
}

impl View for Snapshot {
    type Error = Infallible;

    fn has_relation(&mut self) -> Result<bool, Infallible> {
        Ok(self.relation)
    }

    fn is_leader(&mut self) -> Result<bool, Infallible> {
        Ok(self.leader)
    }

    fn peers(&mut self) -> Result<Vec<UnitName>, Infallible> {
        if !self.relation {
            return Ok(Vec::new());
        }
        Ok(match &self.peers {
            Some(p) => p.clone(),
            None => self
                .units
                .keys()
                .filter(|u| Some(*u) != self.me.as_ref())
                .cloned()
                .collect(),
        })
    }

    fn unit_data(&mut self, unit: &UnitName) -> Result<StringMap, Infallible> {
        self.reads.set(self.reads.get() + 1);
        Ok(self.units.get(unit).cloned().unwrap_or_default())
    }

    fn app_data(&mut self) -> Result<StringMap, Infallible> {
        self.reads.set(self.reads.get() + 1);
        Ok(self.app.clone())
    }

    fn planned_units(&mut self) -> Result<usize, Infallible> {
        Ok(self.planned_units.unwrap_or(self.units.len()))
    }

    fn current_status(&mut self) -> Result<Option<juju_hooks::Status>, Infallible> {
        Ok(self.status.clone())
    }

    fn config_value(&mut self, key: &str) -> Result<Option<String>, Infallible> {
        Ok(self.config.get(key).cloned())
    }

    fn publish_status(&mut self, status: &juju_hooks::Status) -> Result<(), Infallible> {
        self.published.push(status.clone());
        Ok(())
    }
}
