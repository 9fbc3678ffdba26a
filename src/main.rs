//! `dispatch`: the executable Juju runs for every hook and action of the reference charm.
//!
//! Environment in, hook tools out, exit code last: 0 when the event was handled (including
//! actions that failed with `action-fail`, and hooks the charm ignores); 1 when something
//! unexpected happened, so Juju discards the hook's changes, marks the unit in error and
//! retries; 2 when the environment is not one Juju builds.

use std::process::ExitCode;

use juju_hooks::{dispatch, Charm, HookContext, HookTools, LogLevel, ProcessHookTools};
use upgrade_coordinator::component::WORKLOAD_DIR_VAR;
use upgrade_coordinator::{InPlaceUpgrade, SetupError, Substrate};
use upgrade_reference_charm::{DirWorkload, ReferenceCharm, SystemdWorkload};

/// Where the workload lives on Kubernetes when no directory is given.
const K8S_WORKLOAD_DIR: &str = "/var/lib/upgrade-reference-workload";

fn run<C: Charm>(ctx: &HookContext, tools: &ProcessHookTools, charm: &mut C) -> ExitCode {
    match dispatch(ctx, tools, charm) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let line = format!(
                "{} failed: {}",
                ctx.dispatch_path,
                one_line(&anyhow::Error::from(e))
            );
            // Best effort: the line also reaches `juju debug-log` through stderr.
            let _ = tools.juju_log(LogLevel::Error, &line);
            eprintln!("dispatch: {line}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let ctx = match HookContext::from_process_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("dispatch: {}", one_line(&anyhow::Error::from(e)));
            return ExitCode::from(2);
        }
    };
    // The versions file, the substrate and the Kubernetes client's source, in one call. A bad
    // versions file is reported on the upgrade events (the unit Blocked); a bad substrate
    // override is not an environment Juju builds.
    let upgrade = InPlaceUpgrade::from_context(&ctx);
    let substrate = match &upgrade {
        Ok(u) => u.substrate(),
        Err(e @ SetupError::InvalidSubstrate { .. }) => {
            eprintln!("dispatch: {e}");
            return ExitCode::from(2);
        }
        Err(_) => upgrade_coordinator::component::detect_substrate(|k| std::env::var(k).ok())
            .unwrap_or(Substrate::Vm),
    };
    let tools = ProcessHookTools::new();
    match (std::env::var_os(WORKLOAD_DIR_VAR), substrate) {
        (Some(dir), _) => run(
            &ctx,
            &tools,
            &mut ReferenceCharm::new(upgrade, DirWorkload::new(dir)),
        ),
        (None, Substrate::K8s) => run(
            &ctx,
            &tools,
            &mut ReferenceCharm::new(upgrade, DirWorkload::new(K8S_WORKLOAD_DIR)),
        ),
        (None, Substrate::Vm) => run(
            &ctx,
            &tools,
            &mut ReferenceCharm::new(upgrade, SystemdWorkload::new()),
        ),
    }
}

/// The error and its causes on one line (Juju logs each stderr line separately).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}
