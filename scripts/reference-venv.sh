#!/bin/sh
# Makes (or reuses) the venv the reference library runs in for scripts/record_reference.py and
# the Python side of the dispatch benchmark: ops[testing] 2.23.2 (Scenario), pydantic 1, poetry-core 2.5.0.
# Prints the venv's python. Usage: PY=$(scripts/reference-venv.sh)
set -eu
venv=${REFERENCE_VENV:-"$(cd "$(dirname "$0")/.." && pwd)/target/ref-venv"}
if ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("ops") == "2.23.2" and m.version("pydantic") == "1.10.26" and m.version("poetry-core") == "2.5.0"; import scenario' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'ops[testing]==2.23.2' 'pydantic==1.10.26' 'poetry-core==2.5.0' >&2
fi
echo "$venv/bin/python"
