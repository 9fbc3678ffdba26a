#!/bin/bash
# A test of the integration tests (not run by CI): each test against a coordinator broken
# where that test looks, in a scratch worktree of HEAD; each must fail. Takes ~12 minutes.
# Usage: scripts/integration-mutants.sh   (PYTEST: a pytest with jubilant, default .venv/bin/pytest)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
pytest=${PYTEST:-$repo/.venv/bin/pytest}
wt=$(mktemp -d /tmp/integration-mutants.XXXXXX)/wt
rm -rf $wt; git -C "$repo" worktree prune; git -C "$repo" worktree add -q --detach $wt HEAD
cd $wt
f=crates/upgrade-coordinator/src/coordinator.rs
run() { # name test-selector python-edit
  git checkout -q -- .
  python3 -c "$3"
  git diff --stat | tail -1
  echo "=== $1: pytest -k $2"
  out=$(JUJU_SIM=1 timeout 900 "$pytest" tests/integration -q -k "$2" -p no:cacheprovider 2>&1)
  echo "$out" | grep -E "passed|failed|Error|assert|TimeoutError" | tail -4
  if ! echo "$out" | grep -q " failed"; then
    echo "SURVIVED: $2 did not notice"; survived=$((survived + 1))
  fi
}
survived=0
run "B1 units never return to idle" test_rolling_upgrade_on_machines "
p='$f'; s=open(p).read(); a='''                self.status(Status::Active(String::new()));
                self.set_own_state(UnitState::Idle)?;'''; assert a in s
open(p,'w').write(s.replace(a,'''                self.status(Status::Active(String::new()));'''))"
run "B2 a failed upgrade reported as completed" test_failed_unit_and_rollback_on_machines "
p='$f'; s=open(p).read(); a='''            Ok(GrantOutcome::Failed { cause }) => self.set_unit_failed(cause.as_deref()),
            Ok(GrantOutcome::InProgress) => Ok(()),
        }
    }

    /// Kubernetes'''; assert a in s
open(p,'w').write(s.replace(a,'''            Ok(GrantOutcome::Failed { cause: _ }) => self.set_unit_completed(),
            Ok(GrantOutcome::InProgress) => Ok(()),
        }
    }

    /// Kubernetes'''))"
run "B3 the compatibility check skipped" test_incompatible_refresh_is_refused "
p='$f'; s=open(p).read(); a='''        if self.skip_compatibility {
            return Ok(true);
        }'''; assert a in s
open(p,'w').write(s.replace(a,'''        if self.skip_compatibility || true {
            return Ok(true);
        }'''))"
run "B4 resume-upgrade releases the wrong pod" test_rolling_upgrade_on_kubernetes "
p='$f'; s=open(p).read(); a='''        if self.config.substrate == Substrate::K8s {
            match self.set_partition(next)? {'''; assert a in s
open(p,'w').write(s.replace(a,'''        let next = next + 1;
        if self.config.substrate == Substrate::K8s {
            match self.set_partition(next)? {'''))"
git checkout -q -- .
cd /; git -C "$repo" worktree remove --force $wt
echo "$survived of 4 broken coordinators survived their test"
[ "$survived" -eq 0 ]
