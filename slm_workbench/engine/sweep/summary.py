"""What a sweep leaves for its readers: ``artifacts/trials.jsonl`` and ``artifacts/sweep_report.json``.

The sweep job rewrites both (atomically) after every trial, from the study; the Sweep pane and
``slmw runs show`` read them and never import Optuna. Reading never raises: a missing or damaged
file reads as empty.

``trials.jsonl``, one row per trial, in trial order::

    {"number": 3, "state": "complete", "value": 1.92, "params": {"learning_rate": 0.003, "lora.r": 16},
     "run_id": "20250101-120000-train-ab12", "task": 0.81, "eval_loss": 1.92, "steps": 24,
     "pruned_at": null, "retry_of": null, "worker": "20250101-115900-sweep-cd34", "error": null}

``sweep_report.json``: ``study``, ``storage``, ``dashboard`` (the command that opens the storage
in optuna-dashboard), ``metric``, ``direction``, ``trials`` (wanted), ``counts`` by state,
``best`` (a row as above), ``importances`` (parameter -> share, PED-ANOVA) and
``importance_method``, ``base`` (the training recipe the trials start from).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TRIALS = "trials.jsonl"
REPORT = "sweep_report.json"
JOURNAL = "optuna.journal"
"""The study's journal file in the sweep's run folder (the default storage)."""
STATES = ("complete", "pruned", "running", "waiting", "failed")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_trials(artifacts: Path) -> list[dict[str, Any]]:
    try:
        lines = (artifacts / TRIALS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_report(artifacts: Path) -> dict[str, Any]:
    try:
        data = json.loads((artifacts / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ranked(rows: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    """Trials with a value first, best first (ties by trial number); the rest after, by number."""
    scored = [r for r in rows if isinstance(r.get("value"), (int, float))]
    sign = -1 if direction == "maximize" else 1
    scored.sort(key=lambda r: (sign * r["value"], r.get("number", 0)))
    rest = sorted((r for r in rows if r not in scored), key=lambda r: r.get("number", 0))
    return scored + rest


def best_trial(rows: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The best complete trial (pruned trials' values are partial and never win)."""
    complete = [r for r in rows if r.get("state") == "complete"]
    top = ranked(complete, direction)
    return top[0] if top and isinstance(top[0].get("value"), (int, float)) else None
