"""Write ``trials.jsonl`` and ``sweep_report.json`` (``summary.py``) from the study, after every trial.

Importances use Optuna's default evaluator, PED-ANOVA, which needs only numpy (fANOVA and
mean-decrease-impurity need scikit-learn, which the workbench does not install); they are
computed once ``MIN_IMPORTANCE_TRIALS`` trials are complete (``summary.py`` says why that many).
What PED-ANOVA warns about goes into the report as ``importance_notes``; only Optuna's notice that
an argument is experimental is dropped (it is about the API, not about this sweep).
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from pathlib import Path
from typing import Any

from .study import pruning_value
from .summary import MIN_IMPORTANCE_TRIALS, REPORT, TRIALS, best_trial, write_atomic

IMPORTANCE_METHOD = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)"
_STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "RUNNING": "running", "WAITING": "waiting", "FAIL": "failed"}
_lock = threading.Lock()


def trial_row(trial: Any, recipe: Any) -> dict[str, Any]:
    attrs = trial.user_attrs
    value = trial.value if trial.values else None
    if trial.state.name == "PRUNED":  # Optuna keeps its last report as its value: an eval loss, as reported
        value = None
        if trial.intermediate_values and recipe.metric == "eval_loss":  # only then the metric's own unit
            value = pruning_value(trial.intermediate_values[max(trial.intermediate_values)], recipe.goal)
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


def importances(study: Any) -> tuple[dict[str, float], list[str]]:
    """PED-ANOVA shares of the parameters (best first, summing to 1) and what to say about them.

    None below ``MIN_IMPORTANCE_TRIALS`` complete trials. Optuna normalises all-zero importances
    to equal shares, which would read as "every parameter matters as much"; they are computed
    unnormalised here, and all zeros become a note instead of bars."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_IMPORTANCE_TRIALS or not complete[0].params:
        return {}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), normalize=False)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            return {}, [f"PED-ANOVA could not run: {exc}".splitlines()[0]]
    notes = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught
                               if not issubclass(w.category, optuna.exceptions.ExperimentalWarning)))
    found = {k: float(v) for k, v in raw.items() if math.isfinite(v) and v >= 0}
    total = sum(found.values())
    if total <= 0:
        return {}, [*notes, f"every importance is 0 on {len(complete)} complete trials: no parameter sets the best "
                            "trials apart from the others"]
    shares = sorted(((k, v / total) for k, v in found.items()), key=lambda kv: -kv[1])
    return {k: round(v, 4) for k, v in shares}, notes


def write_summary(study: Any, recipe: Any, artifacts: Path, *, location: str, dashboard: str) -> dict[str, Any]:
    """Rewrite both files from the study as it stands; returns the report."""
    with _lock:
        rows = [trial_row(t, recipe) for t in study.get_trials(deepcopy=False)]
        retried = {r["retry_of"] for r in rows}
        for row in rows:  # a trial whose worker died is retried, not marked: its retry says so
            row["interrupted"] = row["interrupted"] or row["number"] in retried
        counts = {state: sum(r["state"] == state for r in rows) for state in _STATE_NAMES.values()}
        found, notes = importances(study)
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
            "importance_notes": notes,
            "importance_min_trials": MIN_IMPORTANCE_TRIALS,
            "params": dict(recipe.params),
            "base": recipe.train,
        }
        write_atomic(artifacts / TRIALS, "".join(json.dumps(r, default=str) + "\n" for r in rows))
        write_atomic(artifacts / REPORT, json.dumps(report, indent=2, default=str))
    return report
