#!/usr/bin/env python3
"""Checks that every workspace crate's declared `rust-version` is true: no dependency it
builds (normal, build and dev dependencies, as locked in Cargo.lock, for this platform)
declares a newer one. A newer toolchain cannot be installed here (rustup's downloads are not
a package registry), so this audits the lock file through `cargo metadata` instead of
building with the old toolchain.

Usage: scripts/check-rust-version.py   (exit 0: true; 1: a crate claims too old a Rust)
"""
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def shown(v):
    return ".".join(str(p) for p in v)


def main():
    host = subprocess.run(
        ["rustc", "-vV"], check=True, capture_output=True, text=True
    ).stdout
    triple = next(l.split(": ", 1)[1] for l in host.splitlines() if l.startswith("host: "))
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1", "--filter-platform", triple],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failed = False
    for member in meta["workspace_members"]:
        declared = packages[member].get("rust_version")
        name = packages[member]["name"]
        # Everything this crate builds: its dependencies of every kind, and theirs (normal
        # and build) transitively.
        seen, stack, first = set(), [member], True
        while stack:
            pid = stack.pop()
            for dep in nodes[pid]["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if not first and kinds == {"dev"}:
                    continue
                if dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    stack.append(dep["pkg"])
            first = False
        needs = max(
            (
                (version(packages[p]["rust_version"]), packages[p]["name"], packages[p]["version"])
                for p in seen
                if packages[p].get("rust_version")
            ),
            default=None,
        )
        if needs is None:
            print(f"{name}: no dependency declares a rust-version")
            continue
        if declared is None:
            print(f"{name}: declares no rust-version; its dependencies need {shown(needs[0])} ({needs[1]} {needs[2]})")
            failed = True
        elif version(declared) < needs[0]:
            print(f"{name}: declares rust-version {declared}, but {needs[1]} {needs[2]} needs {shown(needs[0])}")
            failed = True
        else:
            print(f"{name}: rust-version {declared} holds (the newest need: {needs[1]} {needs[2]}, {shown(needs[0])})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
