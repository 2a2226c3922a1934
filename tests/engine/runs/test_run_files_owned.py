"""The run directory's file and folder names are spelled under ``engine/runs/`` only.

Everything else asks ``Run`` (or ``store`` for the listing) where a run's files are, so the contract
in docs/architecture.md has one owner. Scanned from the source with ``ast``: a string literal (not a
docstring, not a dict key) that is one of those names or a path with one as a part (``"artifacts"``,
``"/artifacts/x"``), and a path built with the store's constants (``run_dir / store.METRICS``).
Prose that mentions a file (a help text saying "worker.log") is not a path and is left alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "slm_workbench"
OWNER = PACKAGE / "engine" / "runs"
NAMES = ("artifacts", "checkpoints", "metrics.jsonl", "events.jsonl", "status.json", "recipe.yaml", "worker.log")
SPELLED = re.compile(r"(?:^|/)(" + "|".join(re.escape(n) for n in NAMES) + r")(?:/|$)")
"""A name as a whole path part, in a literal without spaces (a path, not a sentence)."""
STORE_PATHS = {"RECIPE", "STATUS", "EVENTS", "METRICS", "LOG", "CHECKPOINTS", "ARTIFACTS"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
        # an attribute's docstring: a bare string right after an assignment
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            for stmt in stmts if isinstance(stmts, list) else []:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    found.add(id(stmt.value))
    return found


def _is_store_path(node: ast.AST, imported: set[str]) -> bool:
    """``store.METRICS``, or ``METRICS`` imported from the store."""
    if isinstance(node, ast.Name):
        return node.id in imported
    return isinstance(node, ast.Attribute) and node.attr in STORE_PATHS and \
        isinstance(node.value, ast.Name) and node.value.id == "store"


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _docstrings(tree)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            skip.update(id(key) for key in node.keys if key is not None)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("runs.store"):
            imported.update(a.asname or a.name for a in node.names if a.name in STORE_PATHS)
    where = path.relative_to(PACKAGE.parent)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value.strip()
            match = SPELLED.search(text) if text and " " not in text else None
            if match:
                found.append(f"{where}:{node.lineno}: {match.group(1)!r} in {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _is_store_path(node.right, imported):
            found.append(f"{where}:{node.lineno}: a path built with the store's {ast.unparse(node.right)}")
    return found


def test_run_file_names_are_spelled_only_under_engine_runs() -> None:
    offences = [line for path in sorted(PACKAGE.rglob("*.py")) if OWNER not in path.parents
                for line in _offences(path)]
    assert not offences, "run-directory names spelled outside engine/runs/ (ask Run instead):\n" + "\n".join(offences)
