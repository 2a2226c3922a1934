"""``slmw train [RECIPE] [--FIELD value …] [--set key=value …] [--detach] [--estimate]``.

Every field of the training recipe is a flag (``--max-steps 20``, ``--lora-r 8``); a flag
overrides the recipe file and ``--set``, and without a file the flags are the recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.train import TrainRecipe
from ..engine.errors import RecipeError
from .jobs import add_job_flags, run_recipe_job
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune (full / LoRA / QLoRA) as a job, followed until it ends",
                       description="Fine-tune from a recipe file, flags, or both (a flag overrides the file).")
    p.add_argument("recipe", type=Path, nargs="?", help="a YAML recipe with stage: train (see recipes/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set max_steps=20 --set lora.r=8; repeatable")
    p.add_argument("--estimate", action="store_true", help="print the memory-fit estimate and exit")
    add_job_flags(p, stage="train")
    add_recipe_flags(p, TrainRecipe)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from ..config.loading import apply_overrides, read_recipe_data, recipe_file

    where = str(recipe_file(args.recipe)) if args.recipe else "slmw train"
    data = read_recipe_data(args.recipe, args.overrides) if args.recipe else apply_overrides({}, args.overrides)
    if data.get("stage", "train") != "train":
        raise RecipeError(f"{where}: stage is {data['stage']!r}; `slmw train` runs stage: train (try `slmw run`)")
    recipe = build_recipe(args, where=where, base=data)
    if args.estimate:
        return print_estimate(recipe, as_json=args.json)
    return run_recipe_job(recipe, title=args.recipe.stem if args.recipe else "train", args=args)


def print_estimate(recipe, *, as_json: bool) -> int:
    from ..engine import system
    from ..engine.models.resolve import parse_model
    from ..engine.train.memory import available_memory, estimate_memory

    from .models_cmd import ensure_model

    ensure_model(recipe.model, quiet=as_json)
    device = "cuda" if system.gpus() else "cpu"
    estimate = estimate_memory(recipe, parse_model(recipe.model).require_prepared(), device=device,
                               available=available_memory(device))
    if as_json:
        print_json(estimate.as_dict())
    else:
        print("\n".join(estimate.lines()))
    return 0 if estimate.fits is not False else 1
