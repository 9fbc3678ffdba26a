#!/bin/sh
# poetry-constraints vs poetry-core 2.5.0: parse+allows throughput on the same corpus.
# Prints both throughputs and the ratios (poetry-core with and without its caches).
# Usage: scripts/bench-ratio.sh [CORPUS.jsonl]     (run on an otherwise idle machine)
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-crates/poetry-constraints/tests/data/corpus-seed1.jsonl}
py=$(scripts/oracle-venv.sh)
cargo build --quiet --release -p poetry-constraints --example throughput
rust=$(./target/release/examples/throughput "$corpus" 30)
cached=$("$py" scripts/poetry_oracle.py bench --corpus "$corpus")
uncached=$("$py" scripts/poetry_oracle.py bench --corpus "$corpus" --no-cache)
python3 - "$rust" "$cached" "$uncached" <<'PY'
import json, sys
rust, cached, uncached = (json.loads(a)["pairs_per_second"] for a in sys.argv[1:])
print(f"rust poetry-constraints      {rust:12,.0f} pairs/s")
print(f"poetry-core (its caches on)  {cached:12,.0f} pairs/s   ratio {rust / cached:6.1f}x")
print(f"poetry-core (no caches)      {uncached:12,.0f} pairs/s   ratio {rust / uncached:6.1f}x")
PY
