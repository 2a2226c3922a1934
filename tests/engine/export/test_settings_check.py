"""Bad export/compare settings are refused at launch, one line each, before anything is built; a built variant
made from other settings is never reused; each variant records its settings and the share of weights quantized."""

from __future__ import annotations

import json

import pytest

from slm_workbench.config.export import CompareRecipe, ExportRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.export.export import quantized_share, settings_hash, stale_reason
from slm_workbench.engine.export.stage import check_settings
from tests.export_fixtures import link_variants


def refused(recipe) -> str:
    with pytest.raises(WorkbenchError) as caught:
        check_settings(recipe)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_calibration_data_is_refused(slmw_home, tiny_model_dir, tmp_path):
    recipe = ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"], calibration_data=str(tmp_path / "no.jsonl"))
    assert "no such file or folder" in refused(recipe)


def test_empty_calibration_data_is_refused(slmw_home, tiny_model_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "is empty" in refused(ExportRecipe(model=str(tiny_model_dir), variants=["int4-hq-cal"],
                                              calibration_data=str(empty)))


def test_the_eval_split_is_refused_as_calibration_data(slmw_home, tiny_model_dir, tmp_path):
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(json.dumps({"prompt": "Two plus two?", "completion": "Four."}) + "\n")
    recipe = CompareRecipe(model=str(tiny_model_dir), variants=["int4-cal"], eval=str(held_out),
                           calibration_data=str(held_out))
    assert "is the eval split the comparison scores" in refused(recipe)
    split = tmp_path / "prepared" / "eval"
    split.mkdir(parents=True)
    (split.parent / "dataset_dict.json").write_text("{}")
    assert "is the eval split" in refused(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"],
                                                      calibration_data=str(split)))


def test_more_calibration_samples_than_the_data_holds_is_refused(slmw_home, tiny_model_dir, tmp_path):
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"prompt": "Two plus two?", "completion": "Four."}) + "\n")
    message = refused(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"], calibration_data=str(few),
                                   calibration_samples=8))
    assert "holds 1 sequences" in message and "--calibration-samples 8" in message


def test_a_block_size_that_leaves_matrices_fp32_is_refused(slmw_home, tiny_model_dir):
    # the tiny model's hidden size is 64: blocks of 128 fit none of its matrices
    message = refused(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"], block_size=128))
    assert "block size 128 does not divide" in message and "(64)" in message
    check_settings(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"], block_size=32))  # fine


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"block_size": 48}, "block_size must be one of"),
    ({"accuracy_level": 5}, "less than or equal to 4"),
    ({"calibration_samples": 0}, "greater than or equal to 1"),
])
def test_knobs_out_of_range_are_refused_by_the_recipe(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExportRecipe(model="m", **kwargs)


def test_a_variant_built_from_other_calibration_data_is_not_reused(slmw_home, tiny_model_dir, tiny_variants, tmp_path):
    link_variants(slmw_home, tiny_model_dir.name, {"int4-cal": tiny_variants["int4"]})
    folder = tiny_variants["int4"]
    info_file = folder / "slmw_variant.json"
    info = json.loads(info_file.read_text())
    original = info_file.read_text()
    try:
        info["settings"] = {"precision": "int4", "path": "gptq", "block_size": 32, "accuracy_level": 4,
                            "symmetric": False, "calibration_samples": 32, "calibration_data": "slmw:demo",
                            "offsets": False, "algorithm": "slmw-gptq", "calibration_data_sha256": "0" * 16}
        info_file.write_text(json.dumps(info))
        message = refused(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"]))
        assert "variant int4-cal" in message and "built from other calibration data" in message
        check_settings(ExportRecipe(model=str(tiny_model_dir), variants=["int4-cal"], overwrite=True))
    finally:
        info_file.write_text(original)


def test_stale_reason_names_the_setting_that_differs():
    made = {"precision": "int4", "block_size": 32, "accuracy_level": 4}
    assert stale_reason({"settings": made}, dict(made)) is None
    assert "accuracy_level 4 (asked 1)" in stale_reason({"settings": made}, {**made, "accuracy_level": 1})
    assert stale_reason({}, made) is None  # built before settings were recorded, nothing to go by
    # an int8 built symmetric before settings were recorded: its top-level knobs still tell
    old_int8 = {"precision": "int8", "path": "builder", "block_size": 32, "accuracy_level": 4, "symmetric": True}
    asked = {**old_int8, "symmetric": False}
    assert "symmetric True (asked False)" in stale_reason(old_int8, asked)
    assert stale_reason(old_int8, {**old_int8}) is None
    assert settings_hash(made) != settings_hash({**made, "block_size": 64})


def test_built_variants_record_their_settings_and_quantized_share(tiny_variants):
    info = json.loads((tiny_variants["int4-hq"] / "slmw_variant.json").read_text())
    assert info["settings"]["block_size"] == 32 and info["settings_hash"]
    assert info["quantized_share"] == 1.0 and info["fp32_matrices"] == []
    share, left = quantized_share(tiny_variants["fp32"])
    assert share == 0.0 and left
