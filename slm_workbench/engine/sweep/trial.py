"""One sweep trial: an ordinary training run, followed, pruned from its eval losses, then scored.

The objective starts the training job through the launcher (so the run is listed in Runs,
can be stopped, resumed, compared), follows its ``metrics.jsonl`` and reports each
``eval_loss`` to Optuna at its step. When the pruner says so the run is stopped the way
``slmw runs stop`` stops it (it checkpoints and ends ``cancelled``) and the trial ends
``PRUNED``. A finished run gets its task score (``task.py``). A trial retried after its worker died
or was stopped resumes the run it had (``resume_run``, stopped first if it still trains)
instead of training from scratch.

What a trial knows is kept in its user attributes: ``run_id``, ``worker`` (the sweep job
that ran it: run id, host, pid) and ``heartbeat`` (``liveness.py``), ``task``, ``task_run``,
``eval_loss``, ``steps``, ``pruned_at``, ``error``, ``interrupted`` (the sweep was stopped
under it), ``retry_of``, ``resume_run`` and ``attempt`` (a retry).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import Cancelled, WorkbenchError
from ..runs import children, launcher, stopping, store
from ..runs.context import RunContext
from ..runs.run import Run
from ..runs.status import TERMINAL_STATES
from ...config.sweep_space import Param, apply
from .liveness import Heartbeat
from .study import pruning_value
from .task import TaskScoreUnavailable, task_score

POLL_S = 0.5
MAX_FAILURES_IN_A_ROW = 3


class TrialFailed(Exception):
    """The trial's training run failed (the trial ends FAIL; the sweep goes on)."""


def suggest(trial: Any, param: Param) -> Any:
    if param.kind == "choice":
        return trial.suggest_categorical(param.name, list(param.choices))
    if param.kind == "int":
        return trial.suggest_int(param.name, int(param.low), int(param.high), step=param.step)  # type: ignore[arg-type]
    return trial.suggest_float(param.name, float(param.low), float(param.high), log=param.log)  # type: ignore[arg-type]


