//! In-process exploration of event orders: the coordinator itself (no processes) under a
//! small Juju model, from a settled cluster through `pre-upgrade-check`, `juju refresh` and
//! the rolling upgrade. Every interleaving of the units' hooks is enumerated for small
//! clusters (states already seen are not expanded twice); larger clusters get many random
//! schedules. The same invariants as the process simulator are checked in every state.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use juju_hooks::{Status, UnitName};
use rand_core::{RngCore, SeedableRng};
use upgrade_coordinator::{
    handle, ClusterNotReady, DependencyError, DependencyModel, GrantOutcome, Snapshot, StackError,
    Substrate, UpgradeConfig, UpgradeContext, UpgradeEvent, UpgradeHooks,
};

use crate::scenario::{new_revision, old_revision};
use crate::wire::Bag;

const APP: &str = "upgrade-reference";

/// A hook waiting on a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ev {
    UpgradeCharm,
}

/// One unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct U {
    bag: Bag,
    queue: VecDeque<Ev>,
    /// relation-changed owed: remote unit index, or `usize::MAX` for the application bag.
    owed: BTreeSet<usize>,
    status: Option<(String, String)>,
    workload: String,
    upgrades: u8,
}

/// The whole model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct World {
    units: Vec<U>,
    app: Bag,
    leader: usize,
    /// The revision being moved to: its versions file and workload.
    versions: String,
    target: String,
    /// A unit whose workload upgrade fails (until cleared).
    fail: Option<usize>,
    /// Rolling back: the leader need not be last.
    rollback: bool,
}

/// The charm's hooks, in memory: a healthy cluster, the leader upgrades last, a granted
/// unit installs the target workload and completes.
struct MemHooks<'a> {
    workload: &'a mut String,
    upgrades: &'a mut u8,
    target: String,
    fails: bool,
}

impl UpgradeHooks for MemHooks<'_> {
    fn pre_upgrade_check(&mut self, _: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        Ok(())
    }
    fn build_upgrade_stack(&mut self, cx: &mut UpgradeContext<'_>) -> Result<Vec<u32>, StackError> {
        let mut stack = vec![cx.unit().number()];
        let mut others: Vec<u32> = cx.peers().iter().map(UnitName::number).collect();
        others.sort_unstable();
        stack.extend(others);
        Ok(stack)
    }
    fn on_upgrade_granted(
        &mut self,
        _: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        if self.fails {
            return Ok(GrantOutcome::Failed {
                cause: Some("injected".into()),
            });
        }
        *self.workload = self.target.clone();
        *self.upgrades += 1;
        Ok(GrantOutcome::Completed)
    }
    fn log_rollback_instructions(&mut self, _: &mut UpgradeContext<'_>) {}
}

/// Settings of an exploration.
#[derive(Debug, Clone)]
pub struct Explore {
    /// Units.
    pub units: usize,
    /// Exact DEBUG lines (the conformance path) or the production shortcut.
    pub exact_logs: bool,
}

/// What an exploration found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Findings {
    /// Distinct states visited.
    pub states: usize,
    /// Distinct end states (nothing pending).
    pub end_states: usize,
    /// Hooks run.
    pub hooks: usize,
    /// Random runs (0 when exhaustive).
    pub runs: usize,
    /// Violations, each with the hook sequence that led to it.
    pub violations: Vec<String>,
}

fn name(i: usize) -> UnitName {
    UnitName::new(APP, i as u32).expect("a valid unit name")
}

impl World {
    fn config(&self, exact: bool) -> UpgradeConfig {
        let model = DependencyModel::from_json(&self.versions).expect("a valid model");
        let mut c = UpgradeConfig::new(Substrate::Vm, model);
        c.exact_logs = exact;
        c
    }

    /// A settled cluster of `n` units (all idle, joined, old versions stored), after the
    /// leader's pre-upgrade-check and `juju refresh` (an upgrade-charm queued on each).
    pub fn refreshed(n: usize, exact: bool) -> World {
        let units = (0..n)
            .map(|_| U {
                bag: [("state".to_string(), "idle".to_string())].into(),
                queue: VecDeque::new(),
                owed: BTreeSet::new(),
                status: Some(("active".into(), String::new())),
                workload: old_revision().workload,
                upgrades: 0,
            })
            .collect();
        let mut w = World {
            units,
            app: [("dependencies".to_string(), old_revision().wire())].into(),
            leader: 0,
            versions: new_revision().versions,
            target: new_revision().workload,
            fail: None,
            rollback: false,
        };
        let fx = w.run(0, &UpgradeEvent::PreUpgradeCheck, exact);
        assert!(
            fx.action_failure.is_none(),
            "pre-upgrade-check: {:?}",
            fx.action_failure
        );
        for u in &mut w.units {
            u.queue.push_back(Ev::UpgradeCharm);
        }
        w
    }

