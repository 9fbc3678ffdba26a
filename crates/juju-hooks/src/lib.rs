//! Everything about talking to Juju from a compiled charm, and nothing about upgrades.
//!
//! - [`context`]: the hook context and the typed [`Event`], parsed from the environment.
//! - [`tools`]: the [`HookTools`] trait, one method per hook-tool call, and its types.
//! - [`process`]: [`ProcessHookTools`], the real commands (no shell, data on stdin).
//! - [`fake`]: [`FakeHookTools`], an in-memory stand-in with Juju's commit semantics.
//! - [`model`]: [`Model`], one dispatch's cached reads and staged writes.
//! - [`dispatch`](mod@dispatch): the [`Charm`] trait, deferred events, and [`dispatch()`].
//! - [`harness`]: a whole charm under test, state in, event, state out, over the fake.
//!
//! ```
//! use juju_hooks::{dispatch, Charm, Event, FakeHookTools, FakeState, Handled, HookContext, Model, Status};
//!
//! struct Hello;
//! impl Charm for Hello {
//!     type Error = juju_hooks::ModelError;
//!     fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, Self::Error> {
//!         if *event == Event::Start {
//!             model.set_status(Status::Active(String::new()));
//!         }
//!         Ok(Handled::Done)
//!     }
//! }
//!
//! let env = |k: &str| match k {
//!     "JUJU_DISPATCH_PATH" => Some("hooks/start".into()),
//!     "JUJU_UNIT_NAME" => Some("hello/0".into()),
//!     "JUJU_MODEL_NAME" => Some("dev".into()),
//!     "JUJU_CHARM_DIR" => Some("/var/lib/juju/agents/unit-hello-0/charm".into()),
//!     "JUJU_VERSION" => Some("3.6.7".into()),
//!     _ => None,
//! };
//! let ctx = HookContext::from_lookup(env, None).unwrap();
//! let tools = FakeHookTools::new(FakeState::new(ctx.unit.clone()));
//! dispatch(&ctx, &tools, &mut Hello).unwrap();
//! assert_eq!(tools.state().unit_status, Some(Status::Active(String::new())));
//! ```
#![warn(missing_docs)]

/// The examples of the crate's README, compiled (and run where they can) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod context;
pub mod dispatch;
pub mod fake;
pub mod harness;
pub mod hints;
pub mod model;
pub mod names;
pub mod process;
pub mod testing;
pub mod tools;

pub use context::{
    ActionEvent, ContextError, Event, HookContext, RelationEvent, RelationEventKind,
};
pub use dispatch::{dispatch, Charm, DispatchError, DispatchReport, Handled, DEFERRED_KEY};
pub use fake::{FakeHookTools, FakeState};
pub use hints::{Hints, HINTS_FILE};
pub use model::{FlushReport, Model, ModelError, ModelResult};
pub use names::{JujuVersion, NameError, RelationId, UnitName};
pub use process::ProcessHookTools;
pub use tools::{
    Bag, GoalState, GoalStatus, HookToolError, HookTools, LogLevel, Status, StatusInfo,
    StatusScope, StringMap, WriteTarget,
};
