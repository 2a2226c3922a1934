"""Recipe loading: errors name the file and the field; ``--set`` overrides; dump round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from slm_workbench.config.loading import apply_overrides, dump_recipe, load_recipe, parse_override, stage_names
from slm_workbench.config.recipes import PrepareModelRecipe, Recipe, SystemCheckRecipe
from slm_workbench.engine.errors import RecipeError


def recipe_file(tmp_path: Path, text: str, name: str = "check.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_a_valid_recipe(tmp_path):
    path = recipe_file(tmp_path, "# slmw run check.yaml\nstage: system.check\nseconds: 3\nthreads: 1\nsize: 64\n")
    recipe = load_recipe(path)
    assert recipe == SystemCheckRecipe(seconds=3, threads=1, size=64)


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\nsecnods: 3\n")
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    assert exc.value.message == f"{path}: secnods: Extra inputs are not permitted"


def test_bad_value_names_the_field(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\nseconds: -1\n")
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    assert exc.value.message == f"{path}: seconds: Input should be greater than 0"


def test_every_problem_is_reported_at_once(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\nseconds: -1\nsize: 2\ndevice: tpu\n")
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    for field in ("seconds:", "size:", "device:"):
        assert field in exc.value.message
    assert "\n" not in exc.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seconds: 3\n", "missing 'stage'"),
        ("stage: teleport\n", "stage: Input tag 'teleport'"),
        ("- stage: system.check\n", "a recipe is a mapping"),
        ("stage: models.prepare\n", "model: Field required"),
    ],
)
def test_stage_problems(tmp_path, text, expected):
    path = recipe_file(tmp_path, text)
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    assert exc.value.message.startswith(f"{path}: ")
    assert expected in exc.value.message


def test_invalid_yaml_names_the_line(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\nseconds: 3\n\tsize: 64\n")
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    assert exc.value.message.startswith(f"{path}: not valid YAML at line 3")


def test_missing_file(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "absent.yaml")


def test_set_overrides_values_with_yaml_types(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\nseconds: 30\n")
    recipe = load_recipe(path, ["seconds=2.5", "threads=1", "size=64", "device=cpu"])
    assert (recipe.seconds, recipe.threads, recipe.size, recipe.device) == (2.5, 1, 64, "cpu")


def test_set_with_a_bad_value_names_the_field(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\n")
    with pytest.raises(RecipeError) as exc:
        load_recipe(path, ["seconds=soon"])
    assert f"{path}: seconds: Input should be a valid number" in exc.value.message


def test_set_can_switch_the_stage_and_add_keys(tmp_path):
    path = recipe_file(tmp_path, "stage: system.check\n")
    with pytest.raises(RecipeError, match="model: Field required"):
        load_recipe(path, ["stage=models.prepare"])


def test_set_on_a_recipe_that_is_not_a_mapping(tmp_path):
    path = recipe_file(tmp_path, "- one\n- two\n")
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        load_recipe(path, ["seconds=2"])


def test_parse_override():
    assert parse_override("a.b=1") == (["a", "b"], 1)
    assert parse_override("name=") == (["name"], "")
    assert parse_override("text=[unclosed") == (["text"], "[unclosed")
    with pytest.raises(RecipeError, match="expected key=value"):
        parse_override("seconds")


def test_nested_override_into_a_scalar_is_an_error():
    with pytest.raises(RecipeError, match="'seconds' is not a section"):
        apply_overrides({"seconds": 3}, ["seconds.x=1"])
    assert apply_overrides({}, ["lora.r=8"]) == {"lora": {"r": 8}}


def test_dump_round_trips_with_its_header(tmp_path):
    recipe = PrepareModelRecipe(model="smollm2-135m-instruct", force=True)
    text = dump_recipe(recipe, header="# slmw run prepare.yaml")
    assert text.startswith("# slmw run prepare.yaml\nstage: models.prepare\n")
    assert load_recipe(recipe_file(tmp_path, text)) == recipe


def test_stage_names():
    assert {"models.prepare", "system.check"} <= set(stage_names())


def test_every_field_of_every_stage_is_documented():
    stages = get_args(get_args(Recipe)[0])
    assert {cls.model_fields["stage"].default for cls in stages} == set(stage_names())
    for cls in stages:
        undocumented = [name for name, f in cls.model_fields.items() if name != "stage" and not f.description]
        assert undocumented == [], cls.__name__
