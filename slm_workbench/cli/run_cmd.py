"""``slmw run RECIPE [--set key=value ...]``: start any recipe as a job."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.loading import load_recipe
from .jobs import run_recipe_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start a recipe (YAML) as a detached job")
    p.add_argument("recipe", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (dotted keys, YAML values); repeatable")
    p.add_argument("--detach", action="store_true", help="return once the job has started")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    return run_recipe_job(recipe, title=args.recipe.stem, detach=args.detach, as_json=args.json)
