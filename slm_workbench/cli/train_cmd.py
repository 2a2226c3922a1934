"""``slmw train RECIPE [--set key=value …] [--wait] [--estimate]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config.loading import load_recipe
from ..engine.errors import RecipeError
from .jobs import run_recipe_job
from .output import print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune (full / LoRA / QLoRA) from a recipe, as a detached job")
    p.add_argument("recipe", type=Path, help="a YAML recipe with stage: train (see recipes/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set max_steps=20 --set lora.r=8; repeatable")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends (default: print its id and return)")
    p.add_argument("--estimate", action="store_true", help="print the memory-fit estimate and exit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    if recipe.stage != "train":
        raise RecipeError(f"{args.recipe}: stage is {recipe.stage!r}; `slmw train` runs stage: train (try `slmw run`)")
    if args.estimate:
        return print_estimate(recipe, as_json=args.json)
    from ..engine.train.preflight import preflight

    checks = preflight(recipe)
    for warning in checks.warnings:
        print(f"slmw: warning: {warning}", file=sys.stderr)
    checks.raise_errors()
    return run_recipe_job(recipe, title=args.recipe.stem, detach=not args.wait, as_json=args.json)


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
