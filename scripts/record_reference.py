#!/usr/bin/env python3
"""Records the conformance scenarios from the reference library itself.

Runs the Python library `charms.data_platform_libs.v0.upgrade` (LIBPATCH 18, taken from the
seed file) under `ops.testing` (Scenario: state in, event, state out) for every scenario
defined below, and writes one JSON file per scenario: the input state, the event, how the
charm's hooks behave, and what the reference did (databags, unit status, action
result/failure, the calls it made into the charm, its log lines, deferral, or the exception it
crashed with). `cargo test -p upgrade-coordinator --test conformance` replays them against
the Rust coordinator, and the root package's tests replay them through the `dispatch` binary.

Usage (venv: ops[testing]==2.23.2, pydantic<2, poetry-core==2.5.0; see scripts/reference-venv.sh):
    PY=$(scripts/reference-venv.sh)
    $PY scripts/record_reference.py --seed ../shared/seeds/002_cea8aa1dd7fca20c.txt \
        --out crates/upgrade-coordinator/tests/scenarios
"""

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

GANDALF = {
    "gandalf_the_white": {
        "dependencies": {"gandalf_the_grey": ">5"},
        "name": "gandalf",
        "upgrade_supported": ">1.2",
        "version": "7",
    }
}
GANDALF_JSON = json.dumps(GANDALF)
OLD_INCOMPATIBLE = json.dumps(
    {
        "gandalf_the_white": {
            "dependencies": {"gandalf_the_grey": ">5"},
            "name": "gandalf",
            "upgrade_supported": "~0.2",
            "version": "0.2.1",
        }
    }
)
OLD_COMPATIBLE = json.dumps(
    {
        "gandalf_the_white": {
            "dependencies": {"gandalf_the_grey": ">5"},
            "name": "gandalf",
            "upgrade_supported": ">1.2",
            "version": "1.3",
        }
    }
)
TWO_KEYS = {
    "gandalf_the_white": GANDALF["gandalf_the_white"],
    "radagast": {
        "dependencies": {},
        "name": "radagast \u00e9",
        "upgrade_supported": "^2",
        "version": "2.5",
    },
}
OLD_TWO_KEYS_BAD = json.dumps(
    {
        "gandalf_the_white": {
            "dependencies": {},
            "name": "gandalf",
            "upgrade_supported": "*",
            "version": "1.0",
        },
        "radagast": {"dependencies": {}, "name": "r", "upgrade_supported": "*", "version": "1.9"},
    }
)

META = {"name": "gandalf", "peers": {"upgrade": {"interface": "upgrade"}}}
ACTIONS = {"pre-upgrade-check": {}, "resume-upgrade": {}}


def s(name, event, **kw):
    """A scenario definition with defaults."""
    d = {
        "name": name,
        "event": event,
        "substrate": "vm",
        "unit": 0,
        "leader": False,
        "relation": True,
        "units": {0: {}},
        "app": {},
        "planned_units": None,
        "dependency_model": GANDALF,
        "hooks": {},
        "cause": None,
    }
    d.update(kw)
    return d


def stack_units(n, state="idle", **own):
    units = {i: {"state": state} for i in range(n)}
    units[0].update(own)
    return units


SCENARIOS = []
A = SCENARIOS.append

# §3.5 marking the unit
for sub in ["vm", "k8s"]:
    A(s(f"set_unit_failed_resets_stack_{sub}", "unit-failed", substrate=sub, leader=True,
        units={0: {"state": "upgrading"}}, app={"upgrade-stack": "[0]"}))
    A(s(f"set_unit_failed_with_cause_{sub}", "unit-failed", substrate=sub, leader=False,
        units={0: {"state": "upgrading"}, 1: {"state": "ready"}}, app={"upgrade-stack": "[1, 0]"},
        cause="workload did not start"))
    A(s(f"set_unit_completed_resets_stack_{sub}", "unit-completed", substrate=sub, leader=True,
        units={0: {"state": "upgrading"}}, app={"upgrade-stack": "[0]", "dependencies": OLD_COMPATIBLE}))
    A(s(f"set_unit_completed_non_leader_{sub}", "unit-completed", substrate=sub, leader=False,
        units={0: {"state": "upgrading"}, 1: {"state": "ready"}}, app={"upgrade-stack": "[1, 0]"}))
    A(s(f"set_unit_failed_no_relation_{sub}", "unit-failed", substrate=sub, relation=False))