    /// Runs `event` on unit `i` and commits: databags, status, fan-out.
    fn run(&mut self, i: usize, event: &UpgradeEvent, exact: bool) -> upgrade_coordinator::Effects {
        let mut snap = Snapshot::new(name(i));
        snap.leader = i == self.leader;
        for (j, u) in self.units.iter().enumerate() {
            snap.units.insert(name(j), u.bag.clone());
        }
        snap.app = self.app.clone();
        snap.status = self.units[i]
            .status
            .as_ref()
            .and_then(|(s, m)| Status::from_parts(s, m.clone()));
        let config = self.config(exact);
        let (mut workload, mut upgrades) = (self.units[i].workload.clone(), self.units[i].upgrades);
        let mut hooks = MemHooks {
            workload: &mut workload,
            upgrades: &mut upgrades,
            target: self.target.clone(),
            fails: self.fail == Some(i),
        };
        let fx = match handle(&config, &name(i), event, &mut snap, &mut hooks) {
            Ok(fx) => fx,
            Err(e) => match e.0 {},
        };
        self.units[i].workload = workload;
        self.units[i].upgrades = upgrades;
        let bag_changed = fx
            .unit_data
            .iter()
            .any(|(k, v)| self.units[i].bag.get(k) != Some(v));
        let app_changed = fx.app_data.iter().any(|(k, v)| self.app.get(k) != Some(v));
        self.units[i].bag.extend(fx.unit_data.clone());
        self.app.extend(fx.app_data.clone());
        if let Some(s) = &fx.status {
            self.units[i].status = Some((s.name().to_owned(), s.message().to_owned()));
        }
        for j in 0..self.units.len() {
            if j == i {
                continue;
            }
            if bag_changed {
                self.units[j].owed.insert(i);
            }
            if app_changed && j != self.leader {
                self.units[j].owed.insert(usize::MAX);
            }
        }
        fx
    }

    fn pending(&self, i: usize) -> bool {
        !self.units[i].queue.is_empty() || !self.units[i].owed.is_empty()
    }

    /// Runs unit `i`'s next hook (lifecycle first, then the application bag's change, then
    /// the lowest unit's); returns its name.
    fn step(&mut self, i: usize, exact: bool) -> String {
        if let Some(ev) = self.units[i].queue.pop_front() {
            match ev {
                Ev::UpgradeCharm => {
                    self.run(i, &UpgradeEvent::UpgradeCharm, exact);
                    return format!("{i}:upgrade-charm");
                }
            }
        }
        // usize::MAX (the application bag) sorts last but goes first.
        let owed = &self.units[i].owed;
        let remote = if owed.contains(&usize::MAX) {
            usize::MAX
        } else {
            owed.iter().next().copied().unwrap_or(usize::MAX)
        };
        self.units[i].owed.remove(&remote);
        self.run(i, &UpgradeEvent::RelationChanged, exact);
        if remote == usize::MAX {
            format!("{i}:changed(app)")
        } else {
            format!("{i}:changed({remote})")
        }
    }

