"""``slmw run RECIPE [--set key=value ...]``: start any recipe as a job."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.loading import load_recipe
from .jobs import add_job_flags, run_recipe_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start a recipe (YAML) as a job and follow it")
    p.add_argument("recipe", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (dotted keys, YAML values); repeatable")
    add_job_flags(p, stage=None)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    return run_recipe_job(recipe, title=args.recipe.stem, args=args)
