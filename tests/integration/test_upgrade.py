"""deploy -> pre-upgrade-check -> refresh, a failed unit and the rollback, an incompatible
refresh, and the Kubernetes partition flow: on a real controller or the simulator's juju
(see conftest.py)."""

import os

import pytest

from conftest import APP, SIM, WORKLOAD_DIR

# On a real controller: the machine tests on its default cloud, the Kubernetes one with
# JUJU_K8S=1. On the simulator: all of them.
K8S_CONTROLLER = os.environ.get("JUJU_K8S") == "1"
machines = pytest.mark.skipif(K8S_CONTROLLER, reason="machine model test")
kubernetes = pytest.mark.skipif(
    not (K8S_CONTROLLER or SIM), reason="set JUJU_K8S=1 on a Kubernetes controller"
)


def unit_states(juju):
    """Each unit's upgrade state, read from the peer relation data."""
    import json

    states = {}
    for unit in juju.status().apps[APP].units:
        out = juju.cli("show-unit", unit, "--format=json")
        data = json.loads(out)[unit]
        for rel in data.get("relation-info", []):
            if rel["endpoint"] == "upgrade":
                states[unit] = rel.get("local-unit", {}).get("data", {}).get("state")
    return states


def leader(juju):
    return next(u for u, s in juju.status().apps[APP].units.items() if s.leader)


def upgraded_to(version):
    import jubilant

    return lambda status: jubilant.all_active(status, APP) and status.apps[APP].version == version


@machines
def test_rolling_upgrade_on_machines(juju, charms):
    import jubilant

    juju.deploy(charms["current"], APP, num_units=3)
    juju.wait(lambda s: jubilant.all_active(s, APP) and jubilant.all_agents_idle(s, APP))
    task = juju.run(leader(juju), "pre-upgrade-check")
    assert task.success, task.message
    # Deployed from a file: the way back is the --path form; machines do not pause by default.
    assert task.results["rollback-command"].startswith(f"juju refresh {APP} --path"), task.results
    assert task.results["pause-after-unit-refresh"] == "none"
    juju.refresh(APP, path=charms["next"])
    juju.wait(upgraded_to("1.1.0"), error=jubilant.any_error)
    assert set(unit_states(juju).values()) == {"idle"}


@machines
def test_failed_unit_and_rollback_on_machines(juju, charms):
    import jubilant

    juju.deploy(charms["current"], APP, num_units=3)
    juju.wait(lambda s: jubilant.all_active(s, APP) and jubilant.all_agents_idle(s, APP))
    victim = f"{APP}/2"
    juju.ssh(victim, f"sudo sh -c 'mkdir -p {WORKLOAD_DIR} && echo 1.1.0 > {WORKLOAD_DIR}/fail-install'")
    assert juju.run(leader(juju), "pre-upgrade-check").success
    juju.refresh(APP, path=charms["next"])
    juju.wait(lambda s: s.apps[APP].units[victim].workload_status.current == "blocked")
    # The operator's rollback: pre-upgrade-check on the failed cluster, then refresh back.
    juju.ssh(victim, f"sudo sh -c 'rm -f {WORKLOAD_DIR}/fail-install'")
    assert juju.run(leader(juju), "pre-upgrade-check").success
    juju.refresh(APP, path=charms["current"])
    juju.wait(upgraded_to("1.0.0"), error=jubilant.any_error)
    assert set(unit_states(juju).values()) == {"idle"}


@machines
def test_incompatible_refresh_is_refused(juju, charms):
    import jubilant

    juju.deploy(charms["current"], APP, num_units=2)
    juju.wait(lambda s: jubilant.all_active(s, APP) and jubilant.all_agents_idle(s, APP))
    lead = leader(juju)
    assert juju.run(lead, "pre-upgrade-check").success
    juju.refresh(APP, path=charms["incompatible"])
    juju.wait(lambda s: s.apps[APP].units[lead].workload_status.current == "blocked")
    assert unit_states(juju)[lead] == "failed"


@kubernetes
@pytest.mark.k8s
def test_rolling_upgrade_on_kubernetes(juju, charms):
    import jubilant

    juju.deploy(charms["current"], APP, num_units=3, trust=True)
    juju.wait(lambda s: jubilant.all_active(s, APP) and jubilant.all_agents_idle(s, APP))
    assert juju.run(leader(juju), "pre-upgrade-check").success
    juju.refresh(APP, path=charms["next"])
    highest = f"{APP}/2"
    juju.wait(lambda s: s.apps[APP].units[highest].workload_status.message.startswith("upgrade completed")
              or unit_states(juju).get(highest) == "completed")
    task = juju.run(leader(juju), "resume-upgrade")
    assert task.success and task.results["message"] == "Upgrade will resume on unit 1"
    juju.wait(upgraded_to("1.1.0"), error=jubilant.any_error)
