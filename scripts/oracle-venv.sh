#!/bin/sh
# Makes (or reuses) the venv the oracle runs in: poetry-core 2.5.0 from PyPI, nothing else.
# Prints the venv's python. Usage: PY=$(scripts/oracle-venv.sh)
set -eu
venv=${ORACLE_VENV:-"$(cd "$(dirname "$0")/.." && pwd)/target/oracle-venv"}
if ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("poetry-core") == "2.5.0"' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'poetry-core==2.5.0' >&2
fi
echo "$venv/bin/python"
