//! `scenario-dispatch`: the dispatch path of the charm (environment, hook tools, deferral,
//! the coordinator's shell) with the charm hooks a recorded conformance scenario describes
//! instead of the reference charm's workload. It lets the conformance scenarios recorded
//! from the Python library run through real processes and real hook-tool command lines
//! (`tests/conformance_binary.rs`). Not packed into the charm.
//!
//! Environment: what Juju sets, plus `SCENARIO_HOOKS` (the scenario's `hooks` object, JSON)
//! and `UPGRADE_COORDINATOR_SUBSTRATE` (`vm` or `k8s`); `SCENARIO_DEBUG_LOGS` (any value) sends
//! DEBUG lines too, as the recordings have them. The dependency model is the charm
//! directory's `versions.json`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use juju_hooks::{
    dispatch, Charm, Event, Handled, HookContext, Model, ModelError, ProcessHookTools,
    RelationEventKind,
};
use upgrade_coordinator::shell::run_event;
use upgrade_coordinator::testing::ScenarioHooks;
use upgrade_coordinator::{DependencyModel, UpgradeConfig, UpgradeEvent};

struct ScenarioCharm {
    config: UpgradeConfig,
    hooks: BTreeMap<String, serde_json::Value>,
}

impl Charm for ScenarioCharm {
    type Error = ModelError;

    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
        if std::env::var_os("SCENARIO_DEBUG_LOGS").is_some() {
            model.set_debug_logs(true);
        }
        let event = match event {
            Event::UpgradeCharm => UpgradeEvent::UpgradeCharm,
            Event::Relation(r) if r.relation.endpoint() == "upgrade" => match r.kind {
                RelationEventKind::Created => UpgradeEvent::RelationCreated,
                RelationEventKind::Changed => UpgradeEvent::RelationChanged,
                _ => return Ok(Handled::Done),
            },
            Event::Action(a) if a.name == "pre-upgrade-check" => UpgradeEvent::PreUpgradeCheck,
            Event::Action(a) if a.name == "resume-upgrade" => {
                UpgradeEvent::ResumeUpgrade { check_health: true }
            }
            _ => return Ok(Handled::Done),
        };
        let mut hooks = ScenarioHooks(&self.hooks);
        let fx = run_event(&self.config, "upgrade", &event, model, &mut hooks)?;
        Ok(if fx.deferred {
            Handled::Defer
        } else {
            Handled::Done
        })
    }
}

fn main() -> ExitCode {
    let setup = || -> anyhow::Result<(HookContext, ScenarioCharm)> {
        let ctx = HookContext::from_process_env()?;
        let hooks =
            serde_json::from_str(&std::env::var("SCENARIO_HOOKS").unwrap_or_else(|_| "{}".into()))?;
        let substrate = std::env::var("UPGRADE_COORDINATOR_SUBSTRATE")
            .unwrap_or_else(|_| "vm".into())
            .parse()
            .map_err(anyhow::Error::msg)?;
        let text = std::fs::read_to_string(ctx.charm_dir.join("versions.json"))?;
        let config = UpgradeConfig::new(substrate, DependencyModel::from_json(&text)?);
        Ok((ctx, ScenarioCharm { config, hooks }))
    };
    let (ctx, mut charm) = match setup() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("scenario-dispatch: {e:#}");
            return ExitCode::from(2);
        }
    };
    match dispatch(&ctx, &ProcessHookTools::new(), &mut charm) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scenario-dispatch: {:#}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
