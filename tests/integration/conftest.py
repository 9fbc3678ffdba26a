"""Integration tests against a real Juju controller, with jubilant.

They skip cleanly when no `juju` is on PATH. To run them (see the README):

    python3 -m venv .venv && .venv/bin/pip install pytest jubilant
    .venv/bin/pytest tests/integration -v                    # machine model (LXD cloud)
    JUJU_K8S=1 .venv/bin/pytest tests/integration -v -k k8s  # current model on a Kubernetes cloud

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

needs_juju = pytest.mark.skipif(
    shutil.which("juju") is None, reason="no juju on PATH: these tests need a real controller"
)


def pack(out: Path, versions: str | None, suffix: str) -> Path:
    cmd = ["cargo", "run", "-q", "-p", "upgradectl", "--", "pack", "--out", str(out)]
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
def juju():
    import jubilant

    if os.environ.get("JUJU_MODEL_FOR_TESTS"):
        yield jubilant.Juju(model=os.environ["JUJU_MODEL_FOR_TESTS"])
        return
    with jubilant.temp_model() as j:
        j.wait_timeout = 15 * 60
        yield j
