"""A trial's task score: an ``eval`` job on the trial's run, the one evaluator (docs/eval.md).

The score is ``metrics.task.mean`` of the eval run's ``eval_report.json``, so "task score"
means what it means everywhere else in the workbench. The eval job is an ordinary run (it
shows in Runs); a stop of the sweep stops it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..runs import children, launcher, store
from ..runs.run import Run
from ..stages import find_stage

EVAL_REPORT = "eval_report.json"
POLL_S = 0.5


class TaskScoreUnavailable(Exception):
    """The task score could not be measured (no eval stage, or the eval job did not finish)."""


def eval_stage_available() -> bool:
    return find_stage("eval") is not None


def task_score(run_id: str, examples: int, *, run_store: store.RunStore, title: str,
               stop_requested: Callable[[], bool]) -> tuple[float | None, str]:
    """(the task score of run ``run_id`` on ``examples`` held-out examples, the eval run's id).

    Raises ``TaskScoreUnavailable`` (with the reason) when it cannot be measured, and
    ``errors.Cancelled`` when ``stop_requested()`` turns true while the eval job runs (after
    stopping it)."""
    if not eval_stage_available():
        raise TaskScoreUnavailable("this workbench has no eval stage")
    from ...config.eval import EvalRecipe
    from ..errors import WorkbenchError

    recipe = EvalRecipe(target=run_id, max_examples=examples)
    try:
        run_dir = launcher.start_recipe(recipe, title=title, run_store=run_store)
    except WorkbenchError as exc:  # its launch check refused (no held-out data, say)
        raise TaskScoreUnavailable(exc.message) from None
    info = children.follow(run_dir, run_store=run_store, stop_requested=stop_requested, poll_s=POLL_S)
    if info.state != "done":
        raise TaskScoreUnavailable(f"eval run {run_dir.name} ended {info.state}")
    return read_task_score(Run(run_dir).artifact(EVAL_REPORT)), run_dir.name


def read_task_score(report: Path) -> float | None:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        mean = data["metrics"]["task"]["mean"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TaskScoreUnavailable(f"no task score in {report}") from None
    return float(mean) if isinstance(mean, (int, float)) else None
