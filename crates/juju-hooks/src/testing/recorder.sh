#!/bin/sh
# Recording stand-in for a Juju hook tool (test support for juju-hooks).
# Installed as <root>/bin/<tool> symlinks to <root>/recorder.sh. Each call is stored as
# <root>/calls/NNNN/{tool,argv,stdin} (argv NUL-separated, stdin to EOF as jujuc reads it),
# then the response in <root>/responses/<tool>.<k> (k-th call of that tool) or
# <root>/responses/<tool>@<last argument, / as ~> or <root>/responses/<tool> is replayed: files stdout, stderr and exit, each optional.
set -eu
tool=$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
n=$(( $(cat "$root/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$root/count"
mkdir -p "$root/counts"
k=$(( $(cat "$root/counts/$tool" 2>/dev/null || echo 0) + 1 ))
echo "$k" > "$root/counts/$tool"
call="$root/calls/$(printf %04d "$n")"
mkdir -p "$call"
printf '%s' "$tool" > "$call/tool"
: > "$call/argv"
for a in "$@"; do printf '%s\000' "$a" >> "$call/argv"; done
cat > "$call/stdin"
last=""
for a in "$@"; do last=$a; done
last=$(printf '%s' "$last" | tr '/' '~')
resp="$root/responses/$tool.$k"
[ -d "$resp" ] || resp="$root/responses/$tool@$last"
[ -d "$resp" ] || resp="$root/responses/$tool"
code=0
if [ -d "$resp" ]; then
  if [ -f "$resp/stdout" ]; then cat "$resp/stdout"; fi
  if [ -f "$resp/stderr" ]; then cat "$resp/stderr" >&2; fi
  if [ -f "$resp/exit" ]; then code=$(cat "$resp/exit"); fi
fi
exit "$code"
