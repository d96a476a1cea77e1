"""Is constraints.txt current? Compares it with the packages caucus[dev] needs, as installed.

Walks the requirements of the installed ``caucus`` distribution (with its dev extra, which
includes the postgresql extra) through every installed dependency, and checks that each
package reached is pinned in constraints.txt at the installed version, and that the lock pins
nothing else beyond pip and setuptools. Run by ``make test`` (so by CI) after the dev
install; ``make lock`` writes the file anew.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent.parent / "constraints.txt"
TOOLS = {"pip", "setuptools"}


def pinned(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, separator, version = line.partition("==")
        if not separator:
            raise SystemExit(f"{path.name}: {raw!r} is not a name==version pin")
        pins[canonicalize_name(name)] = version.strip()
    return pins


def needed(root: str, extras: set[str]) -> dict[str, str]:
    """Every installed distribution ``root[extras]`` reaches: name -> installed version."""
    found: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        key = canonicalize_name(name)
        if (key, wanted) in seen:
            continue
        seen.add((key, wanted))
        distribution = metadata.distribution(name)
        if key != canonicalize_name(root):
            found[key] = distribution.version
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def main() -> int:
    pins = pinned(LOCK)
    installed = needed("caucus", {"dev"})
    problems = [
        f"{name} {version} is installed but pinned at {pins[name]}"
        if name in pins
        else f"{name} {version} is needed but not pinned"
        for name, version in sorted(installed.items())
        if pins.get(name) != version
    ]
    problems += [
        f"{name} is pinned but no longer needed"
        for name in sorted(set(pins) - set(installed) - TOOLS)
    ]
    if problems:
        print(f"{LOCK.name} is not current:", *problems, sep="\n  ", file=sys.stderr)
        print("fix: run `make lock`, then commit constraints.txt", file=sys.stderr)
        return 1
    print(f"{LOCK.name}: {len(pins)} pins, current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
