//! A local Juju model for the upgrade coordinator: the real `dispatch` binary of every unit
//! runs against fake hook tools backed by the simulator's model, with Juju's semantics
//! (transactional hooks, `relation-changed` fan-out, retries), a seeded scheduler, faults and
//! the protocol's invariants checked after every hook.
//!
//! Run as `juju` (or `juju-sim juju ...`) it is also a `juju` command line over such a model
//! that lives between commands ([`juju`], [`server`]): what jubilant and the integration
//! suite drive.
//!
//! # The charm contract
//!
//! `juju-sim` runs any charm that follows this contract (`--charm DIR|FILE.charm`, with
//! `--to-charm` for a refresh to another charm); the reference charm and `examples/kv-charm`
//! follow it. A charm built on `upgrade_coordinator::InPlaceUpgrade` gets the first four
//! points for free.
//!
//! 1. **The charm.** A directory (or a packed `.charm`, a zip) with an executable `dispatch`
//!    and a `metadata.yaml` whose `name` names the application (`juju deploy` does the same).
//!    Each unit gets a copy of the files; `versions.json` and `.juju-charm` are the
//!    revision's (`ch:amd64/noble/<name>-<revision>`). `dispatch` runs with the environment
//!    the unit agent builds (`JUJU_DISPATCH_PATH`, `JUJU_UNIT_NAME`, `JUJU_CHARM_DIR`,
//!    `JUJU_VERSION` 3.6.7, the relation and action variables) and the hook tools on `PATH`.
//! 2. **The upgrade.** The peer relation's endpoint is `upgrade`; the actions are
//!    `pre-upgrade-check`, `resume-upgrade` and `force-upgrade`, with the parameters of
//!    the project's `actions.yaml`.
//! 3. **The revisions.** Each revision's versions file has a `workload` entry whose
//!    `version` is the workload version a unit runs on it. The simulator's own are workload
//!    1.0.0 (revision 1), 1.1.0 (revision 2) and 3.0.0, which needs 2.x first (revision 3,
//!    the incompatible refresh); `--versions` and `--to-versions` give others.
//! 4. **The substrate.** `UPGRADE_COORDINATOR_SUBSTRATE` is `vm` or `k8s`. On Kubernetes the
//!    StatefulSet lives on the simulator's API server: `UPGRADE_COORDINATOR_K8S_API` (its
//!    URL) and `UPGRADE_COORDINATOR_K8S_ACCOUNT_DIR` (a `token`); it answers the partition
//!    patch and `SelfSubjectAccessReview`s.
//! 5. **The workload.** `UPGRADE_COORDINATOR_WORKLOAD_DIR` is the unit's workload
//!    directory (the machine, or the pod's volume). The charm keeps there:
//!    - `version`: the workload version installed (the simulator counts upgrades by it and
//!      checks it against the revision's);
//!    - `running`: present while the workload serves.
//!
//!    The simulator injects faults through it: `fail-install` holding a version (installing
//!    that version must fail: `--fault fail-upgrade:N`); `running` removed and an
//!    `update-status` queued (`--fault unhealthy:N`: the unit's health, published as
//!    `workload-health` in its peer databag, must then say so and the pre-check refuse);
//!    `running` written back with the installed version (healed).
//! 6. **What Juju shows.** At the end every unit is `idle`, Active, and shows the
//!    revision's workload version (`application-version-set`), which must never disagree
//!    with `version` after a hook.
#![warn(missing_docs)]

pub mod charm;
pub mod explore;
pub mod juju;
pub mod k8s;
pub mod scenario;
pub mod server;
pub mod sim;
pub mod sweep;
pub mod tool;
pub mod wire;
