//! `dispatch`: the executable Juju runs for every hook and action of the reference charm.
//!
//! Environment in, hook tools out, exit code last: 0 when the event was handled (including
//! actions that failed with `action-fail`, and hooks the charm ignores); 1 when something
//! unexpected happened, so Juju discards the hook's changes, marks the unit in error and
//! retries; 2 when the environment is not one Juju builds.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;

use juju_hooks::{dispatch, Charm, HookContext, HookTools, LogLevel, ProcessHookTools};
use upgrade_coordinator::k8s::{InClusterClient, PartitionClient};
use upgrade_coordinator::{KubernetesClientError, Substrate};
use upgrade_reference_charm::{DirWorkload, ReferenceCharm, SystemdWorkload};

/// Overrides the substrate (`vm` or `k8s`); by default Kubernetes is recognised by
/// `KUBERNETES_SERVICE_HOST`, which Kubernetes sets in every pod.
const SUBSTRATE_VAR: &str = "UPGRADE_REFERENCE_SUBSTRATE";
/// Runs the workload in this directory instead of as a systemd service (simulator, tests,
/// and the Kubernetes charm container, which has no systemd).
const WORKLOAD_DIR_VAR: &str = "UPGRADE_REFERENCE_WORKLOAD_DIR";
/// Talk to this Kubernetes API server (e.g. `http://127.0.0.1:8080`, the simulator's)
/// instead of the in-cluster one, with the service-account files of
/// `UPGRADE_REFERENCE_K8S_ACCOUNT_DIR` (`token`, and `ca.crt` for https).
const K8S_API_VAR: &str = "UPGRADE_REFERENCE_K8S_API";
const K8S_ACCOUNT_VAR: &str = "UPGRADE_REFERENCE_K8S_ACCOUNT_DIR";
/// Where the workload lives on Kubernetes when no directory is given.
const K8S_WORKLOAD_DIR: &str = "/var/lib/upgrade-reference-workload";

fn substrate() -> Result<Substrate, String> {
    match std::env::var(SUBSTRATE_VAR) {
        Ok(s) => s.parse().map_err(|e| format!("{SUBSTRATE_VAR}: {e}")),
        Err(_) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => Ok(Substrate::K8s),
        Err(_) => Ok(Substrate::Vm),
    }
}

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
    let substrate = match substrate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dispatch: {e}");
            return ExitCode::from(2);
        }
    };
    let tools = ProcessHookTools::new();
    let workload_dir = std::env::var_os(WORKLOAD_DIR_VAR);
    match (workload_dir, substrate) {
        (Some(dir), _) => run_with(&ctx, &tools, substrate, DirWorkload::new(dir)),
        (None, Substrate::K8s) => {
            run_with(&ctx, &tools, substrate, DirWorkload::new(K8S_WORKLOAD_DIR))
        }
        (None, Substrate::Vm) => run_with(&ctx, &tools, substrate, SystemdWorkload::new()),
    }
}

fn run_with<W: upgrade_reference_charm::Workload>(
    ctx: &HookContext,
    tools: &ProcessHookTools,
    substrate: Substrate,
    workload: W,
) -> ExitCode {
    let mut charm = ReferenceCharm::new(&ctx.charm_dir, substrate, workload);
    if substrate == Substrate::K8s {
        // One client, made on first use (a machine never needs one), for both calls.
        let client: Rc<RefCell<Option<InClusterClient>>> = Rc::default();
        let (namespace, app) = (ctx.model_name.clone(), ctx.unit.app().to_owned());
        let get = move || -> Result<InClusterClient, KubernetesClientError> {
            if let Some(c) = client.borrow().as_ref() {
                return Ok(c.clone());
            }
            let c = match (
                std::env::var(K8S_API_VAR),
                std::env::var_os(K8S_ACCOUNT_VAR),
            ) {
                (Ok(api), Some(dir)) => InClusterClient::with_credentials(
                    &api,
                    std::path::Path::new(&dir),
                    &namespace,
                    &app,
                )?,
                _ => InClusterClient::from_env(&namespace, &app)?,
            };
            *client.borrow_mut() = Some(c.clone());
            Ok(c)
        };
        let get2 = get.clone();
        charm = charm
            .with_partition_client(Box::new(move |partition| get()?.set_partition(partition)))
            .with_trust_check(Box::new(move || get2()?.can_patch()));
    }
    run(ctx, tools, &mut charm)
}

/// The error and its causes on one line (Juju logs each stderr line separately).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}
