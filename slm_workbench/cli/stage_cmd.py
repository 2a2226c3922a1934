"""A job command for every registered stage that has no command module of its own.

The stage registry (``engine/stages.py``) names each stage's command; a stage whose recipe
needs nothing beyond its fields gets ``slmw <command> [RECIPE] [--FIELD value …] [--set k=v]``
here, with its flags derived from the recipe class and the one job convention of
``cli/jobs.py`` (follow by default, ``--detach``, ``--force``, ``--json``). A stage with a
command module of its own (``train_cmd``, ``export_cmd`` …) registers first and is left alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.stages import STAGES, StageSpec
from .jobs import add_job_flags, run_recipe_job
from .recipe_flags import add_recipe_flags, build_recipe


def subcommands(parser_or_sub: argparse.ArgumentParser | argparse._SubParsersAction) -> argparse._SubParsersAction | None:
    if isinstance(parser_or_sub, argparse._SubParsersAction):
        return parser_or_sub
    for action in parser_or_sub._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def add_stage_commands(sub: argparse._SubParsersAction) -> None:
    for spec in STAGES:
        if spec.command:
            _ensure_command(sub, spec)


def _ensure_command(sub: argparse._SubParsersAction, spec: StageSpec) -> None:
    *groups, verb = spec.command
    for group in groups:
        parent = sub.choices.get(group)
        if parent is None:
            parent = sub.add_parser(group, help=f"{group} commands")
            parent.add_subparsers(dest=f"{group}_verb", required=True, metavar="VERB")
        nested = subcommands(parent)
        assert nested is not None, f"`slmw {group}` has no subcommands"
        sub = nested
    if verb not in sub.choices:
        _add_generic(sub, verb, spec)


def _add_generic(sub: argparse._SubParsersAction, verb: str, spec: StageSpec) -> None:
    cls = spec.recipe_class()
    p = sub.add_parser(verb, help=f"{spec.title.lower()} as a job, followed until it ends",
                       description=(cls.__doc__ or spec.title).strip())
    p.add_argument("recipe", type=Path, nargs="?", help=f"a YAML recipe with stage: {spec.name} (see recipes/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (dotted keys, YAML values); repeatable")
    add_job_flags(p, stage=spec.name)
    add_recipe_flags(p, cls)
    p.set_defaults(func=lambda args: cmd_stage(args, spec))


def cmd_stage(args: argparse.Namespace, spec: StageSpec) -> int:
    from ..config.loading import apply_overrides, read_recipe_data, recipe_file
    from ..engine.errors import RecipeError

    command = f"slmw {' '.join(spec.command)}"
    where = str(recipe_file(args.recipe)) if args.recipe else command
    data = read_recipe_data(args.recipe, args.overrides) if args.recipe else apply_overrides({}, args.overrides)
    if data.get("stage", spec.name) != spec.name:
        raise RecipeError(f"{where}: stage is {data['stage']!r}; `{command}` runs stage: {spec.name} (try `slmw run`)")
    recipe = build_recipe(args, where=where, base={**data, "stage": spec.name})
    return run_recipe_job(recipe, title=args.recipe.stem if args.recipe else spec.title.lower(), args=args)
