"""The export package stands on its own: nothing in it imports the comparison (compare builds on export)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import slm_workbench

PROBE = """
import importlib, pkgutil, sys
import slm_workbench.engine.export as export
names = [m.name for m in pkgutil.iter_modules(export.__path__, export.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(len(names), *sorted(m for m in sys.modules if m.startswith("slm_workbench.engine.compare")))
"""


def test_no_export_module_imports_compare() -> None:
    root = Path(slm_workbench.__file__).parent.parent
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    count, *compare_modules = done.stdout.split()
    assert int(count) >= 8  # stage, export, builder, presets, source ... were all imported
    assert compare_modules == []


def test_no_export_module_imports_compare_inside_a_function_either() -> None:
    import ast

    package = Path(slm_workbench.__file__).parent / "engine" / "export"
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}:{node.lineno} {m}" for m in modules if "compare" in m.split(".")]
    assert len(list(package.glob("*.py"))) >= 8 and offenders == []
