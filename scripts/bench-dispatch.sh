#!/bin/sh
# One dispatch of our charm vs the Python reference charm (ops + the reference library), on
# the same fake hook tools: own CPU time, hook-tool calls, peak RSS, per event and cluster size.
# Usage: scripts/bench-dispatch.sh [path to the reference library seed] [extra bench-dispatch args]
# Builds our dispatch path twice: the default (dynamically linked) release build and a static
# one (crt-static, what the packed charm ships), and reports both.
set -eu
cd "$(dirname "$0")/.."
seed=${1:-../shared/seeds/002_cea8aa1dd7fca20c.txt}
[ $# -gt 0 ] && shift
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked -q -p dispatch-bench
cargo build --release --locked -q -p upgrade-reference-charm --bin scenario-dispatch
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -q \
  -p upgrade-reference-charm --bin scenario-dispatch --target "$host" --target-dir target/static
py_args=""
if [ -f "$seed" ]; then
  py_args="--python $(scripts/reference-venv.sh) --seed $seed"
else
  echo "(no reference library at $seed: our side only)" >&2
fi
echo "## static build (crt-static)"
# shellcheck disable=SC2086
target/release/bench-dispatch --ours "target/static/$host/release/scenario-dispatch" \
  --fake-tool target/release/fake-juju-tool $py_args "$@"
echo
echo "## default build (dynamically linked)"
# shellcheck disable=SC2086
target/release/bench-dispatch --ours target/release/scenario-dispatch \
  --fake-tool target/release/fake-juju-tool $py_args "$@"
