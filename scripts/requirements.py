#!/usr/bin/env python3
"""Rewrites the "Where" column of docs/requirements.md from the tree.

Each requirement of docs/requirements.md has an id (A1, N11, S4, D7, O3,
...). Code cites it as `req N11` in a comment; unit tests are named after
it (`n11_...`); end-to-end cases cite it in a comment. This script finds
those places and writes them under each requirement, so the index cannot
drift from the code. Usage: scripts/requirements.py [--check] (from
anywhere); --check writes nothing and exits 1 when the page is stale.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "requirements.md")
SKIP = {"target", ".git", "docs"}


def files():
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = sorted(x for x in dirs if x not in SKIP and not x.startswith("."))
        for n in sorted(names):
            if n.endswith((".rs", ".sh", ".py")):
                yield os.path.join(d, n)


def expand(a, b):
    """req N1–N4 -> N1 N2 N3 N4."""
    letter = a[0]
    lo, hi = int(a[1:]), int(b.lstrip(letter))
    return [f"{letter}{i}" for i in range(lo, hi + 1)]


def main():
    cites, tests = {}, {}
    for path in files():
        rel = os.path.relpath(path, ROOT)
        if rel == "scripts/requirements.py":
            continue
        is_test = rel.startswith(("tests/", "benches/")) or "/tests" in rel or rel.endswith("tests.rs")
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"req ([ADNOS][0-9]+)(?:[–-]([ADNOS]?[0-9]+))?", text):
            ids = expand(m.group(1), m.group(2)) if m.group(2) else [m.group(1)]
            for i in ids:
                (tests if is_test else cites).setdefault(i, set()).add(rel)
        for m in re.finditer(r"fn ([adnos][0-9]+)_[a-z0-9_]+", text):
            tests.setdefault(m.group(1).upper(), set()).add(rel)
    doc = open(DOC, encoding="utf-8").read()
    known = set(re.findall(r"^- \*\*([ADNOS][0-9]+)\*\*", doc, re.M))
    unknown = sorted((set(cites) | set(tests)) - known)
    if unknown:
        sys.exit("requirements.py: cited but not in docs/requirements.md: " + " ".join(unknown))

    def where(m):
        i = m.group(1)
        impl = ", ".join(f"`{p}`" for p in sorted(cites.get(i, ()))) or "—"
        test = ", ".join(f"`{p}`" for p in sorted(tests.get(i, ()))) or "—"
        return f"{m.group(0)}\n  - implemented: {impl}\n  - tested: {test}"

    new = re.sub(r"\n  - implemented: .*\n  - tested: .*", "", doc)
    new = re.sub(r"^- \*\*([ADNOS][0-9]+)\*\*.*$", where, new, flags=re.M)
    if "--check" in sys.argv[1:]:
        if new != doc:
            sys.exit("requirements.py: docs/requirements.md is stale; run scripts/requirements.py")
        return
    open(DOC, "w", encoding="utf-8").write(new)


if __name__ == "__main__":
    main()
