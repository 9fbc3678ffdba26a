#!/usr/bin/env python3
"""The reference library (charms.data_platform_libs.v0.upgrade, LIBPATCH 18) in a charm on
`ops` that behaves like our reference charm (`src/lib.rs`) inside `juju-sim`: the same
workload directory (UPGRADE_COORDINATOR_WORKLOAD_DIR: files `version`, `running`, fault file
`fail-install`), the same health keys in the unit's peer databag (`workload-health`,
`workload-version`) checked by the pre-upgrade check, the same stack on machines (leader
last, the others from the highest number down), and on Kubernetes the partition patched
on the simulator's fake API server (UPGRADE_COORDINATOR_K8S_API) at the pre-check, a pod
finishing its upgrade in `upgrade-charm`.

Only the library's own logic differs from ours, so running a `juju-sim` scenario on this
charm shows what the reference does there. Set up and run by `scripts/reference-sim.sh`.
"""

import json
import logging
import os
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, os.environ.get("REFERENCE_SIM_LIB", str(Path(__file__).resolve().parent / "lib")))

import ops  # noqa: E402
from charms.data_platform_libs.v0 import upgrade as lib  # noqa: E402
from pydantic import BaseModel, create_model  # noqa: E402

logger = logging.getLogger(__name__)

SUBSTRATE = os.environ.get("UPGRADE_COORDINATOR_SUBSTRATE", "vm")
CHARM_DIR = Path(os.environ["JUJU_CHARM_DIR"])
DEPS = json.loads((CHARM_DIR / "versions.json").read_text())
TARGET = DEPS.get("workload", {}).get("version", "")
Model = create_model("Model", __base__=BaseModel, **{k: (lib.DependencyModel, ...) for k in DEPS})
HEALTH_KEY = "workload-health"
VERSION_KEY = "workload-version"


class Workload:
    """The simulator's workload directory, as `DirWorkload` in src/workload.rs."""

    def __init__(self, root):
        self.root = Path(root)

    def _read(self, name):
        try:
            return (self.root / name).read_text().strip()
        except OSError:
            return None

    def install(self, version):
        if self._read("fail-install") == version:
            raise RuntimeError(f"install {version} failed: the package did not install (injected fault)")
        if (self.root / "running").exists():
            raise RuntimeError(f"install {version} failed: the service is running; stop it first")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "version").write_text(version + "\n")

    def start(self):
        version = self._read("version")
        if version is None:
            raise RuntimeError("start failed: nothing is installed")
        (self.root / "running").write_text(version + "\n")

    def stop(self):
        try:
            (self.root / "running").unlink()
        except FileNotFoundError:
            pass

    def health(self):
        running, installed = self._read("running"), self._read("version")
        if running is not None and installed is not None and running == installed:
            return "healthy", running
        if installed is None:
            return "unhealthy: nothing is installed", ""
        if running is None:
            return "unhealthy: the service is stopped", ""
        return f"unhealthy: running {running} but {installed} is installed; restart needed", ""

    def upgrade(self, version):
        self.stop()
        self.install(version)
        self.start()
        health, running = self.health()
        if health != "healthy" or running != version:
            raise RuntimeError(f"workload unhealthy after upgrade: {health}")


WORKLOAD = Workload(os.environ.get("UPGRADE_COORDINATOR_WORKLOAD_DIR", "/nonexistent"))


