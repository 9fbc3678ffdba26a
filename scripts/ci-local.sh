#!/bin/sh
# Run .ci/run the way CI does: on a clean clone of HEAD (committed work only), with the
# reference library's source beside it as `../shared` when this checkout has one, so that
# the steps that need it (re-recording the reference's scenarios) run instead of skipping.
# Usage: scripts/ci-local.sh [WORKDIR]   (default: a new directory under /tmp; about 19 minutes
# on the project's 2-core machine: 19 min 15 s measured 2026-12-03, the sweep 4.5 and the integration suite 1 of them)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/ci-local.XXXXXX)}
mkdir -p "$work"
if [ -d "$repo/../shared" ] && [ ! -e "$work/shared" ]; then
  ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
fi
rm -rf "$work/main"
git clone -q "$repo" "$work/main"
echo "ci-local: $(git -C "$work/main" log --oneline -1) in $work/main" >&2
cd "$work/main"
exec .ci/run
