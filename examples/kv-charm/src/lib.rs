//! A key-value store charm upgraded in place: the charm-author guide's example (public API only).
use std::{fs, path::PathBuf};

use juju_hooks::{dispatch, Charm, Event, Handled, HookContext, LogLevel, Model, ModelError};
use juju_hooks::{ProcessHookTools, Status};
use upgrade_coordinator::component::{PRE_CHECK_FAILED, WORKLOAD_DIR_VAR};
use upgrade_coordinator::{ClusterNotReady, DependencyError, GrantOutcome, InPlaceUpgrade};
use upgrade_coordinator::{UnitHealth, UpgradeContext, UpgradeHooks};

/// The workload stand-in: the store's files in a directory (`version` installed, `running`
/// while it serves; a `fail-install` file naming a version makes installing it fail).
pub struct Store(pub PathBuf);

impl Store {
    fn running(&self) -> Option<String> {
        fs::read_to_string(self.0.join("running")).ok()
    }
    /// Stops the store, installs `version`, starts it.
    pub fn install(&self, version: &str) -> Result<(), String> {
        let _ = fs::remove_file(self.0.join("running"));
        if fs::read_to_string(self.0.join("fail-install")).is_ok_and(|v| v.trim() == version) {
            return Err(format!("installing kv {version} failed"));
        }
        let write = |name: &str| fs::write(self.0.join(name), version);
        fs::create_dir_all(&self.0)
            .and_then(|()| write("version"))
            .and_then(|()| write("running"))
            .map_err(|e| format!("installing kv {version}: {e}"))
    }
    fn health(&self) -> UnitHealth {
        match self.running() {
            Some(_) => UnitHealth::Healthy,
            None => UnitHealth::Unhealthy("kv is not running".into()),
        }
    }
}

/// What the coordinator asks of this charm; the rest are the trait's and the component's.
impl UpgradeHooks for Store {
    fn pre_upgrade_check(&mut self, cx: &mut UpgradeContext<'_>) -> Result<(), ClusterNotReady> {
        let mine = (self.running().is_none()).then(|| format!("{}: {}", cx.unit(), self.health()));
        let peer = cx.unhealthy_peer().map(|(u, h)| format!("{u}: {h}"));
        match peer.or(mine) {
            Some(why) => Err(ClusterNotReady::new(PRE_CHECK_FAILED, why)),
            None => Ok(()),
        }
    }

    fn on_upgrade_granted(
        &mut self,
        cx: &mut UpgradeContext<'_>,
    ) -> Result<GrantOutcome, DependencyError> {
        let version = cx.shipped_version("workload").unwrap_or("").to_owned();
        let result = self.install(&version);
        cx.publish_health(&self.health());
        Ok(match result {
            Ok(()) => {
                cx.set_workload_version(&version);
                GrantOutcome::Completed
            }
            Err(cause) => GrantOutcome::Failed { cause: Some(cause) },
        })
    }
}

/// The charm: the upgrade's events go to `InPlaceUpgrade`, the others are its own.
pub struct KvCharm {
    /// The upgrade's part of the charm.
    pub upgrade: InPlaceUpgrade,
    /// The workload.
    pub store: Store,
}

impl Charm for KvCharm {
    type Error = ModelError;

    fn handle(&mut self, event: &Event, model: &mut Model<'_>) -> Result<Handled, ModelError> {
        if let Some(handled) = self.upgrade.handle(event, model, &mut self.store)? {
            return Ok(handled);
        }
        if *event == Event::Install {
            let version = self.upgrade.target_version("workload").unwrap_or_default();
            if let Err(e) = self.store.install(version) {
                model.log(LogLevel::Error, &e);
            }
        }
        self.upgrade.publish_health(model, &self.store.health())?;
        if self.upgrade.is_idle(model)? {
            match self.store.running() {
                Some(version) => {
                    model.set_workload_version(&version);
                    model.set_status(Status::Active(String::new()));
                }
                None => model.set_status(Status::Blocked("kv is not running".into())),
            }
        }
        Ok(Handled::Done)
    }
}

/// `dispatch`: the context, the component, the hook.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = HookContext::from_process_env()?;
    let upgrade = InPlaceUpgrade::from_context(&ctx)?.requiring("workload")?;
    let dir = std::env::var_os(WORKLOAD_DIR_VAR).map_or("/var/lib/kv".into(), PathBuf::from);
    let mut charm = KvCharm {
        upgrade,
        store: Store(dir),
    };
    Ok(dispatch(&ctx, &ProcessHookTools::new(), &mut charm).map(drop)?)
}