    fn state(&self, i: usize) -> &str {
        self.units[i]
            .bag
            .get("state")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Invariants that hold in every state.
    fn check(&self) -> Option<String> {
        let upgrading = (0..self.units.len())
            .filter(|&i| self.state(i) == "upgrading")
            .count();
        if upgrading > 1 {
            return Some(format!("{upgrading} units upgrading at once"));
        }
        if let Some(i) = self.units.iter().position(|u| u.upgrades > 1) {
            return Some(format!("unit {i} upgraded twice"));
        }
        let target = &self.target;
        if !self.rollback
            && self.units[self.leader].workload == *target
            && self.units.iter().any(|u| u.workload != *target)
        {
            return Some("the leader upgraded before another unit".into());
        }
        None
    }

    /// The end state: every unit idle, Active, upgraded once; the new versions stored.
    fn check_end(&self) -> Option<String> {
        for (i, u) in self.units.iter().enumerate() {
            if self.state(i) != "idle"
                || u.status.as_ref().map(|s| s.0.as_str()) != Some("active")
                || u.workload != self.target
                || (!self.rollback && u.upgrades != 1)
            {
                return Some(format!(
                    "end: unit {i} is {:?} / {:?} after {} upgrades",
                    self.state(i),
                    u.status,
                    u.upgrades
                ));
            }
        }
        let wire = DependencyModel::from_json(&self.versions)
            .map(|m| m.to_wire())
            .unwrap_or_default();
        if self.app.get("dependencies") != Some(&wire) {
            return Some("end: the target versions are not the stored ones".into());
        }
        None
    }

    /// An upgrade in which unit `fail` fails (run in FIFO order until it has), then the
    /// operator's rollback: `pre-upgrade-check` on the leader and a refresh back to the old
    /// revision (an upgrade-charm queued on each unit). Exploring from here covers every
    /// order of the rollback's hooks.
    pub fn failed_then_rolling_back(n: usize, fail: usize, exact: bool) -> World {
        let mut w = World::refreshed(n, exact);
        w.fail = Some(fail);
        let mut guard = 0;
        while (0..n).any(|i| w.pending(i)) && guard < 10_000 {
            let i = (0..n).find(|&i| w.pending(i)).expect("pending");
            w.step(i, exact);
            guard += 1;
        }
        assert_eq!(w.state(fail), "failed", "unit {fail} should have failed");
        w.fail = None;
        let fx = w.run(w.leader, &UpgradeEvent::PreUpgradeCheck, exact);
        assert!(fx.action_failure.is_none(), "{:?}", fx.action_failure);
        w.versions = old_revision().versions;
        w.target = old_revision().workload;
        w.rollback = true;
        for u in &mut w.units {
            u.queue.push_back(Ev::UpgradeCharm);
            u.upgrades = 0;
        }
        w
    }
}

/// Every interleaving of `cfg.units` units' hooks (depth-first over distinct states).
pub fn exhaustive(cfg: &Explore) -> Findings {
    exhaustive_from(cfg, World::refreshed(cfg.units, cfg.exact_logs))
}

/// Every interleaving from `start`.
pub fn exhaustive_from(cfg: &Explore, start: World) -> Findings {
    let mut f = Findings::default();
    let mut seen: HashSet<World> = HashSet::new();
    let mut stack: Vec<(World, Vec<String>)> = vec![(start, Vec::new())];
    while let Some((w, path)) = stack.pop() {
        if !seen.insert(w.clone()) {
            continue;
        }
        f.states += 1;
        let ready: Vec<usize> = (0..w.units.len()).filter(|&i| w.pending(i)).collect();
        if ready.is_empty() {
            f.end_states += 1;
            if let Some(v) = w.check_end() {
                f.violations.push(format!("{v} after {}", path.join(" ")));
            }
            continue;
        }
        if path.len() > 40 * cfg.units * cfg.units {
            f.violations.push(format!(
                "no end after {} hooks: {}",
                path.len(),
                path.join(" ")
            ));
            continue;
        }
        for i in ready {
            let mut next = w.clone();
            let hook = next.step(i, cfg.exact_logs);
            f.hooks += 1;
            let mut p = path.clone();
            p.push(hook);
            if let Some(v) = next.check() {
                f.violations.push(format!("{v} after {}", p.join(" ")));
                continue;
            }
            stack.push((next, p));
        }
        if f.violations.len() > 10 {
            break;
        }
    }
    f
}

/// `runs` random schedules from `seed`.
pub fn random(cfg: &Explore, seed: u64, runs: usize) -> Findings {
    let mut f = Findings {
        runs,
        ..Findings::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ends: BTreeMap<Vec<String>, ()> = BTreeMap::new();
    for run in 0..runs {
        let mut w = World::refreshed(cfg.units, cfg.exact_logs);
        let mut path = Vec::new();
        loop {
            let ready: Vec<usize> = (0..w.units.len()).filter(|&i| w.pending(i)).collect();
            if ready.is_empty() {
                if let Some(v) = w.check_end() {
                    f.violations.push(format!("run {run} (seed {seed}): {v}"));
                }
                break;
            }
            let i = ready[(rng.next_u64() % ready.len() as u64) as usize];
            path.push(w.step(i, cfg.exact_logs));
            f.hooks += 1;
            if let Some(v) = w.check() {
                f.violations.push(format!(
                    "run {run} (seed {seed}): {v} after {}",
                    path.join(" ")
                ));
                break;
            }
            if path.len() > 60 * cfg.units * cfg.units {
                f.violations.push(format!(
                    "run {run} (seed {seed}): no end after {} hooks",
                    path.len()
                ));
                break;
            }
        }
        ends.insert(path, ());
        if f.violations.len() > 10 {
            break;
        }
    }
    f.end_states = ends.len();
    f
}
