//! Running one dispatch: re-run deferred events, handle the current one, flush.
//!
//! Deferred events live in Juju's charm state (`state-get`/`state-set`) under
//! [`DEFERRED_KEY`]. Juju commits charm state in the same transaction as relation data and
//! only when the hook exits 0, so the queue can never disagree with the relation data: if a
//! dispatch fails half-way, neither its relation writes nor its changes to the queue exist,
//! and Juju re-runs the hook against the old queue. Nothing deferred is lost or run twice.

use serde::{Deserialize, Serialize};

use crate::context::{Event, HookContext};
use crate::hints::Hints;
use crate::model::{FlushReport, Model, ModelError};
use crate::tools::{HookTools, LogLevel};

/// The charm-state key holding the deferred-event queue. ops uses `#notices#` for its own
/// (JujuStorage) queue; this name cannot collide with it.
pub const DEFERRED_KEY: &str = "juju-hooks.deferred";

/// What a handler did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Handled {
    /// Done with it.
    Done,
    /// Not now: run it again at the start of the next dispatch, before that dispatch's own
    /// event (like ops' `event.defer()`). Actions cannot be deferred.
    Defer,
}

/// A charm: one method that handles every event.
pub trait Charm {
    /// The charm's error type. An error means a bug or an unexpected condition: the dispatch
    /// fails, nothing staged is written, and Juju retries the hook.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Handle `event`, reading and staging changes through `model`.
    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, Self::Error>;
}

/// The stored queue. Versioned so a later format can still read this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Queue {
    v: u32,
    events: Vec<Event>,
}

/// A dispatch failed; nothing it staged was written.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError<E: std::error::Error + 'static> {
    /// The charm's handler failed.
    #[error("handling {event}")]
    Charm {
        /// The event's name.
        event: String,
        /// What the charm reported.
        #[source]
        source: E,
    },
    /// Reading from or writing to Juju failed.
    #[error("{context}")]
    Model {
        /// What was being done.
        context: &'static str,
        /// The failure.
        #[source]
        source: ModelError,
    },
    /// A handler asked to defer an action; Juju gives actions no second run.
    #[error(
        "the {action} action cannot be deferred: report the problem with a failure message instead"
    )]
    ActionDeferred {
        /// The action's name.
        action: String,
    },
    /// The flag that a deferred event is stored could not be written to the charm directory.
    #[error("cannot record in {path} that an event is deferred")]
    Hints {
        /// The hints file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A handler deferred an event, but the agent has no charm state to keep it in.
    #[error("cannot defer {event}: Juju {version} has no charm state (needs 2.8 or later); failing the hook so Juju retries it")]
    NoCharmState {
        /// The event's name.
        event: String,
        /// The agent version.
        version: String,
    },
}

/// What a successful dispatch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Deferred events that were run again and completed.
    pub reemitted_done: usize,
    /// Deferred events still waiting after this dispatch.
    pub still_deferred: usize,
    /// Whether the current event was deferred.
    pub deferred_current: bool,
    /// Deferred events dropped because their relation no longer exists.
    pub dropped: usize,
    /// What the final flush wrote.
    pub flush: FlushReport,
}

fn model_err<E: std::error::Error>(
    context: &'static str,
) -> impl FnOnce(ModelError) -> DispatchError<E> {
    move |source| DispatchError::Model { context, source }
}

/// Run one dispatch of `ctx.event` for `charm` over `tools`.
///
/// The unit's [`Hints`] (in the charm directory) spare calls: the deferred-event queue is
/// read from charm state only when one may exist, or when the unit has no hints (a new unit,
/// or a charm directory recreated with a new pod: then the first dispatch reads it and
/// writes the hints), and peer relations are not looked up again once known.
pub fn dispatch<C: Charm>(
    ctx: &HookContext,
    tools: &dyn HookTools,
    charm: &mut C,
) -> Result<DispatchReport, DispatchError<C::Error>> {
    let action = match &ctx.event {
        Event::Action(a) => Some(a.name.clone()),
        _ => None,
    };
    let mut model = Model::new(tools, ctx.unit.clone(), ctx.event.name(), action);
    let (mut on_disk, problem) = Hints::load(&ctx.charm_dir);
    let hints_known = on_disk.v != 0;
    let mut hints = on_disk.clone();
    if ctx.event == Event::LeaderElected {
        // Another leader may have changed the application status meanwhile.
        hints.app_status = None;
    }
    model.apply_hints(&hints);
    if let Event::Relation(r) = &ctx.event {
        model.set_event_relation(r.relation.clone());
    }
    if let Some(problem) = problem {
        model.log(LogLevel::Warning, &problem);
    }
    let result = run(ctx, &mut model, charm, &hints, hints_known, &mut on_disk);
    let saved = on_disk;
    let forget_status = |mut h: Hints| {
        // Whether a status reached Juju is unknown now: forget it.
        if h.unit_status.take().is_some() {
            let _ = h.save(&ctx.charm_dir);
        }
    };
    match result {
        Ok(mut report) => match model.flush() {
            Ok(flush) => {
                let mut h = saved.clone();
                let pair =
                    |s: &crate::tools::Status| Some((s.name().to_owned(), s.message().to_owned()));
                if let Some(s) = &flush.unit_status_written {
                    h.unit_status = pair(s);
                }
                if let Some(s) = &flush.app_status_written {
                    h.app_status = pair(s);
                }
                if h != saved {
                    let _ = h.save(&ctx.charm_dir);
                }
                report.flush = flush;
                Ok(report)
            }
            Err(e) => {
                forget_status(saved);
                Err(DispatchError::Model {
                    context: "writing changes to Juju",
                    source: e,
                })
            }
        },
        Err(e) => {
            model.send_logs();
            forget_status(saved);
            Err(e)
        }
    }
}

