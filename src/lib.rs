//! The reference charm: what `dispatch` runs for every hook and action.
//!
//! Today it is the skeleton the upgrade coordinator (issue 4) plugs into: it routes every
//! [`Event`] through [`juju_hooks::dispatch()`], sets the unit's status on install and start,
//! defers `upgrade-charm` until the peer relation exists (as the reference library does), and
//! answers the two upgrade actions with a clear failure until the coordinator lands. Hooks it
//! has no use for are logged and acknowledged (exit 0), never errors.

use juju_hooks::{Charm, Event, Handled, LogLevel, Model, ModelError, Status};

/// The peer relation the upgrade coordinator talks over (`metadata.yaml`).
pub const PEER_RELATION: &str = "upgrade";

/// The actions declared in `actions.yaml`.
pub const ACTIONS: [&str; 2] = ["pre-upgrade-check", "resume-upgrade"];

/// Errors that fail a hook (Juju then retries it): only failures to talk to Juju.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// Reading from or staging a change for Juju failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The reference charm.
#[derive(Debug, Default)]
pub struct ReferenceCharm;

impl Charm for ReferenceCharm {
    type Error = CharmError;

    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, CharmError> {
        match event {
            Event::Install => model.set_status(Status::Maintenance("installing".into())),
            Event::Start => model.set_status(Status::Active(String::new())),
            Event::UpgradeCharm => {
                if model.relation(PEER_RELATION)?.is_none() {
                    model.log(
                        LogLevel::Debug,
                        "upgrade relation not yet available, deferring upgrade-charm",
                    );
                    return Ok(Handled::Defer);
                }
            }
            Event::Action(action) => {
                let message = if ACTIONS.contains(&action.name.as_str()) {
                    format!(
                        "The {} action needs the upgrade coordinator, which this build of the charm does not include yet.",
                        action.name
                    )
                } else {
                    format!(
                        "Unknown action {:?}: this charm has no such action.",
                        action.name
                    )
                };
                model.fail_action(&message)?;
            }
            Event::Other { hook } => {
                model.log(LogLevel::Debug, &format!("ignoring the {hook} hook"));
            }
            Event::Stop
            | Event::Remove
            | Event::ConfigChanged
            | Event::LeaderElected
            | Event::LeaderSettingsChanged
            | Event::UpdateStatus
            | Event::Relation(_) => {}
        }
        Ok(Handled::Done)
    }
}
