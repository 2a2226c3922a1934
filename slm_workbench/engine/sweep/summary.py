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
``best`` (a row as above), ``importances`` (parameter -> share, PED-ANOVA; empty below
``MIN_IMPORTANCE_TRIALS`` complete trials), ``importance_method``, ``importance_notes`` (what
PED-ANOVA warned about, or why there are no shares), ``importance_min_trials``, ``base`` (the
training recipe the trials start from).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRIALS = "trials.jsonl"
REPORT = "sweep_report.json"
JOURNAL = "optuna.journal"
"""The study's journal file in the sweep's run folder (the default storage)."""
STATES = ("complete", "pruned", "running", "waiting", "failed")
MIN_IMPORTANCE_TRIALS = 8
"""Complete trials before parameter importances are computed or shown.

PED-ANOVA (Optuna's default evaluator) compares where the top 10% of the complete trials put
each parameter with where all of them did; pruned trials do not count. On 2-4 trials that "top"
is one trial and the shares only say where it happened to land. 8 is a floor chosen so that a
12-trial sweep with a few pruned trials still ends with importances; it is not a guarantee:
Optuna's documentation asks for about 5 trials above the quantile (some 50 trials) for stable
values, which is why the pane prints the count beside the bars."""


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
    """Complete trials best first, then pruned ones by where they stood when stopped (a partial
    value never outranks a finished one), then the rest by number."""
    sign = -1 if direction == "maximize" else 1

    def key(row: dict[str, Any]) -> tuple[int, float, int]:
        value = row.get("value")
        scored = isinstance(value, (int, float))
        group = {"complete": 0, "pruned": 1}.get(row.get("state", ""), 2) if scored else 2
        return group, sign * value if scored and group < 2 else 0.0, row.get("number", 0)

    return sorted(rows, key=key)


def best_trial(rows: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The best complete trial (pruned trials' values are partial and never win)."""
    complete = [r for r in rows if r.get("state") == "complete"]
    top = ranked(complete, direction)
    return top[0] if top and isinstance(top[0].get("value"), (int, float)) else None


@dataclass
class ImportanceView:
    """What the Sweep pane shows for importances: shares (best first) or why there are none."""

    shares: dict[str, float] = field(default_factory=dict)
    complete: int = 0
    needed: int = MIN_IMPORTANCE_TRIALS
    notes: list[str] = field(default_factory=list)

    @property
    def enough(self) -> bool:
        return self.complete >= self.needed


def importance_view(report: dict[str, Any], rows: list[dict[str, Any]]) -> ImportanceView:
    """The importances a report holds, held back below the minimum of complete trials (counted
    from the rows, so a report written by an older workbench on 3 trials shows no bars either)."""
    needed = report.get("importance_min_trials")
    needed = needed if isinstance(needed, int) and needed > 0 else MIN_IMPORTANCE_TRIALS
    complete = sum(1 for r in rows if r.get("state") == "complete")
    notes = [str(n) for n in report.get("importance_notes") or [] if n]
    shares = report.get("importances") or {}
    if complete < needed or not isinstance(shares, dict):
        return ImportanceView({}, complete, needed, notes)
    clean = {str(k): float(v) for k, v in shares.items() if isinstance(v, (int, float))}
    return ImportanceView(dict(sorted(clean.items(), key=lambda kv: -kv[1])), complete, needed, notes)
