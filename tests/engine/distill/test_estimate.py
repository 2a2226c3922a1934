"""The Distill pane's estimate: the cut's arithmetic (the student module's), and the training memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.config.distill import DistillRecipe
from slm_workbench.engine.distill.estimate import estimate
from slm_workbench.engine.distill.student import estimate_student, model_cost


def test_the_estimate_counts_a_keep_layers_student_against_its_teacher(tiny_deep_model_dir: Path) -> None:
    whole = model_cost(tiny_deep_model_dir)
    recipe = DistillRecipe.model_validate({"teacher": str(tiny_deep_model_dir), "generate": {"prompts": "slmw:demo"},
                                           "student": {"keep_layers": 2}, "train": {"max_length": 64}})
    found = estimate(recipe, available=64 * 2**30)
    cut = estimate_student(tiny_deep_model_dir, 2)
    assert found.teacher == whole and whole.layers == 6
    assert (found.student.layers, found.student.params, found.student.macs_per_token) == (2, cut.params,
                                                                                        cut.macs_per_token)
    assert found.student.params < whole.params and cut.teacher_params == whole.params
    assert found.fits is True and "fits" in found.line() and "2 layers" in found.line()
    kd = estimate(recipe.model_copy(update={"method": "gkd"}), available=64 * 2**30)
    assert kd.train_gib > found.train_gib + whole.params * 4 / 2**30 * 0.99  # the teacher's weights and more beside it
    endpoint = estimate(recipe.model_copy(update={"teacher": "http://127.0.0.1:9/v1"}))
    assert endpoint.teacher is None and "endpoint" in endpoint.line()


def test_a_teacher_recipe_is_estimated_from_the_model_it_trains(tiny_model_dir: Path) -> None:
    recipe = DistillRecipe.model_validate({"teacher_recipe": {"model": str(tiny_model_dir), "data": "slmw:demo"},
                                           "generate": {"prompts": "slmw:demo"}, "student": {"keep_layers": 1}})
    found = estimate(recipe, available=None)
    assert found.teacher == model_cost(tiny_model_dir) and found.student.layers == 1
    assert found.fits is None  # nothing known to be free: no verdict


@pytest.mark.parametrize("keep", [1, 5])
def test_model_cost_matches_the_cut_arithmetic(tiny_deep_model_dir: Path, keep: int) -> None:
    cut = estimate_student(tiny_deep_model_dir, keep)
    assert cut.teacher_macs_per_token == model_cost(tiny_deep_model_dir).macs_per_token
    assert cut.macs_per_token < cut.teacher_macs_per_token
