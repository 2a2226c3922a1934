"""Every stage's command, from the stage registry: its own command module, or the generic one.

The stage registry (``engine/stages.py``) names each stage's command (``StageSpec.command``) and,
where the generic command does not fit, the function adding its own (``StageSpec.cli``,
``module:function`` under ``slm_workbench.cli``, called with the subcommands to add it to).
Without one a stage gets ``slmw <command> [RECIPE] [--FIELD value …] [--set k=v]`` here, with
its flags derived from the recipe class and the one job convention of ``cli/jobs.py`` (follow by
default, ``--detach``, ``--force``, ``--json``).

Commands are added in registry order: a group's module (``data_cmd``, ``models_cmd`` …) calls
``add_stage_verbs`` where its stage verbs go among its own, and ``add_stage_commands`` adds the
rest, the groups they need too (``GROUPS`` holds a group's help), after the other commands.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..engine.stages import STAGES, StageSpec
from .jobs import add_job_flags, run_recipe_job
from .recipe_flags import add_recipe_flags, build_recipe

GROUPS: dict[str, str] = {
    "deploy": "package, convert, serve and benchmark a model for where it will run",
}
"""The help of a command group that only stage commands fill (``slmw deploy``)."""


def subcommands(parser_or_sub: argparse.ArgumentParser | argparse._SubParsersAction) -> argparse._SubParsersAction | None:
    if isinstance(parser_or_sub, argparse._SubParsersAction):
        return parser_or_sub
    for action in parser_or_sub._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def add_stage_verbs(verbs: argparse._SubParsersAction, group: tuple[str, ...]) -> None:
    """The commands of the stages under ``slmw GROUP``, in registry order (where a group's module
    calls it, among its own verbs)."""
    for spec in STAGES:
        if spec.command and spec.command[:-1] == group and spec.command[-1] not in verbs.choices:
            add_stage_command(verbs, spec)


def add_stage_commands(sub: argparse._SubParsersAction) -> None:
    """Every stage command not added yet, in registry order, with the groups it needs."""
    for spec in STAGES:
        if spec.command:
            _ensure_command(sub, spec)


def add_stage_command(verbs: argparse._SubParsersAction, spec: StageSpec) -> None:
    if spec.cli is None:
        _add_generic(verbs, spec.command[-1], spec)
        return
    module, _, function = spec.cli.partition(":")
    getattr(importlib.import_module(f"{__package__}.{module}"), function)(verbs)


def _ensure_command(sub: argparse._SubParsersAction, spec: StageSpec) -> None:
    *groups, verb = spec.command
    for group in groups:
        parent = sub.choices.get(group)
        if parent is None:
            parent = sub.add_parser(group, help=GROUPS.get(group, f"{group} commands"))
            parent.add_subparsers(dest=f"{group}_verb", required=True, metavar="VERB")
        nested = subcommands(parent)
        assert nested is not None, f"`slmw {group}` has no subcommands"
        sub = nested
    if verb not in sub.choices:
        add_stage_command(sub, spec)


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
