"""Sweep fixtures: the training fixtures (tiny model, tiny chat data) and a sweep recipe factory."""

from __future__ import annotations

import pytest

from slm_workbench.config.sweep import SweepRecipe
from tests.engine.train.conftest import tiny_chat_data, tiny_recipe  # noqa: F401 - fixtures

# A random sampler seeded 2 draws these learning rates for trials 0-3: 5e-3, 5e-3, 5e-3, 1e-7.
# The first two always run to the end (startup); trial 2 trains exactly as they did (same seed,
# same rate: its eval loss equals their median, so it is kept); trial 3 barely learns and its
# first eval loss is far above the median, so it is pruned at step 8.
PRUNE_ONE = {"learning_rate": "choice:0.005,1e-07"}


@pytest.fixture
def tiny_sweep(tiny_recipe):  # noqa: F811
    def make(**overrides) -> SweepRecipe:
        base = dict(train=tiny_recipe(save_steps=8, eval_steps=8).model_dump(mode="json"), params=PRUNE_ONE,
                    trials=4, sampler="random", seed=2, task_examples=0)
        base.update(overrides)
        return SweepRecipe(**base)

    return make
