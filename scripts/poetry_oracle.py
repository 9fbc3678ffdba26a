#!/usr/bin/env python3
"""The oracle for crates/poetry-constraints: poetry-core 2.5.0 itself.

Builds a corpus of (constraint, version) pairs -- hand-picked edges plus random generation
over the whole grammar, valid and invalid, ASCII and not -- and labels each pair the way the
reference upgrade library would see it:

    parse_constraint(constraint).allows(Version.parse(version))

as one of `true`, `false`, `invalid-constraint` (judged first), `invalid-version`, together
with poetry-core's normalised text of the constraint (`str(parse_constraint(...))`).

Usage (inside a venv with poetry-core==2.5.0; scripts/oracle-venv.sh makes one):
    poetry_oracle.py corpus --seed 1 --count 30000 > corpus.jsonl
    poetry_oracle.py generate --seed 7 --count 1000 | poetry_oracle.py label > labelled.jsonl
    poetry_oracle.py realistic --seed 1 > everyday.jsonl     # everyday shapes only
    poetry_oracle.py bench --corpus corpus.jsonl            # poetry-core's throughput

The corpus format is JSON lines: {"c": constraint, "v": version, "r": verdict, "s": text}.
The generator depends only on the seed, never on the poetry-core release.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time

# ---------------------------------------------------------------------------------------------
# Hand-picked edges: every example of shared/notes/poetry-constraints.md and the reference
# library's unit tests (reference-behaviour.md section 3.1), plus the corners found while
# porting (phase spelling case, Python's `$`, possessive quantifiers, digit limits).
# ---------------------------------------------------------------------------------------------

REFERENCE_TESTS = {
    "^1.2.3": ["1.2.2", "1.2.3", "1.2.4", "1.3.4", "2.2.3", "2.0.0"],
    "^1.2": ["0.9.2", "1.0.0", "1.2.0", "1.3.0", "1.3", "2", "2.2", "2.2.0"],
    "^1": ["0.9.2", "1.0.0", "1.2.0", "1.3.0", "1.3", "2", "2.2", "2.2.0"],
    "^0.2.3": ["0.2.2", "0.2.3", "0.3.0", "1.2.0"],
    "^0.0.3": ["0.0.2", "0.0.4", "0.1.4", "1.1.4"],
    "^0.0": ["0", "0.0.1", "0.1", "1.0"],
    "^0": ["0", "0.0", "0.0.0", "0.1.0", "0.1.6", "0.1", "1.0", "0.9.9"],
    "~1.2.3": ["1.2.2", "1.3.2", "1.3.5", "1.2.5", "1.2"],
    "~1.2": ["1.2", "1.6", "1.2.4", "1.1", "1.0.5"],
    "~0.2": ["0.2", "0.2.3", "0.3"],
    "~1": ["0.3", "1.3", "0.0.9", "0.9.9", "1.9.9", "1.7", "1"],
    "~0": ["1", "0.1", "0.5.9"],
    "*": ["1.5.6", "0.0.1", "0.2.0", "1.0.0"],
    "1.*": ["1.0.0", "2.0.0", "0.6.2"],
    "1.2.*": ["0.6.2", "1.6.2", "1.2.2", "1.2.0", "1.1.6", "1.1.0"],
    "0.2.*": ["1.1.0", "0.1.0", "0.2.9", "0.6.0"],
    "0.1": ["0.1", "0.2"],
    ">1": ["1.8", "8.8.0"],
    ">0": ["8.8.0", "0.0", "0.0.0", "0.0.1"],
    ">1.0": ["1.0.0", "1.0", "1.5.6", "2.0", "0.0.4"],
    ">1.6": ["1.3", "1.3.8", "1.35.8"],
    ">1.6.3": ["1.7.8"],
    ">1.22.3": ["1.7.8"],
    ">0.22.3": ["1.7.8"],
    ">=1.0": ["1.0.0", "1.0", "1.5.6", "2.0", "0.0.4"],
    ">=0.2": ["0.2"],
    ">=0.2.7": ["0.2.7"],
    ">=1": ["1", "1.0", "1.0.0", "1.0.6", "0.0", "0.0.1"],
    ">=1.6": ["1.3", "1.3.8", "1.35.8"],
    ">=1.6.3": ["1.7.8"],
    ">=1.22.3": ["1.7.8"],
    ">=0.22.3": ["1.7.8"],
}

EDGE_CONSTRAINTS = [
    "*", "x", "X", "*.*", "v*", "x.x.x", "V*", "1.x", "1.2.x", "", " ", "\t", ">=", "^", "~", "~=",
    "saruman", "===1.0", "=>1.0", "~>1.0", "^^1.0", "!1", "==*", ">=*", "^*", "1.0 - 2.0",
    "(1.0)", ">=1.0 and <2.0", ">=1.0 or <2.0", ">=1 ||", "|| >=1", "1 ||| 2", "1 | | 2",
    ">=1.0,,", ">=1.0, ,", ">=1.0,<2.0", ">=1.0 <2.0", ">= 1.0 ,< 2.0", "  >=1.0  ,  <2.0  ",
    ">=1.0,,<2.0", ",>=1.0", "1.0 -2.0", ">=1.0 -<2.0", "> = 1.0", ">=1.0\u00a0<2.0",
    ">=\u00a01.0", "1.0\u00a0||\u00a02.0", "dev", "DEV", "Dev", "<>1.0", "<>1.2.*", ">=1.2.*",
    "<1.2.*", "<=1.2.*", ">1.2.*", "1.0a1.*", "1.0+abc.*", "1.2.3.4.*", "1.2.3.4.*.*", "1.*.*",
    "==1.*.*", "!=1.2.*", "==1.2.*", "!=1.0", ">=0.5,!=1.0", "!=1.0,!=2.0", "<1.0 || >1.0",
    "^1.0 || ^2.0", ">2,<1", "1.0,2.0", "<2.0", "<2.0rc1", "<2.0.post1", "<2.0+abc", "<=1.0",
    "<=1.0+abc", ">1.0", ">1.0a1", ">=1.0+abc", "==1.0", "==1.0+a.b", "^1.2.3", "^0.2.3",
    "^0.0.3", "^0.0", "^0", "^0.0.0", "^0.0.0.1", "^1.2.3.4", "^1.0a1", "^0.0.dev1", "^1.2",
    "^1.0+abc", "~1", "~0", "~1.2", "~1.2.3", "~1.2.3.4", "~0.0", "~=1.2", "~=1.2.3",
    "~=1.2.3.4", "~=1", "~=1.2.post1", "^1!1.0", "<1!0", "<2.0.0-0", "==1.0A1", ">=1.0ALPHA1",
    "<1.0", "1.0\n", "1.0\n 2.0", "\x1c1.0", "1.0\x85", "x\n", "1.*\n", "~1.0.*", "^1.0.*",
    "~=1.0.*", "=1.5", "==1.5", "!=1.5", ">=3.6 <4", "v1.5", "1.5+local", "1.5.0.1",
    "8.0.36-0ubuntu0.22.04.1", "18446744073709551616", ">=18446744073709551615",
    "\u0661.*", "\u0661", "\uff11.0", "1.0\u200b", ">=1.0 <2.0 || ==3.0", ">1,!=2",
    "~=0.0.0.5", "^0.0.dev0", "1.0.post.", "1.0a.", "==1.0.post.*", "!=1.0.post1.*",
    "1.0.dev1.*", "1.0a1.dev1.*", "!=1.0a1.dev1.*", "<1.0a1.dev1.*",
]

EDGE_VERSIONS = [
    "1.0", "1", "1.0.0", "1.0.0.0", "01.00", "v1.0", "V1.0", "  1.0  ", "\t1.0\n", "\u3000 1.0",
    "1!0.5", "9.0", "1.0-rc.1", "1.0rc1", "1.0a", "1.0a0", "1.0a1", "1.0A1", "1.0ALPHA1",
    "1.0b2", "1.0c1", "1.0pre1", "1.0preview1", "1.0-1", "1.0.post1", "1.0.POST1", "1.0r1",
    "1.0rev1", "1.0dev", "1.0.dev", "1.0.dev0", "1.0.DEV0", "1.0.dev1", "1.0+abc", "1.0+ABC",
    "1.0+a.b", "1.0+A-B", "1.0+01", "1.0+1", "1.0+x", "1.0+abb", "1.0+abd", "1.0.post0.dev0",
    "1.0a0.dev0", "1.0a1.post1", "1.1.0rc1", "2.0a1", "2.0.dev0", "2.0.dev5", "2.0.0a1",
    "2.0.post1.dev0", "0.1.dev0", "1.3.0a1", "1.2.0a1", "1.2.dev0", "1.2.9.post1", "1.2+x",
    "1.3.dev0", "0.0.0.9", "1.5", "5.0", "18446744073709551616", "18446744073709551615",
    "", " ", "1..0", "1.0.", "1.0-", "1.0+", "1.0 1", "1.0rc1rc2", "1.0.post1.post2",
    "1.0-beta.1.2", "1.x", "\uff11.0", "\u0661.0", "1.0\u200b", "1.0+\u212a", "1.0.po\u017ft1",
    "8.0.36-0ubuntu0.22.04.1", "1.0.post.", "1.0a.", "dev", "0.0.dev0", "1.0a1.dev1",
    "1.2.0", "1.2", "2.0.0rc1", "1.0.0rc1", "0.9", "1.5+local", "1.5.0.1", "7", "3.3.2",
]

# ---------------------------------------------------------------------------------------------
# Random generation over the grammar.
# ---------------------------------------------------------------------------------------------

SEPS = ["", ".", "-", "_"]
PRE_LABELS = ["a", "alpha", "b", "beta", "rc", "c", "pre", "preview"]
POST_LABELS = ["post", "r", "rev"]
SPACES = [" ", "\t", "\u00a0", "\u3000", "\x1c", "\n", "\u2003", "\u0085"]
ODD_CHARS = [
    "\u00a0", "\u200b", "\u212a", "\u017f", "\uff11", "\u0661", "\u00e9", "\U0001f600", "\t",
    "\n", "\x00", "\x1f", "|", ",", " ", "-", "_", ".", "+", "*", "!", "=", "<", ">", "~", "^",
    "v", "x", "a", "dev", "post", "rc", "0", "9", "(", ")", "'", '"', "\\", "\u2028",
]
BIG_NUMBERS = ["18446744073709551615", "18446744073709551616", "99999999999999999999999"]


def case_variant(rng: random.Random, word: str) -> str:
    roll = rng.random()
    if roll < 0.8:
        return word
    if roll < 0.9:
        return word.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in word)


def number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return str(rng.choice([0, 0, 1, 1, 2, 3]))
    if roll < 0.85:
        return str(rng.randint(0, 12))
    if roll < 0.93:
        return rng.choice(["00", "01", "010", "007"])
    if roll < 0.98:
        return str(rng.randint(13, 2000))
    return rng.choice(BIG_NUMBERS)


def release(rng: random.Random) -> str:
    n = rng.choices([1, 2, 3, 4, 5], weights=[20, 30, 35, 10, 5])[0]
    return ".".join(number(rng) for _ in range(n))


def version(rng: random.Random, plain: float = 0.5) -> str:
    """A version string, mostly valid, in every spelling the grammar has."""
    s = ""
    if rng.random() < 0.05:
        s += rng.choice(["v", "V"])
    if rng.random() < 0.06:
        s += rng.choice(["0", "1", "2", "01"]) + "!"
    s += release(rng)
    if rng.random() < plain:
        return s
    if rng.random() < 0.35:
        s += rng.choice(SEPS) + case_variant(rng, rng.choice(PRE_LABELS))
        if rng.random() < 0.3:
            s += rng.choice(SEPS)
        if rng.random() < 0.8:
            s += number(rng)
    if rng.random() < 0.25:
        if rng.random() < 0.3:
            s += "-" + number(rng)
        else:
            s += rng.choice(SEPS) + case_variant(rng, rng.choice(POST_LABELS))
            if rng.random() < 0.3:
                s += rng.choice(SEPS)
            if rng.random() < 0.8:
                s += number(rng)
    if rng.random() < 0.25:
        s += rng.choice(SEPS) + case_variant(rng, "dev")
        if rng.random() < 0.3:
            s += rng.choice(SEPS)
        if rng.random() < 0.8:
            s += number(rng)
    if rng.random() < 0.2:
        segs = [
            rng.choice(["abc", "ubuntu", "x", "ABC", "1", "01", "22", "a1", "build5"])
            for _ in range(rng.randint(1, 3))
        ]
        s += "+" + segs[0] + "".join(rng.choice([".", "-", "_"]) + g for g in segs[1:])
    return s


def mutate(rng: random.Random, s: str) -> str:
    """A small random edit: most results are invalid, some land on odd valid forms."""
    for _ in range(rng.randint(1, 2)):
        i = rng.randint(0, len(s))
        roll = rng.random()
        if roll < 0.45:
            s = s[:i] + rng.choice(ODD_CHARS) + s[i:]
        elif roll < 0.7 and s:
            s = s[:i] + s[i + 1 :]
        elif roll < 0.85 and s:
            j = rng.randint(0, len(s))
            a, b = sorted((i, j))
            s = s[:b] + s[a:b] + s[b:]
        elif s:
            s = s[:i] + rng.choice(ODD_CHARS) + s[i + 1 :]
    return s


def pad(rng: random.Random, s: str) -> str:
    if rng.random() < 0.1:
        s = rng.choice(SPACES) + s
    if rng.random() < 0.1:
        s = s + rng.choice(SPACES)
    return s


def atom(rng: random.Random) -> tuple[str, str]:
    """One constraint atom and the version it was built around."""
    roll = rng.random()
    v = version(rng, plain=0.6)
    if roll < 0.04:
        return rng.choice(["*", "x", "X", "*.*", "v*", "x.x.x", "1.x", "V*", "x.*"]), v
    if roll < 0.06:
        return rng.choice(["dev", "DEV", "==dev", "<dev", ">=dev", "dev.*"]), "0.0.dev0"
    op = rng.choices(
        ["", "==", "=", "!=", "<", "<=", ">", ">=", "<>", "~", "~=", "^"],
        weights=[8, 10, 3, 8, 10, 8, 8, 12, 2, 8, 8, 10],
    )[0]
    space = ""
    if rng.random() < 0.12:
        space = rng.choice([" ", "  ", "\u00a0", "\t"])
    text = op + space + v
    if rng.random() < (0.35 if op in ("", "==", "!=", "=") else 0.06):
        base = ".".join(release(rng).split(".")[: rng.randint(1, 4)])
        text = op + space + (base if rng.random() < 0.7 else v) + ".*"
        if rng.random() < 0.1:
            text += ".*"
    return text, v


def constraint(rng: random.Random) -> tuple[str, list[str]]:
    groups = []
    versions = []
    for _ in range(rng.choices([1, 2, 3], weights=[70, 22, 8])[0]):
        atoms = []
        for _ in range(rng.choices([1, 2, 3], weights=[55, 35, 10])[0]):
            a, v = atom(rng)
            atoms.append(a)
            versions.append(v)
        seps = [",", ", ", " ", " , ", ",  ", "  ", ",,", " ,", ", ,"]
        weights = [30, 30, 25, 5, 2, 2, 2, 2, 2]
        text = atoms[0]
        for a in atoms[1:]:
            text += rng.choices(seps, weights=weights)[0] + a
        if rng.random() < 0.04:
            text += rng.choice([",", ",,", ", ", " ,"])
        groups.append(text)
    ors = [" || ", "||", "|", " | ", "  ||  ", " ||| ", "| |", "\u00a0||\u00a0"]
    text = groups[0]
    for g in groups[1:]:
        text += rng.choices(ors, weights=[50, 15, 10, 10, 5, 3, 3, 4])[0] + g
    return pad(rng, text), versions


# A small universe of close versions: constraints over it make intersections, unions and
# holes meet, which is where poetry-core's range algebra has its special cases.
DENSE = [
    "0.9", "1", "1.0", "1.0.0", "1.0a1", "1.0a1.dev0", "1.0b1", "1.0rc1", "1.0.dev0", "1.0.dev1",
    "1.0.post1", "1.0.post1.dev0", "1.0.post2", "1.0+x", "1.0+abc", "1.0.post1+x", "1.0a1+x",
    "1.1", "1.1.dev0", "1.5", "2", "2.0", "2.0a1", "2.0.dev0", "2.0.post1", "2.0+x", "3.0",
    "1!1.0", "0.0", "0.0.1", "1.0A1", "1.0.DEV0",
]


def dense_constraint(rng: random.Random) -> str:
    def one() -> str:
        op = rng.choices(["", "==", "!=", "<", "<=", ">", ">=", "~", "~=", "^"],
                         weights=[4, 4, 14, 8, 6, 8, 8, 3, 3, 4])[0]
        v = rng.choice(DENSE)
        if op in ("", "==", "!=") and rng.random() < 0.3:
            v = rng.choice(["1", "1.0", "2", "0", "1.0.post1", "1.0a1", "1.0.dev1"]) + ".*"
        return op + v

    groups = []
    for _ in range(rng.choices([1, 2, 3, 4], weights=[30, 35, 20, 15])[0]):
        groups.append(",".join(one() for _ in range(rng.choices([1, 2, 3, 4], weights=[25, 35, 25, 15])[0])))
    return " || ".join(groups)


def near(rng: random.Random, v: str) -> str:
    """A version close to `v`: the same release with another suffix, or a neighbour."""
    base = v.split("+")[0]
    head = ""
    for c in base:
        if c.isdigit() or c in ".!vV":
            head += c
        else:
            break
    head = head.rstrip(".") or "0"
    roll = rng.random()
    if roll < 0.25:
        return head
    if roll < 0.45:
        return head + rng.choice(["a1", "a0", "b1", "rc1", ".dev0", ".dev1", ".post1", ".post0.dev0",
                                  "a1.dev0", "+local", "+1", "rc1.post1", "A1", ".DEV0", ".POST1"])
    if roll < 0.6:
        parts = head.split(".")
        i = rng.randrange(len(parts))
        try:
            parts[i] = str(int(parts[i].lstrip("vV").split("!")[-1] or 0) + rng.choice([-1, 1]))
        except ValueError:
            pass
        return ".".join(p if not p.startswith("-") else "0" for p in parts)
    if roll < 0.7:
        return head + ".0"
    if roll < 0.8:
        return v
    return version(rng)


def generate(seed: int, count: int):
    rng = random.Random(seed)
    pairs = []
    seen = set()

    def add(c: str, v: str) -> None:
        if (c, v) not in seen:
            seen.add((c, v))
            pairs.append((c, v))

    for c, vs in REFERENCE_TESTS.items():
        for v in vs:
            add(c, v)
    for c in EDGE_CONSTRAINTS:
        for v in EDGE_VERSIONS:
            if rng.random() < 0.12 or v in ("1.0", "1.0a1", "1.0.post1", "1.0+x", "2.0a1"):
                add(c, v)
    while len(pairs) < count:
        roll = rng.random()
        if roll > 0.75:
            c = dense_constraint(rng)
            for _ in range(rng.randint(2, 5)):
                add(c, rng.choice(DENSE))
            continue
        c, versions = constraint(rng)
        if roll < 0.12:
            c = mutate(rng, c)
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.7 and versions:
                v = near(rng, rng.choice(versions))
            else:
                v = version(rng, plain=0.3)
            if rng.random() < 0.06:
                v = mutate(rng, v)
            add(c, pad(rng, v))
    return pairs[:count]


def realistic(seed: int, count: int):
    """Pairs in the shapes charm authors write in a dependency model (the reference library's
    own tests and docs): caret, tilde and compatible-release ranges, explicit bounds, a
    wildcard or an exact pin on small release numbers, sometimes two ranges joined by `||`;
    versions mostly plain, some pre- and post-releases. For the benchmark's second view (how
    fast on everyday input), beside the corpus over the whole grammar."""
    rng = random.Random(seed)

    def rel(n: int) -> str:
        return ".".join(str(rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 7, 10, 12, 22])) for _ in range(n))

    def one() -> str:
        v = rel(rng.choice([1, 2, 2, 3, 3, 3]))
        shape = rng.random()
        if shape < 0.25:
            return f"^{v}"
        if shape < 0.40:
            return f"~{v}"
        if shape < 0.50:
            return f"~={rel(rng.choice([2, 3]))}"
        if shape < 0.75:
            return f">={v}, <{rel(rng.choice([1, 2]))}" if rng.random() < 0.5 else f">={v},<{rel(1)}"
        if shape < 0.85:
            return f"=={rel(rng.choice([1, 2]))}.*"
        if shape < 0.95:
            return rng.choice(["", "=="]) + v
        return rng.choice([">", ">=", "<", "<=", "!="]) + v

    def ver() -> str:
        v = rel(rng.choice([2, 3, 3, 3]))
        roll = rng.random()
        if roll < 0.08:
            v += rng.choice(["a1", "b2", "rc1"])
        elif roll < 0.12:
            v += ".post1"
        elif roll < 0.14:
            v += ".dev0"
        return v

    def near(c: str) -> str:
        # A version next to one the constraint names: the cases an upgrade check decides.
        parts = [int(n) for n in re.findall(r"[0-9]+", rng.choice(re.findall(r"[0-9][0-9.]*", c)))]
        i = rng.randrange(len(parts))
        parts[i] = max(0, parts[i] + rng.choice([-1, 0, 0, 1]))
        return ".".join(map(str, parts)) + rng.choice(["", "", "", "", ".0", "rc1", ".post1"])

    pairs = []
    while len(pairs) < count:
        c = one() if rng.random() < 0.85 else f"{one()} || {one()}"
        for _ in range(rng.randint(1, 4)):
            pairs.append((c, near(c) if rng.random() < 0.6 else ver()))
    return pairs[:count]


# ---------------------------------------------------------------------------------------------
# Labelling with poetry-core.
# ---------------------------------------------------------------------------------------------


def label(c: str, v: str) -> tuple[str, str | None]:
    from poetry.core.constraints.version import Version, parse_constraint

    try:
        parsed = parse_constraint(c)
    except Exception:  # noqa: BLE001 - any failure is what the library would see
        return "invalid-constraint", None
    text = str(parsed)
    try:
        ver = Version.parse(v)
    except Exception:  # noqa: BLE001
        return "invalid-version", text
    try:
        allowed = parsed.allows(ver)
    except Exception:  # noqa: BLE001 - never seen; recorded so a check can flag it
        return "allows-raised", text
    return ("true" if allowed else "false"), text


def check_poetry_core() -> None:
    from importlib.metadata import version as dist_version

    found = dist_version("poetry-core")
    if found != "2.5.0":
        sys.exit(f"poetry_oracle: need poetry-core 2.5.0, found {found} (run scripts/oracle-venv.sh)")


def emit(pairs, out) -> None:
    check_poetry_core()
    for c, v in pairs:
        r, s = label(c, v)
        row = {"c": c, "v": v, "r": r}
        if s is not None:
            row["s"] = s
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def bench(path: str, rounds: int, no_cache: bool) -> None:
    """poetry-core's parse+allows throughput on a corpus. By default with poetry-core's own
    functools caches (cleared before each round, so repeated strings within a round hit
    them); with --no-cache every pair is parsed afresh, as the Rust side does: the constraint
    without `parse_constraint`'s cache, and every version, the pair's and each one inside the
    constraint's atoms, without `PEP440Parser.parse`'s cache (the only other shared cache on
    this path; the `cached_property`s live on each fresh object)."""
    from poetry.core.constraints.version import Version, parse_constraint
    from poetry.core.constraints.version.parser import _parse_constraint
    from poetry.core.version.pep440.parser import PEP440Parser

    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    pairs = [(r["c"], r["v"]) for r in rows]
    cached_parse = PEP440Parser.__dict__["parse"]
    if no_cache:
        PEP440Parser.parse = classmethod(cached_parse.__func__.__wrapped__)
    one = _parse_constraint if no_cache else parse_constraint
    best = None
    try:
        for _ in range(rounds):
            parse_constraint.cache_clear()
            cached_parse.__func__.cache_clear()
            start = time.perf_counter()
            for c, v in pairs:
                try:
                    one(c).allows(Version.parse(v))
                except Exception:  # noqa: BLE001
                    pass
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
    finally:
        PEP440Parser.parse = cached_parse
    print(json.dumps({"pairs": len(pairs), "seconds": best, "pairs_per_second": len(pairs) / best}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="print unlabelled pairs as JSON lines")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--count", type=int, default=30000)
    c = sub.add_parser("corpus", help="generate and label")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--count", type=int, default=30000)
    r = sub.add_parser("realistic", help="generate and label everyday constraints (for the benchmark)")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--count", type=int, default=30000)
    sub.add_parser("label", help="label JSON lines {c, v} from stdin")
    b = sub.add_parser("bench", help="poetry-core throughput on a corpus")
    b.add_argument("--corpus", required=True)
    b.add_argument("--rounds", type=int, default=3)
    b.add_argument("--no-cache", action="store_true", help="parse every pair afresh")
    args = ap.parse_args()

    if args.cmd == "generate":
        for cst, ver in generate(args.seed, args.count):
            sys.stdout.write(json.dumps({"c": cst, "v": ver}, ensure_ascii=False) + "\n")
    elif args.cmd == "corpus":
        emit(generate(args.seed, args.count), sys.stdout)
    elif args.cmd == "realistic":
        emit(realistic(args.seed, args.count), sys.stdout)
    elif args.cmd == "label":
        emit(((r["c"], r["v"]) for r in map(json.loads, sys.stdin)), sys.stdout)
    elif args.cmd == "bench":
        bench(args.corpus, args.rounds, args.no_cache)


if __name__ == "__main__":
    main()
