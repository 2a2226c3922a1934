"""The ``sweep`` stage: drive an Optuna study whose trials are training jobs.

A new sweep creates the study, named by its run id, in its storage (``study.py``) and keeps
its recipe in the study's user attributes, so ``slmw sweep --join`` on another machine finds
everything in the storage. A joining worker (``recipe.join``) loads that study instead; a study
kept by another recipe (base, search space, metric) is refused before any trial.

Each worker runs ``study.optimize`` with ``parallel`` threads, each thread following one
training job (``trial.py``), until the study holds ``trials`` finished (complete or pruned)
trials. While it goes on, and while it waits for the other workers' last trials, every worker
fails the trials whose worker died and retries them, resuming their runs (``liveness.py``): a
dead worker's trial is never counted and never lost. Resuming the sweep (``slmw runs resume``)
also retries the trials it left ``interrupted`` when it was stopped.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..errors import WorkbenchError
from ..preflight.needs import LaunchNeeds
from ..runs import store
from ..runs.context import RunContext
from .liveness import live_running, recover, worker_identity
from .report import write_summary
from ...config.sweep_space import parse_params
from .study import (check_study, dashboard_command, is_database, make_pruner, make_sampler, open_storage,
                    storage_location)
from .trial import TrialFailed, TrialRunner

COUNTED = ("COMPLETE", "PRUNED")
WAIT_S = 2.0


def check(recipe: Any) -> LaunchNeeds:
    """Launch check: the storage opens and, for a worker joining a sweep, the study is there and
    was made by this recipe; else one line naming the URL or the mismatch, before the job starts
    (not a refusal ``--force`` overrides: the job could not run)."""
    if recipe.storage is None:
        return LaunchNeeds()  # the journal file in the new run's own folder
    from pathlib import Path

    location = storage_location(recipe.storage, Path.cwd())
    storage = open_storage(location, recipe.heartbeat_s)
    if recipe.join:
        check_study(load(recipe.join, storage, location), recipe, location)
    return LaunchNeeds()


def load(name: str, storage: Any, location: str, **kwargs: Any) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=storage, **kwargs)
    except KeyError:
        raise WorkbenchError(f"no sweep {name!r} in {location}",
                             hint="give the sweep's run id and the storage it uses (--storage)") from None


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
    database = is_database(location)
    ctx.progress("opening the study", message=f"{name} in {location}")
    storage = open_storage(location, recipe.heartbeat_s)
    offset = 0 if recipe.join is None else sum(map(ord, ctx.run_dir.name)) % 1000 + 1
    sampler, pruner = make_sampler(recipe, offset), make_pruner(recipe)
    if recipe.join:
        study = load(name, storage, location, sampler=sampler, pruner=pruner)
    else:
        study = optuna.create_study(study_name=name, storage=storage, direction=recipe.goal, sampler=sampler,
                                    pruner=pruner, load_if_exists=True)
        if "recipe" not in study.user_attrs:
            study.set_user_attr("recipe", recipe.model_dump(mode="json", exclude={"join"}))
    check_study(study, recipe, location)
    ctx.artifact("study", ctx.run_dir, f"Optuna study {name}: {dashboard_command(location)}")
    run_store = store.RunStore(ctx.run_dir.parent)
    me = worker_identity(ctx.run_dir)
    beat = recipe.heartbeat_s

    def recovered(*, interrupted: bool = False) -> None:
        retried = recover(study, me, beat, database, interrupted=interrupted)
        if retried:
            ctx.warn(f"trials {', '.join(map(str, retried))} were left running or stopped by a worker that is gone: "
                     "retried (each resumes its run)")

    def summarize(*_: Any) -> None:
        report = write_summary(study, recipe, ctx.artifacts_dir, location=location, dashboard=dashboard_command(location))
        done = report["counts"]["complete"] + report["counts"]["pruned"]
        best = report["best"]
        ctx.progress("trials", min(done, recipe.trials), recipe.trials, "trials",
                     f"best {recipe.metric} {best['value']:.4g} (trial {best['number']})" if best else "")
        if best:
            ctx.metrics({"trials_done": done, "best_value": best["value"], "best_trial": best["number"]})

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in COUNTED)))

    def enough(study: Any, _trial: Any) -> None:
        recovered()
        if finished() + len(live_running(study, me, beat, database)) >= recipe.trials:
            study.stop()

    recovered(interrupted=True)
    summarize()
    runner = TrialRunner(recipe, ctx, parse_params(recipe.params), me, run_store, on_change=summarize,
                         heartbeat_s=None if database else beat)
    budget = recipe.trials + max(3, recipe.trials)  # trials this worker may begin: failures are retried, within reason
    try:
        while not ctx.cancel_requested.is_set():
            running = live_running(study, me, beat, database)
            wanted = recipe.trials - finished() - len(running)
            if wanted > 0 and runner.started < budget:
                study.optimize(runner, n_trials=min(wanted, budget - runner.started), n_jobs=min(recipe.parallel, wanted),
                               catch=(TrialFailed,), callbacks=[summarize, enough])
            elif running:  # stay until the other workers' trials have ended: they may die and need a retry
                ctx.progress("waiting for the other workers", message=f"{len(running)} trials still running")
                summarize()
                ctx.cancel_requested.wait(WAIT_S)
            else:
                break
            recovered()
    finally:
        summarize()
    ctx.check_cancelled()
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise WorkbenchError(f"sweep {name}: no trial completed", hint=f"see {ctx.run.log_path} and the trial runs")
    if finished() < recipe.trials:
        ctx.warn(f"{finished()} of {recipe.trials} trials finished: this worker began {runner.started}, "
                 "its limit (too many failed; see the failed trial runs)")
    ctx.artifact("report", ctx.artifacts_dir, "trials.jsonl and sweep_report.json")
