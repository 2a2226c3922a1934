"""``slmw sweep RECIPE --param FIELD=KIND:RANGE … [--trials N] [--metric M] …`` and ``slmw sweep --join ID``.

RECIPE is a training recipe (its trials' base) or a sweep recipe (``stage: sweep``); the
sweep's own fields are flags derived from ``SweepRecipe`` (``--param`` is repeatable). The
parameters are checked against the training recipe before the job starts: one line names a
parameter that names no field or whose range is empty.

``--join ID`` adds a worker to an existing sweep: ID is a sweep run here (its recipe and
storage are read from it), or, on another machine, the sweep's id with ``--storage URL``
naming the database it lives in (its recipe is read from the study). A RECIPE given with
``--join`` must be the sweep's own (base recipe, search space, metric): one line names the first
differences otherwise. The job's launch check (``engine/sweep/stage.check``)
opens the storage and compares the study's recipe again, before any trial.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config.sweep import SweepRecipe
from ..engine.errors import RecipeError, WorkbenchError
from .jobs import add_job_flags, run_recipe_job
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="search training hyperparameters (Optuna) as a job; each trial is a training run",
                       description=(SweepRecipe.__doc__ or "").strip())
    p.add_argument("recipe", type=Path, nargs="?",
                   help="a training recipe (the trials' base) or a sweep recipe (stage: sweep); a shipped name works")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the recipe file (dotted keys, YAML values); repeatable")
    add_job_flags(p, stage="sweep")
    add_recipe_flags(p, SweepRecipe, exclude={"train": "the RECIPE argument", "join": "--join"},
                     renames={"params": "param"},
                     help={"params": "what to search, FIELD=KIND:RANGE, repeatable: learning_rate=loguniform:1e-4:1e-2, "
                                     "lora.r=choice:8,16,32, uniform:LOW:HIGH, int:LOW:HIGH[:STEP]"})
    p.add_argument("--join", metavar="SWEEP_ID",
                   help="add a worker to this sweep (a sweep run here, or a sweep id with --storage URL)")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.join:
        recipe = join_recipe(args)
        if args.recipe is not None:
            same_recipe(args, recipe)
        return run_recipe_job(recipe, title=f"sweep {recipe.join[-4:]} worker", args=args)
    if args.recipe is None:
        raise RecipeError("slmw sweep: give a training recipe (e.g. smoke-lora) or --join SWEEP_ID")
    recipe = new_recipe(args)
    return run_recipe_job(recipe, title=f"sweep {Path(str(args.recipe)).stem}", args=args)


def same_recipe(args: argparse.Namespace, joined: SweepRecipe) -> None:
    """Refuse a RECIPE given with ``--join`` that is not the joined sweep's (``--param`` and the
    other flags are checked against the study by the job's launch check)."""
    from ..engine.sweep.study import recipe_mismatch

    why = recipe_mismatch(joined.model_dump(mode="json"), new_recipe(args).model_dump(mode="json"))
    if why:
        raise RecipeError(f"slmw sweep --join {args.join}: {args.recipe} is not the recipe of sweep {joined.join}: {why}")


def new_recipe(args: argparse.Namespace) -> SweepRecipe:
    """The sweep recipe of ``slmw sweep RECIPE [flags]``."""
    from ..config.loading import read_recipe_data, recipe_file

    where = str(recipe_file(args.recipe))
    data = read_recipe_data(args.recipe, args.overrides)
    stage = data.get("stage", "train")
    if stage == "train":
        data = {"train": data}
    elif stage != "sweep":
        raise RecipeError(f"{where}: stage is {stage!r}; `slmw sweep` takes a training or a sweep recipe")
    base = data.get("train")
    if isinstance(base, str):  # a sweep recipe naming its base by file: relative to the sweep recipe
        candidate = recipe_file(Path(where).parent / base)
        data["train"] = str(candidate if candidate.exists() else base)
    params = {**(data.get("params") or {}), **(args.param or {})}
    if not params:
        raise RecipeError(f"{where}: nothing to search; give --param FIELD=KIND:RANGE (e.g. learning_rate=loguniform:1e-4:1e-2)")
    return build_recipe(args, where=where, base={**data, "stage": "sweep"}, fixed={"params": params})


def join_recipe(args: argparse.Namespace) -> SweepRecipe:
    """The recipe of a worker joining sweep ``args.join``: the sweep's own, with ``join`` and its storage."""
    from ..engine.runs.run import Run
    from ..engine.sweep.study import storage_location

    values = args.recipe_flags.values(args)
    run = Run.find(args.join)
    if run is not None and run.stage == "sweep":
        recipe = run.recipe()
        name = recipe.join or run.id
        storage = values.get("storage") or storage_location(recipe.storage, run.dir)
        data: dict[str, Any] = recipe.model_dump(mode="json")
    else:
        storage = values.get("storage")
        if not storage:
            raise WorkbenchError(f"no sweep run '{args.join}' here",
                                 hint="on another machine, name the storage too: slmw sweep --join ID --storage URL")
        name = args.join
        data = study_recipe(name, storage)
    data.update({k: v for k, v in values.items() if k not in ("params",)})
    data.update(join=name, storage=storage)
    return build_recipe(args, where=f"slmw sweep --join {args.join}", base=data, fixed={"join": name, "storage": storage})


def study_recipe(name: str, storage: str) -> dict[str, Any]:
    """The recipe a sweep keeps in its study (for a worker on a machine without the sweep's run)."""
    from ..engine.sweep.stage import load
    from ..engine.sweep.study import open_storage, storage_location

    location = storage_location(storage, Path.cwd())
    study = load(name, open_storage(location), location)
    recipe = study.user_attrs.get("recipe")
    if not isinstance(recipe, dict):
        raise WorkbenchError(f"sweep {name!r} in {location} keeps no recipe (not started by slmw sweep)")
    return dict(recipe)
