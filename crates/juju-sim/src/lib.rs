//! A local Juju model for the upgrade coordinator: the real `dispatch` binary of every unit
//! runs against fake hook tools backed by the simulator's model, with Juju's semantics
//! (transactional hooks, `relation-changed` fan-out, retries), a seeded scheduler, faults and
//! the protocol's invariants checked after every hook.
#![warn(missing_docs)]

pub mod explore;
pub mod k8s;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod tool;
pub mod wire;
