"""The package's layering: no import circles, and no two packages importing each other.

Read from the source with ``tests/layering/import_map.py`` (a copy of the tool the issue measured with:
``ast`` only, nothing imported; an import inside a function counts; circles are looked for without
and with the imports under ``if TYPE_CHECKING:``, as the tool's ``--type-checking`` counts them).
A package here is ``config``, ``cli``, ``ui``, ``demo``, or one of ``engine/<pkg>`` (a module directly
under ``engine/``, such as ``engine/events.py``, is a unit of its own).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.layering.import_map import circles, imports_of, module_name

ROOT = Path(__file__).resolve().parent.parent / "slm_workbench"


def _graph(type_checking: bool) -> dict[str, set[str]]:
    files = {module_name(ROOT, p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    return {mod: imports_of(path, mod, path.name == "__init__.py", known, type_checking) for mod, path in files.items()}


def _unit(module: str) -> str | None:
    """``slm_workbench.engine.train.kd`` -> ``engine.train``; ``slm_workbench.cli.main`` -> ``cli``."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    if parts[0] == "engine" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


@pytest.mark.parametrize("type_checking", [False, True], ids=["runtime", "type-checking"])
def test_no_import_circles(type_checking: bool) -> None:
    graph = _graph(type_checking)
    found = circles(graph)
    report = []
    for comp in found:
        members = set(comp)
        edges = [f"    {m} -> {t}" for m in comp for t in sorted(graph[m] & members)]
        report.append(f"  circle of {len(comp)} modules:\n" + "\n".join(edges))
    assert not found, f"{len(found)} import circle(s) in slm_workbench:\n" + "\n".join(report)


def test_no_two_packages_import_each_other() -> None:
    """At run time. (A stage's ``stage.py`` names ``runs.context.RunContext`` in its annotations while
    ``runs`` reads what stages produce; an annotation is not a dependency.)"""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for mod, targets in _graph(False).items():
        for target in targets:
            a, b = _unit(mod), _unit(target)
            if a and b and a != b:
                edges[(a, b)].append(f"{mod} -> {target}")
    pairs = sorted({tuple(sorted(pair)) for pair in edges if pair[::-1] in edges})
    report = []
    for a, b in pairs:
        report.append(f"  {a} <-> {b}:\n" + "\n".join(f"    {e}" for e in sorted(edges[(a, b)] + edges[(b, a)])))
    assert not pairs, f"{len(pairs)} pair(s) of packages import each other:\n" + "\n".join(report)
