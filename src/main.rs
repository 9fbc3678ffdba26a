//! `dispatch`: the executable Juju runs for every hook and action of the reference charm.
//!
//! Environment in, hook tools out, exit code last: 0 when the event was handled (including
//! actions that failed with `action-fail`, and hooks the charm ignores); 1 when something
//! unexpected happened, so Juju discards the hook's changes, marks the unit in error and
//! retries; 2 when the environment is not one Juju builds.

use std::process::ExitCode;

use juju_hooks::{dispatch, HookContext, HookTools, LogLevel, ProcessHookTools};
use upgrade_reference_charm::ReferenceCharm;

fn main() -> ExitCode {
    let ctx = match HookContext::from_process_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("dispatch: {}", one_line(&anyhow::Error::from(e)));
            return ExitCode::from(2);
        }
    };
    let tools = ProcessHookTools::new();
    match dispatch(&ctx, &tools, &mut ReferenceCharm) {
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

/// The error and its causes on one line (Juju logs each stderr line separately).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}
