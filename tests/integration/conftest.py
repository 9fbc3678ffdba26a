"""Integration tests with jubilant: against a real Juju controller, or against the
simulator's `juju` (a local model, no controller).

Which `juju` they drive:
- `JUJU_SIM=1`, or no `juju` on PATH: the simulator's (`juju-sim` run as `juju`, built
  here with cargo); every test runs, the Kubernetes one on a model of the cloud
  `microk8s` (the simulator's Kubernetes). Models live in a temporary `JUJU_SIM_HOME`.
- otherwise the `juju` on PATH and its current controller: the machine tests on its
  default cloud (LXD), the Kubernetes test with `JUJU_K8S=1` on a Kubernetes controller.

    python3 -m venv .venv && .venv/bin/pip install pytest jubilant
    JUJU_SIM=1 .venv/bin/pytest tests/integration -v         # the simulator's juju
    .venv/bin/pytest tests/integration -v                    # machine model (LXD cloud)
    JUJU_K8S=1 .venv/bin/pytest tests/integration -v -k kubernetes  # a Kubernetes cloud

The charms are packed with `upgradectl pack` (no LXD needed for packing): the deployed
revision, the next one (workload 1.1.0) and an incompatible one (workload 3.0.0).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "upgrade-reference"

# The simulator's juju, unless a real one is on PATH and JUJU_SIM is not set.
SIM = os.environ.get("JUJU_SIM") == "1" or shutil.which("juju") is None
# A unit's workload directory as a shell expands it on the unit: the simulator gives each
# unit's `juju ssh` its own in UPGRADE_COORDINATOR_WORKLOAD_DIR; a machine has the real one.
WORKLOAD_DIR = "${UPGRADE_COORDINATOR_WORKLOAD_DIR:-/var/lib/upgrade-reference}"


def pytest_configure(config):
    config.addinivalue_line("markers", "k8s: runs on a Kubernetes model")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test, for the `juju` fixture's teardown.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session", autouse=True)
def sim_juju(tmp_path_factory):
    """With the simulator: build juju-sim, put it first on PATH as `juju`."""
    if not SIM:
        yield None
        return
    subprocess.run(["cargo", "build", "-q", "--locked", "-p", "juju-sim"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    bin_dir = tmp_path_factory.mktemp("sim-bin")
    (bin_dir / "juju").symlink_to(target / "debug" / "juju-sim")
    home = tmp_path_factory.mktemp("sim-home")
    saved = {k: os.environ.get(k) for k in ("PATH", "JUJU_SIM_HOME")}
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["JUJU_SIM_HOME"] = str(home)
    yield home
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pack(out: Path, versions: str | None, suffix: str) -> Path:
    cmd = ["cargo", "run", "-q", "--locked", "-p", "upgradectl", "--", "pack", "--out", str(out)]
    if versions:
        cmd += ["--versions", str(ROOT / versions), "--suffix", suffix]
    line = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return Path(line.split(" (")[0].strip())


@pytest.fixture(scope="session")
def charms(tmp_path_factory):
    out = tmp_path_factory.mktemp("charms")
    return {
        "current": pack(out, None, ""),
        "next": pack(out, "charm-revisions/versions-1.1.0.json", "-next"),
        "incompatible": pack(out, "charm-revisions/versions-3.0.0-incompatible.json", "-incompatible"),
    }


@pytest.fixture
def juju(request):
    import jubilant

    if os.environ.get("JUJU_MODEL_FOR_TESTS"):
        yield jubilant.Juju(model=os.environ["JUJU_MODEL_FOR_TESTS"])
        return
    # The simulator's Kubernetes is a cloud of its own; a real controller's is its default.
    cloud = "microk8s" if SIM and request.node.get_closest_marker("k8s") else None
    with jubilant.temp_model(cloud=cloud) as j:
        j.wait_timeout = 3 * 60 if SIM else 15 * 60
        yield j
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            # What the units logged, in the failure's report.
            print(j.debug_log(limit=300))