class TrialRunner:
    """The objective of ``study.optimize``: thread-safe, one call per trial."""

    def __init__(self, recipe: Any, ctx: RunContext, params: list[Param], worker: dict[str, Any],
                 run_store: store.RunStore, on_change: Any = lambda: None, heartbeat_s: float | None = None) -> None:
        self.recipe = recipe
        self.heartbeat_s = heartbeat_s
        """Seconds between the trial's ``heartbeat`` records; None: the storage keeps its own (a database)."""
        self.started = 0
        """Trials this runner has begun."""
        self.on_change = on_change
        """Called when a trial has started its run (the summary shows it running)."""
        self.ctx = ctx
        self.params = params
        self.worker = worker
        self.run_store = run_store
        self._lock = threading.Lock()
        self._failures_in_a_row = 0
        self._warned_task = False

    # -- the objective -----------------------------------------------------------------------
    def __call__(self, trial: Any) -> float:
        self.ctx.check_cancelled()
        with self._lock:
            self.started += 1
        trial.set_user_attr("worker", self.worker)
        if self.heartbeat_s is None:
            return self._run(trial)
        with Heartbeat(trial, self.heartbeat_s):
            return self._run(trial)

    def _run(self, trial: Any) -> float:
        values = {p.name: suggest(trial, p) for p in self.params}
        run_dir = self._start(trial, values)
        trial.set_user_attr("run_id", run_dir.name)
        self.on_change()
        self.ctx.item_state(f"trial {trial.number}", "running", detail=f"{run_dir.name} {_describe(values)}")
        try:
            value = self._follow(trial, run_dir)
        except TrialFailed as exc:
            trial.set_user_attr("error", str(exc))
            self.ctx.item_state(f"trial {trial.number}", "failed", finished=True, detail=str(exc))
            with self._lock:
                self._failures_in_a_row += 1
                if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                    raise WorkbenchError(f"{self._failures_in_a_row} trials in a row failed; the last: {exc}",
                                         hint=f"see the trial run: slmw runs show {run_dir.name}") from None
            raise
        with self._lock:
            self._failures_in_a_row = 0
        self.ctx.item_state(f"trial {trial.number}", "complete", finished=True, detail=f"{self.recipe.metric} {value:.4g}")
        return value

    def _start(self, trial: Any, values: dict[str, Any]) -> Path:
        from ...config.train import TrainRecipe

        resume = trial.user_attrs.get("resume_run")
        if resume and (self.run_store.root / resume).is_dir():  # a run of another machine is not here
            info = self.run_store.info(self.run_store.root / resume)
            if info.alive:  # its worker died and left it training: stop it in order (it checkpoints)
                launcher.stop_job(info)
                info = launcher.wait_for(info.dir, timeout=300)
            if info.state == "done":
                return info.dir  # it ended by itself meanwhile: its result is the trial's
            if info.status is not None and info.state in ("cancelled", "interrupted", "failed"):
                launcher.resume_job(info)
                return info.dir
        recipe = TrainRecipe.model_validate(apply(self.recipe.train, values))
        title = f"sweep {self.ctx.run_dir.name[-4:]} trial {trial.number}"
        header = f"# trial {trial.number} of sweep {self.recipe.join or self.ctx.run_dir.name}: {_describe(values)}"
        return launcher.start_recipe(recipe, title=title, header=header, run_store=self.run_store)

    def _follow(self, trial: Any, run_dir: Path) -> float:
        import optuna

        run = Run(run_dir)
        tail = run.tail_metrics()
        last_step = getattr(run.recipe(), "max_steps", None)
        """The trial's last step: its eval loss there is its result, never a reason to prune it."""
        last: dict[str, float] = {}
        reported: set[int] = set()
        step = 0
        while True:
            info = self.run_store.info(run_dir)
            ended = info.state in TERMINAL_STATES or info.state == "corrupt"
            for row in (r for r in tail.read_new() if isinstance(r, dict)):
                step = int(row.get("step") or step)
                for key in ("loss", "eval_loss"):
                    if isinstance(row.get(key), (int, float)):
                        last[key] = float(row[key])
                if isinstance(row.get("eval_loss"), (int, float)) and step not in reported:  # the final row repeats it
                    reported.add(step)
                    trial.report(pruning_value(float(row["eval_loss"]), self.recipe.goal), step)
                    final = last_step is not None and step >= last_step  # trained to the end: nothing to save
                    if not ended and not final and self.recipe.pruner.enabled and trial.should_prune():
                        self._stop(run_dir)
                        trial.set_user_attr("pruned_at", step)
                        trial.set_user_attr("eval_loss", float(row["eval_loss"]))
                        self.ctx.item_state(f"trial {trial.number}", "pruned", finished=True,
                                            detail=f"eval loss {row['eval_loss']:.4g} at step {step}")
                        raise optuna.TrialPruned(f"eval loss {row['eval_loss']:.4g} at step {step}")
            if ended:
                break
            if self.ctx.cancel_requested.is_set():
                stopping.acknowledge()  # stopping the trial runs in order: let them checkpoint
                self._stop(run_dir)
                trial.set_user_attr("interrupted", True)
                raise Cancelled()
            self.ctx.cancel_requested.wait(POLL_S)
        _reap(info)
        trial.set_user_attr("steps", step)
        if "eval_loss" in last:
            trial.set_user_attr("eval_loss", last["eval_loss"])
        if info.state != "done":
            raise TrialFailed(self._why(run_dir, info.state))
        score = self._task_score(trial, run_dir)
        if self.recipe.metric == "task":
            if score is None:
                raise TrialFailed(f"run {run_dir.name} has no task score")
            return score
        if self.recipe.metric not in last:
            raise TrialFailed(f"run {run_dir.name} wrote no {self.recipe.metric}"
                              + (" (does its data have an eval split?)" if self.recipe.metric == "eval_loss" else ""))
        return last[self.recipe.metric]

    def _task_score(self, trial: Any, run_dir: Path) -> float | None:
        if self.recipe.task_examples == 0:
            return None
        try:
            score, eval_run = task_score(run_dir.name, self.recipe.task_examples, run_store=self.run_store,
                                         title=f"sweep {self.ctx.run_dir.name[-4:]} trial {trial.number} task",
                                         stop_requested=self.ctx.cancel_requested.is_set)
        except TaskScoreUnavailable as exc:
            if self.recipe.metric == "task" or not self._warned_task:
                self._warned_task = True
                self.ctx.warn(f"no task score for trial {trial.number}: {exc}")
            return None
        except Cancelled:
            stopping.acknowledge()
            trial.set_user_attr("interrupted", True)
            raise
        trial.set_user_attr("task", score)
        trial.set_user_attr("task_run", eval_run)
        return score

    # -- runs --------------------------------------------------------------------------------
    def _stop(self, run_dir: Path) -> None:
        """Stop the run as ``slmw runs stop`` does and wait until it has ended (it checkpoints first)."""
        _reap(children.stop_child(run_dir, self.run_store))

    def _why(self, run_dir: Path, state: str) -> str:
        error = Run(run_dir).last_error()
        reason = error.message if error else state
        return f"run {run_dir.name} {state}: {reason}"


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def _reap(info: store.RunInfo) -> None:
    """Collect the exit status of a job this process started (no zombie left behind)."""
    import os

    import time

    pid = info.status.pid if info.status else None
    deadline = time.monotonic() + 5.0  # the job writes its end, then exits
    while pid:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() > deadline:
                return
        except (ChildProcessError, OSError):
            return  # not this process's child (a run resumed by an earlier sweep process)
        time.sleep(0.05)
