"""Print how the running environment differs from lock files: ``python scripts/lock_diff.py LOCK [LOCK ...]``.

Run with the environment's Python. Lists packages whose installed version differs from the locked one (upgrades
first), packages installed but not locked, and locked packages not installed. nbchat itself is left out.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(paths: list[str]) -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line in the lock files."""
    out = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if m := PIN.match(line):
                out[canonicalize_name(m[1])] = m[2]
    return out


def installed() -> dict[str, str]:
    """``{name: version}`` of every distribution in this environment (pip and nbchat left out)."""
    skip = {"pip", "nbchat", "setuptools", "wheel"}
    return {
        name: dist.version
        for dist in metadata.distributions()
        if (name := canonicalize_name(dist.metadata["Name"])) not in skip
    }


def main(paths: list[str]) -> int:
    lock, env = locked(paths), installed()
    changed = sorted((n, lock[n], env[n]) for n in lock.keys() & env.keys() if Version(lock[n]) != Version(env[n]))
    newer = [c for c in changed if Version(c[2]) > Version(c[1])]
    older = [c for c in changed if Version(c[2]) < Version(c[1])]
    print(
        f"{len(newer)} newer than the lock, {len(older)} older, {len(env.keys() - lock.keys())} not in it, "
        f"{len(lock.keys() - env.keys())} locked but not installed"
    )
    for title, rows in (("newer", newer), ("older", older)):
        for name, was, now in rows:
            print(f"  {title:<6} {name:<32} {was:>14} -> {now}")
    for name in sorted(env.keys() - lock.keys()):
        print(f"  added  {name:<32} {'':>14}    {env[name]}")
    for name in sorted(lock.keys() - env.keys()):
        print(f"  gone   {name:<32} {lock[name]:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
