#!/bin/sh
# Run .ci/run the way CI does: on a clean clone of HEAD (committed work only), with the
# reference library's source beside it as `../shared` when this checkout has one, so that
# the steps that need it (re-recording the reference's scenarios) run instead of skipping.
# Usage: scripts/ci-local.sh [WORKDIR]   (default: a new directory under /tmp; about 17 minutes
# on the project's 2-core machine: 12 min 45 s measured 2026-12-02, the sweep 4.5 of them)
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
