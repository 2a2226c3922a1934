"""Every recipe shipped in recipes/ validates, its header is a command that runs it, and each
stage a user starts today has one."""

from __future__ import annotations

import shlex

import pytest

from slm_workbench.cli.main import build_parser
from slm_workbench.config.loading import load_recipe, recipe_file
from slm_workbench.engine.stages import STAGES
from tests.conftest import REPO

RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
# Stages a user starts: those the stage registry gives a command (a new stage needs its recipe too).
STAGES_WITH_A_RECIPE = {spec.name for spec in STAGES if spec.command}


def test_there_are_recipes() -> None:
    assert RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_recipe_loads_and_its_header_runs_it(path) -> None:
    recipe = load_recipe(path)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# slmw "), f"{path.name}: the first line must be the command that runs it"
    args = build_parser().parse_args(shlex.split(first.removeprefix("# slmw ")))
    assert args.command in ("run", "train"), f"{path.name}: its header runs `slmw {args.command}`"
    assert recipe_file(args.recipe).resolve() == path.resolve(), f"{path.name}: its header names {args.recipe}"
    assert recipe.stage


def test_every_stage_a_user_starts_has_a_recipe() -> None:
    shipped = {load_recipe(path).stage for path in RECIPES}
    assert shipped == STAGES_WITH_A_RECIPE
