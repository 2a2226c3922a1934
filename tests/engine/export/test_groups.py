"""Variant groups (fast, balanced, all): what the pane's presets and ``--variants balanced`` stand for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slm_workbench.config.export import CompareRecipe, ExportRecipe
from slm_workbench.config.presets import PRESETS, VARIANT_GROUPS, expand_groups, resolve_presets


def test_groups_expand_in_order_without_repeats() -> None:
    assert expand_groups(["fast"]) == ["int8", "int4"]
    assert expand_groups(["balanced", "int4", "int4-olive"]) == ["fp32", "int8", "int4", "int4-hq-cal", "int4-mix-cal",
                                                                        "int4-olive"]
    assert expand_groups(["all"]) == [p for p in PRESETS if p != "fp16"]  # fp16 runs on CUDA only
    assert "fp16" in expand_groups(["all"], cuda=True)
    assert all(name in PRESETS for group in VARIANT_GROUPS for name in expand_groups([group]))


def test_recipes_and_resolve_presets_accept_groups() -> None:
    assert ExportRecipe(model="m", variants=["balanced"]).variants == ["fp32", "int8", "int4", "int4-hq-cal", "int4-mix-cal"]
    assert "fp16" in ExportRecipe(model="m", variants=["all"], execution_provider="cuda").variants
    assert CompareRecipe(model="m", variants=["fast"]).variants == ["int8", "int4"]
    assert CompareRecipe(model="m").variants is None
    assert [p.name for p in resolve_presets("fast")] == ["int8", "int4"]


def test_an_unknown_name_is_an_error_on_the_variants_field() -> None:
    with pytest.raises(ValidationError) as err:
        ExportRecipe(model="m", variants=["balanced", "int3"])
    assert err.value.errors()[0]["loc"] == ("variants",)
    assert "int3" in str(err.value) and "balanced" in str(err.value)
