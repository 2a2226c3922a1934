"""Write ``trials.jsonl`` and ``sweep_report.json`` (``summary.py``) from the study, after every trial.

Importances use Optuna's default evaluator, PED-ANOVA, which needs only numpy (fANOVA and
mean-decrease-impurity need scikit-learn, which the workbench does not install); they are
computed once at least two trials are complete.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from .summary import REPORT, TRIALS, best_trial, write_atomic

IMPORTANCE_METHOD = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)"
_STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "RUNNING": "running", "WAITING": "waiting", "FAIL": "failed"}
_lock = threading.Lock()


def trial_row(trial: Any) -> dict[str, Any]:
    attrs = trial.user_attrs
    value = trial.value if trial.values else None
    if trial.state.name == "PRUNED" and value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]  # where it stood when pruned
    worker = attrs.get("worker") or {}
    return {
        "number": trial.number,
        "state": _STATE_NAMES.get(trial.state.name, trial.state.name.lower()),
        "value": value if value is None or math.isfinite(value) else None,
        "params": dict(trial.params),
        "run_id": attrs.get("run_id"),
        "task": attrs.get("task"),
        "task_run": attrs.get("task_run"),
        "eval_loss": attrs.get("eval_loss"),
        "steps": attrs.get("steps"),
        "pruned_at": attrs.get("pruned_at"),
        "retry_of": attrs.get("retry_of"),
        "interrupted": bool(attrs.get("interrupted")),
        "worker": worker.get("run"),
        "error": attrs.get("error"),
        "started": trial.datetime_start.timestamp() if trial.datetime_start else None,
        "ended": trial.datetime_complete.timestamp() if trial.datetime_complete else None,
    }


def importances(study: Any) -> dict[str, float]:
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or not complete[0].params:
        return {}
    try:
        found = optuna.importance.get_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {k: round(float(v), 4) for k, v in found.items() if math.isfinite(v)}


def write_summary(study: Any, recipe: Any, artifacts: Path, *, location: str, dashboard: str) -> dict[str, Any]:
    """Rewrite both files from the study as it stands; returns the report."""
    import warnings

    with _lock:
        rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
        retried = {r["retry_of"] for r in rows}
        for row in rows:  # a trial whose worker died is retried, not marked: its retry says so
            row["interrupted"] = row["interrupted"] or row["number"] in retried
        counts = {state: sum(r["state"] == state for r in rows) for state in _STATE_NAMES.values()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature notes
            found = importances(study)
        report = {
            "study": study.study_name,
            "storage": location,
            "dashboard": dashboard,
            "metric": recipe.metric,
            "direction": recipe.goal,
            "trials": recipe.trials,
            "counts": counts,
            "best": best_trial(rows, recipe.goal),
            "importances": found,
            "importance_method": IMPORTANCE_METHOD if found else None,
            "params": dict(recipe.params),
            "base": recipe.train,
        }
        write_atomic(artifacts / TRIALS, "".join(json.dumps(r, default=str) + "\n" for r in rows))
        write_atomic(artifacts / REPORT, json.dumps(report, indent=2, default=str))
    return report