# §3.6 relation-created
for sub in ["vm", "k8s"]:
    for leader in [True, False]:
        A(s(f"created_sets_idle_and_deps_{sub}_leader_{leader}", "relation-created", substrate=sub,
            leader=leader))
A(s("created_two_key_model_escapes_non_ascii", "relation-created", leader=True,
    dependency_model=TWO_KEYS))

# §3.7 pre-upgrade-check
for sub in ["vm", "k8s"]:
    A(s(f"pre_check_fails_non_leader_{sub}", "pre-upgrade-check", substrate=sub, leader=False,
        units=stack_units(2)))
    A(s(f"pre_check_fails_no_relation_{sub}", "pre-upgrade-check", substrate=sub, leader=True,
        relation=False))
    for st in ["ready", "upgrading", "completed", "recovery"]:
        A(s(f"pre_check_fails_already_upgrading_{st}_{sub}", "pre-upgrade-check", substrate=sub,
            leader=True, units={0: {"state": st}}))
    A(s(f"pre_check_fails_peer_without_state_{sub}", "pre-upgrade-check", substrate=sub,
        leader=True, units={0: {"state": "idle"}, 1: {}}))
    A(s(f"pre_check_fails_cluster_not_ready_{sub}", "pre-upgrade-check", substrate=sub, leader=True,
        units=stack_units(2),
        hooks={"pre_upgrade_check": {"message": "Pre-upgrade check failed", "cause": "quorum lost",
                                     "resolution": "wait"}, "build_upgrade_stack": [0, 1]}))
    A(s(f"pre_check_recovers_stack_{sub}", "pre-upgrade-check", substrate=sub, leader=True,
        units={0: {"state": "failed"}}, app={"upgrade-stack": "[0]"}))
A(s("pre_check_runs_k8s_single", "pre-upgrade-check", substrate="k8s", leader=True,
    units=stack_units(1)))
A(s("pre_check_builds_stack_k8s", "pre-upgrade-check", substrate="k8s", leader=True,
    units=stack_units(2)))
A(s("pre_check_builds_stack_k8s_five", "pre-upgrade-check", substrate="k8s", leader=True,
    units={i: {"state": "idle"} for i in [0, 3, 1, 10, 2]}))
A(s("pre_check_builds_stack_vm", "pre-upgrade-check", leader=True,
    units={i: {"state": "idle"} for i in [0, 1, 2, 3]}, hooks={"build_upgrade_stack": [0, 1, 2, 3]}))
A(s("pre_check_builds_stack_vm_leader_last", "pre-upgrade-check", leader=True,
    units=stack_units(3), hooks={"build_upgrade_stack": [0, 2, 1]}))
A(s("pre_check_vm_stack_not_implemented", "pre-upgrade-check", leader=True, units=stack_units(2),
    hooks={"build_upgrade_stack": "not_implemented"}))
A(s("pre_check_repairs_stack_failed_top", "pre-upgrade-check", substrate="k8s", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "completed"}, 2: {"state": "failed"}},
    app={"upgrade-stack": "[0, 2]"}))
