#!/bin/sh
# A fleet refreshed from the Python charm (the reference library, LIBPATCH 18) to ours, the
# new config at its default: every unit is deployed with the Python charm, pre-upgrade-check
# runs on the Python leader, then `juju refresh` installs our charm. On Kubernetes the pods
# move one at a time, so Python and Rust units coordinate over the same peer data mid-flight
# (the Python leader pops the stack our units complete, our pods read the Python leader's
# stack); on machines every unit reads and continues the data the Python units wrote. Each
# run must end with every unit idle, Active, on the new workload, the invariants held.
# Usage: scripts/mixed-fleet.sh [SEEDS] (default 3 per substrate)
# Exit status: 0 when every run passed, 1 otherwise, 2 without the reference's source.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seeds=${1:-3}
failed=0
for substrate in vm k8s; do
  seed=1
  while [ "$seed" -le "$seeds" ]; do
    for scenario in upgrade rollback; do
      if REFERENCE_SIM_DEPLOY_ONLY=1 "$root/scripts/reference-sim.sh" "$scenario" \
          --substrate "$substrate" --units 3 --seed "$seed" --quiet > "$root/target/mixed-fleet.log" 2>&1; then
        echo "ok      $scenario --substrate $substrate --seed $seed"
      else
        code=$?
        [ "$code" -eq 2 ] && { cat "$root/target/mixed-fleet.log" >&2; exit 2; }
        echo "FAILED  $scenario --substrate $substrate --seed $seed"
        sed -n '1,40p' "$root/target/mixed-fleet.log"
        failed=1
      fi
    done
    seed=$((seed + 1))
  done
done
exit "$failed"
