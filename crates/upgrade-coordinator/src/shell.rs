//! The imperative shell: runs the coordinator over a [`juju_hooks::Model`] (Juju's hook tools)
//! and applies its [`Effects`]. This is the only part of the crate that reaches Juju, and it
//! does so only through the model, which reads each databag at most once per dispatch and
//! writes each at most once, when the dispatch ends.

use juju_hooks::{Bag, Model, ModelError, RelationId, StringMap, UnitName, WriteTarget};

use crate::coordinator::{handle, UpgradeConfig, UpgradeEvent};
use crate::effects::Effects;
use crate::hooks::UpgradeHooks;
use crate::view::View;

/// A [`View`] of the peer relation through a [`Model`].
pub struct ModelView<'m, 't> {
    model: &'m mut Model<'t>,
    endpoint: &'m str,
    relation: Option<Option<RelationId>>,
}

impl<'m, 't> ModelView<'m, 't> {
    /// A view of the peer relation `endpoint` (e.g. `upgrade`).
    pub fn new(model: &'m mut Model<'t>, endpoint: &'m str) -> Self {
        ModelView {
            model,
            endpoint,
            relation: None,
        }
    }

    /// The peer relation, if it exists.
    pub fn relation(&mut self) -> Result<Option<RelationId>, ModelError> {
        if self.relation.is_none() {
            self.relation = Some(self.model.peer_relation(self.endpoint)?);
        }
        Ok(self.relation.clone().flatten())
    }
}

impl View for ModelView<'_, '_> {
    type Error = ModelError;

    fn has_relation(&mut self) -> Result<bool, ModelError> {
        Ok(self.relation()?.is_some())
    }

    fn is_leader(&mut self) -> Result<bool, ModelError> {
        self.model.is_leader()
    }

    fn peers(&mut self) -> Result<Vec<UnitName>, ModelError> {
        match self.relation()? {
            Some(rel) => self.model.relation_units(&rel),
            None => Ok(Vec::new()),
        }
    }

    fn unit_data(&mut self, unit: &UnitName) -> Result<StringMap, ModelError> {
        match self.relation()? {
            Some(rel) => self.model.relation_data(&rel, &Bag::Unit(unit.clone())),
            None => Ok(StringMap::new()),
        }
    }

    fn app_data(&mut self) -> Result<StringMap, ModelError> {
        match self.relation()? {
            Some(rel) => {
                let app = self.model.app().to_owned();
                self.model.relation_data(&rel, &Bag::App(app))
            }
            None => Ok(StringMap::new()),
        }
    }

    fn planned_units(&mut self) -> Result<usize, ModelError> {
        Ok(self.model.goal_state()?.planned_units())
    }

    fn current_status(&mut self) -> Result<Option<juju_hooks::Status>, ModelError> {
        Ok(self.model.shown_status().cloned())
    }

    fn config_value(&mut self, key: &str) -> Result<Option<String>, ModelError> {
        Ok(self.model.config()?.get(key).and_then(|v| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }))
    }

    fn publish_status(&mut self, status: &juju_hooks::Status) -> Result<(), ModelError> {
        self.model.publish_status_now(status)
    }
}

/// Runs `event` through the coordinator and stages its effects on `model` (flushed by the
/// dispatcher when the dispatch ends). Returns the effects, e.g. to see `deferred`.
pub fn run_event<H: UpgradeHooks + ?Sized>(
    config: &UpgradeConfig,
    endpoint: &str,
    event: &UpgradeEvent,
    model: &mut Model<'_>,
    hooks: &mut H,
) -> Result<Effects, ModelError> {
    let unit = model.unit().clone();
    // Exact DEBUG lines only matter when they are sent.
    let mut config = config.clone();
    config.exact_logs &= model.debug_logs();
    let mut view = ModelView::new(model, endpoint);
    let effects = handle(&config, &unit, event, &mut view, hooks).map_err(|e| e.0)?;
    let relation = view.relation()?;
    apply(model, relation.as_ref(), &effects)?;
    Ok(effects)
}

/// Stages `effects` on `model`: databag writes, status, action result or failure, logs.
pub fn apply(
    model: &mut Model<'_>,
    relation: Option<&RelationId>,
    effects: &Effects,
) -> Result<(), ModelError> {
    for line in &effects.logs {
        model.log(line.level, &line.message);
    }
    if let Some(rel) = relation {
        for (key, value) in &effects.unit_data {
            model.relation_set(rel, WriteTarget::OwnUnit, key, value)?;
        }
        for (key, value) in &effects.app_data {
            model.relation_set(rel, WriteTarget::OwnApp, key, value)?;
        }
    }
    if let Some(status) = &effects.status {
        model.set_status(status.clone());
    }
    if let Some(status) = &effects.app_status {
        model.set_app_status(status.clone())?;
    }
    if let Some(version) = &effects.workload_version {
        model.set_workload_version(version);
    }
    for (key, value) in &effects.action_results {
        model.set_action_result(key, value)?;
    }
    if let Some(message) = &effects.action_failure {
        model.fail_action(message)?;
    }
    Ok(())
}