A(s("pre_check_keeps_full_stack", "pre-upgrade-check", substrate="k8s", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "failed"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[0, 2, 1]"}))
A(s("pre_check_repairs_vm_leader_failed_alone", "pre-upgrade-check", leader=True,
    units={0: {"state": "failed"}, 1: {"state": "completed"}, 2: {"state": "completed"}},
    app={"upgrade-stack": "[0]"}))
A(s("pre_check_recovery_with_empty_stack", "pre-upgrade-check", leader=True,
    units={0: {"state": "idle"}, 1: {"state": "failed"}}, app={"upgrade-stack": "[]"}))

# §3.8 resume-upgrade
A(s("resume_fails_non_leader", "resume-upgrade", substrate="k8s", units=stack_units(3),
    app={"upgrade-stack": "[0, 1]"}))
A(s("resume_fails_no_relation", "resume-upgrade", substrate="k8s", leader=True, relation=False))
A(s("resume_fails_without_stack", "resume-upgrade", substrate="k8s", leader=True,
    units=stack_units(3)))
A(s("resume_fails_with_empty_stack", "resume-upgrade", substrate="k8s", leader=True,
    units=stack_units(3), app={"upgrade-stack": "[]"}))
for st in ["[0]", "[0, 1, 2]"]:
    A(s(f"resume_fails_at_wrong_moment_{st}", "resume-upgrade", substrate="k8s", leader=True,
        units=stack_units(3, "upgrading"), app={"upgrade-stack": st}))
A(s("resume_succeeds", "resume-upgrade", substrate="k8s", leader=True,
    units=stack_units(3, "upgrading"), app={"upgrade-stack": "[0, 1]"}))
A(s("resume_partition_error", "resume-upgrade", substrate="k8s", leader=True,
    units=stack_units(3, "upgrading"), app={"upgrade-stack": "[0, 1]"},
    hooks={"set_rolling_update_partition": "error"}))

# §3.9 / §3.10 upgrade-charm
A(s("upgrade_charm_version_check_fails_vm_leader", "upgrade-charm", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[0, 1]", "dependencies": OLD_INCOMPATIBLE}))
A(s("upgrade_charm_version_check_two_keys", "upgrade-charm", leader=True, units=stack_units(2),
    dependency_model=TWO_KEYS, app={"upgrade-stack": "[0, 1]", "dependencies": OLD_TWO_KEYS_BAD}))
A(s("upgrade_charm_version_check_passes_vm_leader", "upgrade-charm", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[0, 1]", "dependencies": OLD_COMPATIBLE}))
A(s("upgrade_charm_version_check_fails_k8s_highest", "upgrade-charm", substrate="k8s",
    units=stack_units(1), app={"upgrade-stack": "[0]", "dependencies": OLD_INCOMPATIBLE}))
A(s("upgrade_charm_runs_checks_k8s_highest_non_leader", "upgrade-charm", substrate="k8s",
    units=stack_units(1), app={"upgrade-stack": "[0]", "dependencies": OLD_COMPATIBLE}))
A(s("upgrade_charm_k8s_not_highest_skips_check", "upgrade-charm", substrate="k8s", leader=True,
    units=stack_units(3), app={"upgrade-stack": "[0, 1, 2]", "dependencies": OLD_INCOMPATIBLE}))
A(s("upgrade_charm_defers_without_relation", "upgrade-charm", relation=False))
A(s("upgrade_charm_defers_without_relation_k8s", "upgrade-charm", substrate="k8s", relation=False))
A(s("upgrade_charm_no_stack_logs_error", "upgrade-charm", leader=True, units=stack_units(2)))
A(s("upgrade_charm_empty_stack_logs_error_k8s", "upgrade-charm", substrate="k8s",
    units=stack_units(2), app={"upgrade-stack": "[]"}))
for sub in ["vm", "k8s"]:
    for leader in [True, False]:
        A(s(f"upgrade_charm_first_to_rollback_{sub}_leader_{leader}", "upgrade-charm",
            substrate=sub, leader=leader, units={0: {"state": "recovery"}},
            app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE},
            hooks={"on_upgrade_granted": "in_progress"}))
A(s("upgrade_charm_first_to_rollback_vm_leader_completes", "upgrade-charm", leader=True,
    units={0: {"state": "recovery"}, 1: {"state": "ready"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "completed"}))
A(s("upgrade_charm_first_to_rollback_vm_leader_top_absent_peers", "upgrade-charm", leader=True,
    units={0: {"state": "recovery"}},
    app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "completed"}))
A(s("upgrade_charm_not_first_vm_idle", "upgrade-charm", leader=True, units={0: {"state": "idle"}},
    app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "in_progress"}))
for st in ["[2, 0, 1]", "[0, 2, 1]"]:
    A(s(f"upgrade_charm_not_first_vm_recovery_{st}", "upgrade-charm", leader=True,
        units={0: {"state": "recovery"}},
        app={"upgrade-stack": st, "dependencies": OLD_COMPATIBLE},
        hooks={"on_upgrade_granted": "in_progress"}))
A(s("upgrade_charm_not_first_k8s_recovery", "upgrade-charm", substrate="k8s", leader=True,
    units={0: {"state": "recovery"}}, app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE}))
for sub in ["vm", "k8s"]:
    A(s(f"upgrade_charm_sets_right_state_{sub}", "upgrade-charm", substrate=sub,
        units={0: {"state": "idle"}}, app={"upgrade-stack": "[0]", "dependencies": OLD_COMPATIBLE},
        hooks={"on_upgrade_granted": "in_progress"}))
A(s("upgrade_charm_vm_waits_with_peers", "upgrade-charm", units=stack_units(3),
    app={"upgrade-stack": "[0, 2, 1]"}))
A(s("upgrade_charm_vm_single_unit_completes", "upgrade-charm", leader=True,
    units=stack_units(1), app={"upgrade-stack": "[0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "completed"}))
A(s("upgrade_charm_vm_single_unit_fails", "upgrade-charm", leader=True,
    units=stack_units(1), app={"upgrade-stack": "[0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "failed"}))
A(s("upgrade_charm_vm_leader_top_in_recovery_all_ready", "upgrade-charm", leader=True,
    units={0: {"state": "recovery"}, 1: {"state": "ready"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[2, 1, 0]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "in_progress"}))
A(s("upgrade_charm_vm_leader_without_stored_deps", "upgrade-charm", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[0, 1]"}))
A(s("upgrade_charm_vm_leader_stored_deps_missing_field", "upgrade-charm", leader=True,
    units=stack_units(2), dependency_model=TWO_KEYS,
    app={"upgrade-stack": "[0, 1]", "dependencies": OLD_COMPATIBLE}))
A(s("upgrade_charm_vm_leader_stored_deps_extra_field", "upgrade-charm", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[0, 1]", "dependencies": OLD_TWO_KEYS_BAD.replace('"1.0"', '"1.3"')}))
A(s("upgrade_charm_vm_leader_stored_deps_malformed", "upgrade-charm", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[0, 1]", "dependencies": "{not json"}))
A(s("upgrade_charm_malformed_stack", "upgrade-charm", units=stack_units(2),
    app={"upgrade-stack": "[0, 1"}))

# §3.11 relation-changed
A(s("changed_returns_if_recovery", "relation-changed", units={0: {"state": "recovery"}, 1: {"state": "failed"}},
    app={"upgrade-stack": "[1, 0]"}))
A(s("changed_k8s_does_not_skip_recovery", "relation-changed", substrate="k8s", leader=True,
    units={0: {"state": "recovery"}, 1: {"state": "upgrading"}}, app={"upgrade-stack": "[0, 1]"}))
for peer in ["completed", "idle"]:
    A(s(f"changed_sets_idle_and_deps_if_peer_{peer}", "relation-changed", substrate="k8s",
        leader=True, units={0: {"state": "completed"}, 1: {"state": peer}},
        app={"upgrade-stack": "[]", "dependencies": OLD_COMPATIBLE}))
A(s("changed_sets_idle_non_leader_no_deps", "relation-changed", units={0: {"state": "completed"}, 1: {"state": "idle"}},
    app={"upgrade-stack": "[]"}))
A(s("changed_does_not_recurse_if_all_idle", "relation-changed", substrate="k8s", leader=True,
    units=stack_units(2), app={"upgrade-stack": "[]"}))
A(s("changed_no_stack_not_complete_skips", "relation-changed", units={0: {"state": "ready"}, 1: {"state": "idle"}}))
for own, stack, name in [("idle", "[0, 1]", "own_idle_peer_top"), ("idle", "[1, 0]", "own_idle_own_top"),
                         ("ready", "[0, 1]", "own_ready_peer_top"), ("ready", "[1, 0]", "own_ready_own_top")]:
    A(s(f"changed_granted_only_if_top_{name}", "relation-changed", substrate="k8s",
        units={0: {"state": own}, 1: {"state": "ready"}}, app={"upgrade-stack": stack}))
A(s("changed_granted_only_if_all_ready", "relation-changed", substrate="k8s",
    units={0: {"state": "ready"}, 1: {"state": "idle"}}, app={"upgrade-stack": "[1, 0]"}))
A(s("changed_recurses_on_leader_and_clears_stack", "relation-changed", substrate="k8s", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "completed"}}, app={"upgrade-stack": "[0, 1]"}))
A(s("changed_does_not_recurse_non_leader", "relation-changed", substrate="k8s",
    units={0: {"state": "ready"}, 1: {"state": "completed"}}, app={"upgrade-stack": "[0, 1]"}))
A(s("changed_peer_upgrading_shows_waiting", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "upgrading"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[0, 1]"}))
A(s("changed_peer_failed_exits", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "failed"}}, app={"upgrade-stack": "[0, 1]"}))
A(s("changed_vm_leader_last_pops_and_grants_itself", "relation-changed", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "completed"}, 2: {"state": "completed"}},
    app={"upgrade-stack": "[0, 1]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "completed"}))
A(s("changed_vm_leader_last_grant_in_progress", "relation-changed", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "completed"}},
    app={"upgrade-stack": "[0, 1]", "dependencies": OLD_COMPATIBLE},
    hooks={"on_upgrade_granted": "in_progress"}))
A(s("changed_vm_next_unit_granted", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "completed"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[2, 0]"}, hooks={"on_upgrade_granted": "completed"}))
A(s("changed_vm_grant_dependency_error", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "ready"}}, app={"upgrade-stack": "[1, 0]"},
    hooks={"on_upgrade_granted": "dependency_error"}))
A(s("changed_vm_grant_fails", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "ready"}}, app={"upgrade-stack": "[1, 0]"},
    hooks={"on_upgrade_granted": "failed"}))
A(s("changed_vm_grant_waits_for_other_upgrading", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "upgrading"}}, app={"upgrade-stack": "[1, 0]"}))
A(s("changed_leader_pops_completed_peer_three", "relation-changed", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "ready"}, 2: {"state": "completed"}},
    app={"upgrade-stack": "[0, 1, 2]"}, hooks={"on_upgrade_granted": "in_progress"}))
A(s("changed_top_unit_not_in_relation", "relation-changed", leader=True,
    units={0: {"state": "ready"}, 1: {"state": "ready"}}, app={"upgrade-stack": "[0, 1, 5]"}))
A(s("changed_unknown_peer_state", "relation-changed",
    units={0: {"state": "ready"}, 1: {"state": "READY"}}, app={"upgrade-stack": "[1, 0]"}))
A(s("changed_no_relation", "relation-changed", relation=False))
A(s("changed_own_state_missing", "relation-changed", units={0: {}, 1: {"state": "idle"}}))
A(s("changed_malformed_stack_nonlist", "relation-changed", units={0: {"state": "ready"}, 1: {"state": "ready"}},
    app={"upgrade-stack": "5"}))

# §3.12 upgrade_finished (units 0-3 exist, this unit renamed to N)
for sub, leader, n, part in [("vm", False, 1, "ok"), ("k8s", True, 3, "ok"), ("k8s", True, 0, "ok"),
                             ("k8s", True, 1, "ok"), ("k8s", True, 2, "ok"), ("k8s", False, 1, "ok"),
                             ("k8s", False, 1, "error")]:
    A(s(f"finished_{sub}_leader_{leader}_unit_{n}_{part}", "upgrade-finished", substrate=sub,
        leader=leader, unit=n, units={i: {"state": "completed" if i >= n else "upgrading"} for i in range(4)},
        app={"upgrade-stack": json.dumps(list(range(n + 1)))},
        hooks={"set_rolling_update_partition": part}))
A(s("completed_k8s_middle_unit_sets_partition", "unit-completed", substrate="k8s", unit=2,
    units={0: {"state": "upgrading"}, 1: {"state": "upgrading"}, 2: {"state": "upgrading"},
           3: {"state": "completed"}}, app={"upgrade-stack": "[0, 1, 2]"}))
A(s("completed_k8s_partition_error", "unit-completed", substrate="k8s", unit=2,
    units={0: {"state": "upgrading"}, 1: {"state": "upgrading"}, 2: {"state": "upgrading"},
           3: {"state": "completed"}}, app={"upgrade-stack": "[0, 1, 2]"},
    hooks={"set_rolling_update_partition": "error"}))

# §4 extras: mid-upgrade views from several units
A(s("changed_vm_waiting_unit_sees_ready_cluster_not_top", "relation-changed", unit=1,
    units={0: {"state": "ready"}, 1: {"state": "ready"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[0, 2, 1]"}, hooks={"on_upgrade_granted": "in_progress"}))
A(s("changed_vm_top_unit_granted_mid_stack", "relation-changed", unit=2,
    units={0: {"state": "ready"}, 1: {"state": "completed"}, 2: {"state": "ready"}},
    app={"upgrade-stack": "[0, 2, 1]"}, hooks={"on_upgrade_granted": "completed"}))
A(s("changed_vm_completed_peer_goes_idle_after_stack_empty", "relation-changed", unit=1,
    units={0: {"state": "idle"}, 1: {"state": "completed"}, 2: {"state": "completed"}},
    app={"upgrade-stack": "[]"}))


def build_charm(lib, spec, calls):
    from ops.charm import CharmBase
    from pydantic import BaseModel, create_model

    Model = create_model("Model", __base__=BaseModel,
                         **{k: (lib.DependencyModel, ...) for k in spec["dependency_model"]})
    hooks = spec["hooks"]
    substrate = spec["substrate"]

    class Upgrade(lib.DataUpgrade):
        def pre_upgrade_check(self):
            calls.append("pre_upgrade_check")
            h = hooks.get("pre_upgrade_check", "ok")
            if isinstance(h, dict):
                raise lib.ClusterNotReadyError(h["message"], h["cause"], h.get("resolution"))

        def build_upgrade_stack(self):
            calls.append("build_upgrade_stack")
            h = hooks.get("build_upgrade_stack", "not_implemented")
            if h == "not_implemented":
                return super().build_upgrade_stack()
            return list(h)

        def log_rollback_instructions(self):
            calls.append("log_rollback_instructions")

        @property
        def app_units(self):
            # The reference returns a set of ops Unit objects, iterated in an order that
            # changes from run to run (Unit hashes by identity), and the stack repair inserts
            # units in that order. Pin one of the orders it can produce, ascending unit ids
            # (what our coordinator does), so that a recording is reproducible.
            return sorted(super().app_units, key=lambda u: int(u.name.split("/")[1]))

        def _repair_upgrade_stack(self):
            calls.append("repair_stack")
            return super()._repair_upgrade_stack()

        def on_upgrade_changed(self, event):
            calls.append("upgrade_changed")
            return super().on_upgrade_changed(event)

        def _on_upgrade_finished(self, event):
            calls.append("upgrade_finished")
            return super()._on_upgrade_finished(event)

        def _set_rolling_update_partition(self, partition):
            calls.append(f"set_partition:{partition}")
            if hooks.get("set_rolling_update_partition", "ok") == "error":
                raise lib.KubernetesClientError("Kubernetes StatefulSet patch failed", "`juju trust` needed")

        def _on_upgrade_granted(self, event):
            calls.append("upgrade_granted")
            h = hooks.get("on_upgrade_granted", "in_progress")
            if h == "completed":
                self.set_unit_completed()
                if substrate == "vm" and self.charm.unit.is_leader():
                    self.on_upgrade_changed(event)
            elif h == "failed":
                self.set_unit_failed()
            elif h == "dependency_error":
                raise lib.DependencyError("gandalf_the_grey 4 is too old", "needs >5")

    class Charm(CharmBase):
        def __init__(self, *args):
            super().__init__(*args)
            self.upgrade = Upgrade(self, dependency_model=Model(**spec["dependency_model"]),
                                   substrate=substrate)

    return Charm


def status_of(st):
    if st.name == "unknown":
        return None
    return [st.name, st.message]


DEFAULT_KEYS = {"egress-subnets", "ingress-address", "private-address"}


def run(lib, spec):
    from ops import testing

    calls = []
    records = []

    class H(logging.Handler):
        def emit(self, record):
            records.append([record.levelname, record.getMessage()])

    handler = H(level=logging.DEBUG)
    lib.logger.addHandler(handler)
    lib.logger.setLevel(logging.DEBUG)
    try:
        charm = build_charm(lib, spec, calls)
        me = spec["unit"]
        units = {int(k): v for k, v in spec["units"].items()}
        peers = {k: dict(v) for k, v in units.items() if k != me}
        rel = testing.PeerRelation(
            endpoint="upgrade", interface="upgrade", id=7,
            local_app_data=dict(spec["app"]), local_unit_data=dict(units.get(me, {})),
            peers_data=peers,
        )
        planned = spec["planned_units"] or len(units)
        state = testing.State(leader=spec["leader"], relations=[rel] if spec["relation"] else [],
                              planned_units=planned,
                              model=testing.Model(name="middle-earth", type="kubernetes" if spec["substrate"] == "k8s" else "lxd"))
        ctx = testing.Context(charm, meta=META, actions=ACTIONS, app_name="gandalf", unit_id=me)
        ev = spec["event"]
        remote = min(peers) if peers else None
        result = {"action_failure": None, "action_results": None, "crashed": None}
        out = None
        try:
            if ev == "relation-changed" and not spec["relation"]:
                with ctx(ctx.on.update_status(), state) as mgr:
                    mgr.charm.upgrade.on_upgrade_changed(None)
                    out = mgr.run()
            elif ev == "relation-changed":
                out = ctx.run(ctx.on.relation_changed(rel, remote_unit=remote), state)
            elif ev == "relation-created":
                out = ctx.run(ctx.on.relation_created(rel), state)
            elif ev == "upgrade-charm":
                out = ctx.run(ctx.on.upgrade_charm(), state)
            elif ev in ("pre-upgrade-check", "resume-upgrade"):
                try:
                    out = ctx.run(ctx.on.action(ev), state)
                    result["action_results"] = ctx.action_results or {}
                except testing.ActionFailed as e:
                    result["action_failure"] = e.message
                    out = e.state
            else:
                with ctx(ctx.on.update_status(), state) as mgr:
                    up = mgr.charm.upgrade
                    if ev == "unit-completed":
                        up.set_unit_completed()
                    elif ev == "unit-failed":
                        up.set_unit_failed(spec["cause"])
                    elif ev == "upgrade-finished":
                        up._on_upgrade_finished(None)
                    out = mgr.run()
        except testing.errors.UncaughtCharmError as e:
            cause = e.__cause__ or e
            result["crashed"] = f"{type(cause).__name__}: {cause}"
        if out is not None:
            result["unit_status"] = status_of(out.unit_status)
            result["deferred"] = [d.name for d in out.deferred]
            if spec["relation"]:
                r = out.get_relation(7)
                result["unit_data"] = {k: v for k, v in r.local_unit_data.items() if k not in DEFAULT_KEYS}
                result["app_data"] = dict(r.local_app_data)
            else:
                result["unit_data"] = {}
                result["app_data"] = {}
        result["calls"] = calls
        result["logs"] = records
        return result
    finally:
        lib.logger.removeHandler(handler)


def cluster_state_table(lib):
    """The reference's cluster_state over every pair of own/peer states."""
    rows = []
    states = lib.DataUpgrade.STATES + ["", "IDLE"]
    for a in states:
        for b in states:
            try:
                cs = sorted([a, b], key=lib.DataUpgrade.STATES.index)[0]
            except ValueError:
                cs = None
            rows.append([a, b, cs])
    return rows


def model_table(lib):
    """Dependency-model validation cases (§3.2)."""
    cases = []
    base = GANDALF["gandalf_the_white"]
    variants = [
        ("valid_fixture", base),
        ("incompatible_version", dict(base, version="4", upgrade_supported=">5")),
        ("bad_dependency_saruman", dict(base, dependencies={"gandalf_the_grey": "saruman"})),
        ("bad_dependency_empty", dict(base, dependencies={"gandalf_the_grey": ""})),
        ("bad_nested_balrog", dict(base, dependencies={"gandalf_the_grey": "~1.0", "balrog": "balrog"})),
        ("bad_nested_empty", dict(base, dependencies={"gandalf_the_grey": "~1.0", "balrog": ""})),
        ("bad_upgrade_supported_saruman", dict(base, upgrade_supported="saruman")),
        ("bad_upgrade_supported_exact", dict(base, upgrade_supported="1.3")),
        ("bad_upgrade_supported_empty", dict(base, upgrade_supported="")),
        ("valid_nested", dict(base, dependencies={"gandalf_the_grey": "~1.0", "bilbo": "^1.2.5"})),
        ("bad_version_debian", dict(base, version="8.0.36-0ubuntu0.22.04.1", upgrade_supported="*")),
        ("valid_caret_prerelease", dict(base, version="2.0.0rc1", upgrade_supported=">=1.9")),
    ]
    from pydantic import ValidationError
    for name, entry in variants:
        try:
            lib.DependencyModel(**entry)
            ok = True
        except (ValidationError, ValueError, Exception):
            ok = False
        cases.append({"name": name, "model": {"gandalf_the_white": entry}, "valid": ok})
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", required=True, help="the reference library seed file")
    ap.add_argument("--out", required=True, help="directory for the scenario files")
    args = ap.parse_args()

    text = Path(args.seed).read_text()
    start = text.index("# Copyright 2023 Canonical Ltd.")
    tmp = Path(tempfile.mkdtemp())
    pkg = tmp / "charms" / "data_platform_libs" / "v0"
    pkg.mkdir(parents=True)
    for d in [tmp / "charms", tmp / "charms" / "data_platform_libs", pkg]:
        (d / "__init__.py").write_text("")
    (pkg / "upgrade.py").write_text(text[start:])
    sys.path.insert(0, str(tmp))
    import charms.data_platform_libs.v0.upgrade as lib  # noqa: E402

    assert lib.LIBPATCH == 18, lib.LIBPATCH
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    names = set()
    for spec in SCENARIOS:
        assert spec["name"] not in names, spec["name"]
        names.add(spec["name"])
        result = run(lib, spec)
        spec = dict(spec, units={str(k): v for k, v in spec["units"].items()})
        doc = {"scenario": spec, "reference": result}
        fname = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec["name"])
        (out / f"{fname}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    (out.parent / "reference_tables.json").write_text(json.dumps(
        {"cluster_state": cluster_state_table(lib), "dependency_model": model_table(lib)},
        indent=1) + "\n")
    print(f"recorded {len(SCENARIOS)} scenarios in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