class Upgrade(lib.DataUpgrade):
    def pre_upgrade_check(self):
        health, _ = WORKLOAD.health()
        if health != "healthy":
            raise lib.ClusterNotReadyError(
                message="Pre-upgrade check failed and cannot safely upgrade",
                cause=f"{self.charm.unit.name}: workload {health}",
            )
        for peer in self.peer_relation.units:
            h = self.peer_relation.data[peer].get(HEALTH_KEY)
            if h != "healthy":
                raise lib.ClusterNotReadyError(
                    message="Pre-upgrade check failed and cannot safely upgrade",
                    cause=f"{peer.name}: workload {h}",
                )
        if SUBSTRATE == "k8s":
            numbers = [int(u.name.split("/")[1]) for u in self.peer_relation.units]
            numbers.append(int(self.charm.unit.name.split("/")[1]))
            self._set_rolling_update_partition(max(numbers))

    def build_upgrade_stack(self):
        me = int(self.charm.unit.name.split("/")[1])
        return [me] + sorted(int(u.name.split("/")[1]) for u in self.peer_relation.units)

    def log_rollback_instructions(self):
        logger.error("Upgrade failed on %s: run pre-upgrade-check on the leader, then juju refresh back", self.charm.unit.name)

    def _set_rolling_update_partition(self, partition):
        api = os.environ.get("UPGRADE_COORDINATOR_K8S_API")
        account = os.environ.get("UPGRADE_COORDINATOR_K8S_ACCOUNT_DIR")
        try:
            token = Path(account, "token").read_text().strip()
            app = self.charm.app.name
            ns = os.environ.get("JUJU_MODEL_NAME", "")
            body = json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {"partition": partition}}}}).encode()
            req = urllib.request.Request(
                f"{api}/apis/apps/v1/namespaces/{ns}/statefulsets/{app}",
                data=body,
                method="PATCH",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"},
            )
            urllib.request.urlopen(req, timeout=10).read()
        except Exception as e:  # noqa: BLE001 - the library expects this one error type
            raise lib.KubernetesClientError("Cannot set rolling update partition", str(e))

    def _on_upgrade_granted(self, event):
        if SUBSTRATE == "k8s":
            return  # the pod restarted with the new charm; upgrade-charm finishes the unit
        try:
            WORKLOAD.upgrade(TARGET)
        except RuntimeError as e:
            logger.error(str(e))
            publish_health(self)
            self.set_unit_failed(cause=str(e))
            return
        publish_health(self)
        self.set_unit_completed()
        if self.charm.unit.is_leader():
            self.on_upgrade_changed(event)


def publish_health(upgrade):
    rel = upgrade.peer_relation
    if rel is None:
        return "", ""
    health, version = WORKLOAD.health()
    rel.data[upgrade.charm.unit].update({HEALTH_KEY: health, VERSION_KEY: version})
    return health, version


class Charm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self.upgrade = Upgrade(self, dependency_model=Model(**DEPS), substrate=SUBSTRATE)
        self.framework.observe(self.on.install, self._on_install)
        self.framework.observe(self.on.start, self._on_start)
        self.framework.observe(self.on.update_status, self._settle)
        self.framework.observe(self.on.upgrade_charm, self._on_upgrade_charm)
        self.framework.observe(self.on["upgrade"].relation_created, self._settle)

    def _state(self):
        rel = self.upgrade.peer_relation
        return rel.data[self.unit].get("state") if rel else None

    def _settle(self, _event=None):
        health, version = WORKLOAD.health()
        publish_health(self.upgrade)
        if self._state() in (None, "idle"):
            if health == "healthy":
                self.unit.set_workload_version(version)
                self.unit.status = ops.ActiveStatus()
            else:
                self.unit.status = ops.BlockedStatus(f"workload: {health}")

    def _on_install(self, _event):
        try:
            WORKLOAD.stop()
            WORKLOAD.install(TARGET)
            WORKLOAD.start()
        except RuntimeError as e:
            self.unit.status = ops.BlockedStatus(f"workload: {e}")
            return
        self._settle()

    def _on_start(self, _event):
        try:
            WORKLOAD.start()
        except RuntimeError as e:
            logger.error(str(e))
        self._settle()

    def _on_upgrade_charm(self, _event):
        # After the library's own handler (observed first): a pod recreated with the new
        # charm brings its workload to the new version and reports.
        if SUBSTRATE != "k8s" or self._state() != "upgrading":
            return
        try:
            WORKLOAD.upgrade(TARGET)
        except RuntimeError as e:
            publish_health(self.upgrade)
            self.upgrade.set_unit_failed(cause=str(e))
            return
        publish_health(self.upgrade)
        self.upgrade.set_unit_completed()


if __name__ == "__main__":
    ops.main(Charm)
