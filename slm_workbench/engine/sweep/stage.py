"""The ``sweep`` stage: drive an Optuna study whose trials are training jobs.

A new sweep creates the study, named by its run id, in its storage (``study.py``) and keeps
its recipe in the study's user attributes, so ``slmw sweep --join`` on another machine finds
everything in the storage. A joining worker (``recipe.join``) loads that study instead. Each
worker runs ``study.optimize`` with ``parallel`` threads, each thread following one training
job (``trial.py``), until the study holds ``trials`` complete or pruned trials (counting those
still running, on every worker). Resuming the sweep (``slmw runs resume``) first recovers the
trials its crashed process left running, then goes on.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..errors import WorkbenchError
from ..runs import store
from ..runs.context import RunContext
from .report import write_summary
from ...config.sweep_space import parse_params
from .study import dashboard_command, make_pruner, make_sampler, open_storage, recover, storage_location, worker_identity
from .trial import TrialFailed, TrialRunner

COUNTED = ("COMPLETE", "PRUNED")


def run(recipe: Any, ctx: RunContext) -> None:
    import optuna
    from optuna.trial import TrialState

    # The trial and eval jobs inherit this job's lowered priority; they must not lower it again, or a
    # trial would run at a lower priority than the same `slmw train` (bench/sweep.py).
    os.environ["SLMW_JOB_NICE"] = "0"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    name = recipe.join or ctx.run_dir.name
    location = storage_location(recipe.storage, ctx.run_dir)
    ctx.progress("opening the study", message=f"{name} in {location}")
    storage = open_storage(location)
    offset = 0 if recipe.join is None else sum(map(ord, ctx.run_dir.name)) % 1000 + 1
    sampler, pruner = make_sampler(recipe, offset), make_pruner(recipe)
    if recipe.join:
        try:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            raise WorkbenchError(f"no sweep {name!r} in {location}",
                                 hint="give the sweep's run id and the storage it uses (--storage)") from None
    else:
        study = optuna.create_study(study_name=name, storage=storage, direction=recipe.goal, sampler=sampler,
                                    pruner=pruner, load_if_exists=True)
        if "recipe" not in study.user_attrs:
            study.set_user_attr("recipe", recipe.model_dump(mode="json", exclude={"join"}))
    ctx.artifact("study", ctx.run_dir, f"Optuna study {name}: {dashboard_command(location)}")
    run_store = store.RunStore(ctx.run_dir.parent)
    me = worker_identity(ctx.run_dir)
    retried = recover(study, me, run_store)
    if retried:
        ctx.warn(f"trials {', '.join(map(str, retried))} were left running by a stopped or crashed sweep: "
                 "retried (each resumes its run)")

    def summarize(*_: Any) -> None:
        report = write_summary(study, recipe, ctx.artifacts_dir, location=location, dashboard=dashboard_command(location))
        done = report["counts"]["complete"] + report["counts"]["pruned"]
        best = report["best"]
        ctx.progress("trials", min(done, recipe.trials), recipe.trials, "trials",
                     f"best {recipe.metric} {best['value']:.4g} (trial {best['number']})" if best else "")
        if best:
            ctx.metrics({"trials_done": done, "best_value": best["value"], "best_trial": best["number"]})

    def enough(study: Any, _trial: Any) -> None:
        counted = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        if len(counted) >= recipe.trials:
            study.stop()

    summarize()
    remaining = recipe.trials - len(study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in COUNTED)))
    if remaining > 0:
        runner = TrialRunner(recipe, ctx, parse_params(recipe.params), me, run_store, on_change=summarize)
        attempts = remaining + max(3, remaining)  # failures are retried, within reason
        try:
            study.optimize(runner, n_trials=attempts, n_jobs=recipe.parallel, catch=(TrialFailed,),
                           callbacks=[summarize, enough])
            wait_for_other_workers(study, me, ctx, summarize)
        finally:
            summarize()
    ctx.check_cancelled()
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise WorkbenchError(f"sweep {name}: no trial completed", hint=f"see {ctx.run.log_path} and the trial runs")
    ctx.artifact("report", ctx.artifacts_dir, "trials.jsonl and sweep_report.json")


def wait_for_other_workers(study: Any, me: dict[str, Any], ctx: RunContext, summarize: Any) -> None:
    """Stay until the trials other workers still run have ended, so that every worker's summary
    ends with the whole study (trials of a worker known to be gone are not waited for)."""
    from optuna.trial import TrialState

    from .study import worker_gone

    while not ctx.cancel_requested.is_set():
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if not worker_gone(t.user_attrs.get("worker") or {}, me)]
        if not running:
            return
        ctx.progress("waiting for the other workers", message=f"{len(running)} trials still running")
        summarize()
        ctx.cancel_requested.wait(2.0)
