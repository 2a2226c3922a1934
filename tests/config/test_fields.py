"""The one reading of a recipe's fields that CLI flags and TUI forms are generated from."""

from __future__ import annotations

from typing import Literal

from slm_workbench.config.fields import REQUIRED, field_at, literal_choices, recipe_fields, scalar_kind
from slm_workbench.config.train import TrainRecipe


def test_nested_sections_are_flattened_in_schema_order_and_excluded_whole() -> None:
    paths = [f.path for f in recipe_fields(TrainRecipe)]
    assert "lora.r" in paths and "lora" not in paths and paths.index("model") < paths.index("lora.r")
    assert not any(p.startswith("lora.") for p in (f.path for f in recipe_fields(TrainRecipe, exclude={"lora"})))


def test_defaults_and_help() -> None:
    assert field_at(TrainRecipe, "data").default is REQUIRED
    r = field_at(TrainRecipe, "lora.r")
    assert r.default == 16 and r.help.endswith("(default: 16)") and "``" not in r.help


def test_annotations() -> None:
    assert scalar_kind(int | None) == (int, True) and scalar_kind(bool) == (bool, False)
    assert scalar_kind(dict[str, str]) == (dict, False) and scalar_kind(list[str] | None) == (list, True)
    assert scalar_kind(Literal["a"] | list[str]) == (None, False)
    assert literal_choices(Literal["a", "b"]) == ["a", "b"] and literal_choices(str) is None