fn run<C: Charm>(
    ctx: &HookContext,
    model: &mut Model<'_>,
    charm: &mut C,
    hints: &Hints,
    hints_known: bool,
    on_disk: &mut Hints,
) -> Result<DispatchReport, DispatchError<C::Error>> {
    let mut report = DispatchReport::default();
    let has_state = ctx.juju_version.has_charm_state();
    let read_now = has_state && (hints.maybe_deferred || !hints_known);
    let mut queue_read = read_now;
    let (mut queue, mut queue_changed) = if read_now {
        load_queue(model).map_err(model_err("reading deferred events"))?
    } else {
        (Queue::default(), false)
    };
    let queued_at_start = !queue.events.is_empty();

    // 1. Deferred events first, in the order they were deferred.
    let mut kept = Vec::with_capacity(queue.events.len());
    for event in std::mem::take(&mut queue.events) {
        if let Event::Relation(r) = &event {
            let live = model
                .relation_ids(r.relation.endpoint())
                .map_err(model_err("checking a deferred event's relation"))?;
            if !live.contains(&r.relation) {
                model.log(
                    LogLevel::Info,
                    &format!(
                        "dropping deferred {} event: relation {} no longer exists",
                        event.name(),
                        r.relation
                    ),
                );
                report.dropped += 1;
                queue_changed = true;
                continue;
            }
        }
        model.log(
            LogLevel::Debug,
            &format!("re-running deferred {} event", event.name()),
        );
        match charm.handle(&event, model) {
            Ok(Handled::Done) => {
                report.reemitted_done += 1;
                queue_changed = true;
            }
            Ok(Handled::Defer) => kept.push(event),
            Err(source) => {
                return Err(DispatchError::Charm {
                    event: format!("deferred {}", event.name()),
                    source,
                })
            }
        }
    }
    queue.events = kept;

    // 2. The event Juju sent.
    match charm.handle(&ctx.event, model) {
        Ok(Handled::Done) => {}
        Ok(Handled::Defer) => {
            if let Event::Action(a) = &ctx.event {
                return Err(DispatchError::ActionDeferred {
                    action: a.name.clone(),
                });
            }
            if !has_state {
                return Err(DispatchError::NoCharmState {
                    event: ctx.event.name(),
                    version: ctx.juju_version.to_string(),
                });
            }
            report.deferred_current = true;
            if !queue_read {
                // The hints said no queue; make sure before writing one over it.
                let (stored, changed) =
                    load_queue(model).map_err(model_err("reading deferred events"))?;
                queue_read = true;
                queue_changed |= changed;
                let mut merged = stored.events;
                merged.append(&mut queue.events);
                queue.events = merged;
            }
            // Like ops: an identical event already waiting is not queued twice.
            if !queue.events.contains(&ctx.event) {
                queue.events.push(ctx.event.clone());
                queue_changed = true;
            }
            model.log(
                LogLevel::Debug,
                &format!("deferring {} event", ctx.event.name()),
            );
        }
        Err(source) => {
            return Err(DispatchError::Charm {
                event: ctx.event.name(),
                source,
            })
        }
    }
    report.still_deferred = queue.events.len();

    // 3. Remember whether a queue may exist (before anything is written: if the writes then
    //    fail, the flag errs towards reading), then persist the queue with everything else.
    let mut new_hints = model.hints();
    new_hints.maybe_deferred = queued_at_start || !queue.events.is_empty();
    if !queue_read {
        new_hints.maybe_deferred |= hints.maybe_deferred;
    }
    if new_hints != *hints {
        if let Err(e) = new_hints.save(&ctx.charm_dir) {
            if new_hints.maybe_deferred && !hints.maybe_deferred {
                // Without the flag a later dispatch might not look for the queue.
                return Err(DispatchError::Hints {
                    path: ctx
                        .charm_dir
                        .join(crate::hints::HINTS_FILE)
                        .display()
                        .to_string(),
                    source: e,
                });
            }
            model.log(
                LogLevel::Warning,
                &format!("cannot save {}: {e}", crate::hints::HINTS_FILE),
            );
        } else {
            *on_disk = new_hints;
        }
    }
    if queue_changed {
        let value = if queue.events.is_empty() {
            None
        } else {
            queue.v = 1;
            Some(serde_json::to_string(&queue).expect("a queue of events always serialises"))
        };
        model
            .set_charm_state(DEFERRED_KEY, value)
            .map_err(model_err("storing deferred events"))?;
    }
    Ok(report)
}

/// Read the queue. An unreadable queue (written by a future version, or corrupted) is logged
/// with its content and replaced: the alternative is a charm that fails every hook forever.
fn load_queue(model: &mut Model<'_>) -> Result<(Queue, bool), ModelError> {
    let state = model.charm_state()?;
    let Some(raw) = state.get(DEFERRED_KEY) else {
        return Ok((Queue::default(), false));
    };
    match serde_json::from_str::<Queue>(raw) {
        Ok(q) if q.v == 1 => Ok((q, false)),
        Ok(q) => {
            model.log(
                LogLevel::Error,
                &format!(
                    "discarding deferred events stored in unknown format version {}: {raw}",
                    q.v
                ),
            );
            Ok((Queue::default(), true))
        }
        Err(e) => {
            model.log(
                LogLevel::Error,
                &format!("discarding unreadable deferred events ({e}): {raw}"),
            );
            Ok((Queue::default(), true))
        }
    }
}
