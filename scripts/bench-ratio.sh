#!/bin/sh
# poetry-constraints vs poetry-core 2.5.0: parse+allows throughput on the same corpus.
# Prints the throughputs and the like-for-like ratios: every pair parsed afresh on both
# sides, and both with parse caches (poetry-core's functools caches, our Checker).
# Usage: scripts/bench-ratio.sh [CORPUS.jsonl ...]     (run on an otherwise idle machine)
# Without arguments: the checked-in corpus over the whole grammar, then 30,000 everyday
# constraints (`poetry_oracle.py realistic --seed 1`, generated into target/).
set -eu
cd "$(dirname "$0")/.."
py=$(scripts/oracle-venv.sh)
if [ $# -eq 0 ]; then
  mkdir -p target
  "$py" scripts/poetry_oracle.py realistic --seed 1 > target/everyday-seed1.jsonl
  set -- crates/poetry-constraints/tests/data/corpus-seed1.jsonl target/everyday-seed1.jsonl
fi
cargo build --quiet --release -p poetry-constraints --example throughput
for corpus in "$@"; do
  echo "== $corpus"
  rust=$(./target/release/examples/throughput "$corpus" 30)
  cached=$("$py" scripts/poetry_oracle.py bench --corpus "$corpus")
  uncached=$("$py" scripts/poetry_oracle.py bench --corpus "$corpus" --no-cache)
  python3 - "$rust" "$cached" "$uncached" <<'PY'
import json, sys
rust, cached, uncached = (json.loads(a) for a in sys.argv[1:])
r, rc = rust["pairs_per_second"], rust["cached_pairs_per_second"]
c, u = cached["pairs_per_second"], uncached["pairs_per_second"]
print(f"every pair parsed afresh:  rust {r:12,.0f} pairs/s   poetry-core {u:10,.0f}   ratio {r / u:6.1f}x")
print(f"with the parse caches:     rust {rc:12,.0f} pairs/s   poetry-core {c:10,.0f}   ratio {rc / c:6.1f}x")
print(f"(rust uncached vs poetry-core as shipped, with its caches: {r / c:.1f}x)")
PY
done
