"""Every recipe shipped in recipes/ validates, and its header shows the command that runs it."""

from __future__ import annotations

import pytest

from slm_workbench.config.loading import load_recipe
from tests.conftest import REPO

RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def test_there_are_recipes() -> None:
    assert RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_recipe_loads_and_says_how_to_run_it(path) -> None:
    recipe = load_recipe(path)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# slmw ") and path.name in first, f"{path.name}: the first line must be the command"
    assert recipe.stage
