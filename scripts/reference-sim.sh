#!/bin/sh
# Runs a juju-sim scenario on the Python reference library instead of our coordinator: the
# charm in scripts/reference_sim_charm.py (ops + the seed's LIBPATCH 18, behaving like our
# reference charm otherwise) becomes every unit's dispatch. This is how DEVIATIONS.md records
# what the reference does in issue 7's scenarios.
# Usage: scripts/reference-sim.sh upgrade --substrate k8s --fault add-unit:after-pre-check --seed 3
# Env: REFERENCE_SEED (default ../shared/seeds/002_cea8aa1dd7fca20c.txt), REFERENCE_VENV,
# REFERENCE_SIM_DEPLOY_ONLY=1 (deploy the Python charm, refresh to ours: scripts/mixed-fleet.sh).
# Exit status: juju-sim's: 0 when every invariant held, 1 when one broke (a hook of the
# reference that keeps failing is one: the unit is left in error and the report says so),
# 2 for a usage error or a missing reference library.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seed=${REFERENCE_SEED:-"$root/../shared/seeds/002_cea8aa1dd7fca20c.txt"}
[ -f "$seed" ] || { echo "reference-sim: no reference library at $seed (set REFERENCE_SEED)" >&2; exit 2; }
py=$("$root/scripts/reference-venv.sh")
dir="$root/target/reference-sim"
pkg="$dir/lib/charms/data_platform_libs/v0"
mkdir -p "$pkg"
for d in "$dir/lib/charms" "$dir/lib/charms/data_platform_libs" "$pkg"; do : > "$d/__init__.py"; done
"$py" - "$seed" "$pkg/upgrade.py" <<'PY'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(text[text.index("# Copyright 2023 Canonical Ltd."):])
PY
cp "$root/scripts/reference_sim_charm.py" "$dir/charm.py"
for f in metadata.yaml actions.yaml config.yaml; do cp "$root/$f" "$dir/$f"; done
cat > "$dir/dispatch" <<SH
#!/bin/sh
# juju-sim runs this as every unit's dispatch: ops needs the charm's metadata beside it.
for f in metadata.yaml actions.yaml config.yaml; do
  [ -e "\$JUJU_CHARM_DIR/\$f" ] || ln -s "$dir/\$f" "\$JUJU_CHARM_DIR/\$f"
done
REFERENCE_SIM_LIB="$dir/lib" exec "$py" "$dir/charm.py"
SH
chmod +x "$dir/dispatch"
cargo build -q --release -p juju-sim --manifest-path "$root/Cargo.toml"
if [ "${REFERENCE_SIM_DEPLOY_ONLY:-}" = 1 ]; then
  # A mixed fleet: the Python charm is deployed, the refresh goes to ours.
  cargo build -q --release -p upgrade-reference-charm --bin dispatch --manifest-path "$root/Cargo.toml"
  exec "$root/target/release/juju-sim" "$@" --deploy-dispatch "$dir/dispatch" --dispatch "$root/target/release/dispatch"
fi
exec "$root/target/release/juju-sim" "$@" --dispatch "$dir/dispatch"
