#!/usr/bin/env python3
"""The Python side of the dispatch benchmark: a charm on `ops` using the reference library
(`charms.data_platform_libs.v0.upgrade`, LIBPATCH 18) with the same trivial hooks as our
`scenario-dispatch` (SCENARIO_HOOKS, JSON), the dependency model from `versions.json` and
the substrate from UPGRADE_COORDINATOR_SUBSTRATE. `crates/dispatch-bench` installs it as
`src/charm.py` of a charm directory beside a copy of the library taken from the seed.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

import ops  # noqa: E402
from charms.data_platform_libs.v0 import upgrade as lib  # noqa: E402
from pydantic import BaseModel, create_model  # noqa: E402

HOOKS = json.loads(os.environ.get("SCENARIO_HOOKS", "{}"))
SUBSTRATE = os.environ.get("UPGRADE_COORDINATOR_SUBSTRATE", "vm")
DEPS = json.loads((Path(os.environ["JUJU_CHARM_DIR"]) / "versions.json").read_text())
Model = create_model("Model", __base__=BaseModel, **{k: (lib.DependencyModel, ...) for k in DEPS})


class Upgrade(lib.DataUpgrade):
    def pre_upgrade_check(self):
        pass

    def build_upgrade_stack(self):
        return list(HOOKS.get("build_upgrade_stack", []))

    def log_rollback_instructions(self):
        lib.logger.error("rollback")

    def _set_rolling_update_partition(self, partition):
        pass

    def _on_upgrade_granted(self, event):
        if HOOKS.get("on_upgrade_granted") == "completed":
            self.set_unit_completed()
            if SUBSTRATE == "vm" and self.charm.unit.is_leader():
                self.on_upgrade_changed(event)


class Charm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self.upgrade = Upgrade(self, dependency_model=Model(**DEPS), substrate=SUBSTRATE)


if __name__ == "__main__":
    ops.main(Charm)
