"""Variant presets: names, builder options, derived names for non-default knobs."""

from __future__ import annotations

import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.config.presets import PRESETS, resolve_presets
from slm_workbench.engine.models.variants import VARIANT_NAME


def test_defaults_keep_plain_names():
    names = [p.name for p in resolve_presets("fp32,int8,int4")]
    assert names == ["fp32", "int8", "int4"]
    int4 = resolve_presets(["int4"])[0]
    assert int4.builder_options() == {"block_size": "32", "accuracy_level": "4"}
    assert resolve_presets("fp32")[0].builder_options() == {}


def test_knobs_give_their_own_names_so_builds_never_collide():
    int4, int8 = resolve_presets("int4 int8", block_size=128, accuracy_level=1, symmetric=False)
    assert (int4.name, int8.name) == ("int4-b128-a1-asym", "int8-b128-a1")  # int8 is asymmetric by default
    (int8_sym,) = resolve_presets("int8", symmetric=True)
    assert (int8_sym.name, int8_sym.symmetric, "is_symmetric" in int8_sym.builder_options()) == ("int8-sym", True, False)
    assert int4.builder_options() == {"block_size": "128", "accuracy_level": "1", "is_symmetric": "false",
                                      "shared_embeddings": "false"}
    assert all(VARIANT_NAME.match(p.name) for p in (int4, int8))


def test_post_pass_presets_start_from_fp32_and_ignore_knobs():
    hq = resolve_presets("int4-hq", block_size=64)[0]
    assert hq.name == "int4-hq" and hq.builder_precision() == "fp32" and hq.path == "offset4"
    hq1 = resolve_presets("int4-hq", accuracy_level=1)[0]
    assert (hq1.name, hq1.accuracy_level, hq1.block_size) == ("int4-hq-a1", 1, 32)
    assert PRESETS["int4-olive"].builder_precision() == "fp32"


def test_unknown_and_empty():
    with pytest.raises(WorkbenchError, match="unknown variant 'int3'"):
        resolve_presets("int4,int3")
    with pytest.raises(WorkbenchError, match="no variants"):
        resolve_presets("")
    assert [p.name for p in resolve_presets("int4,int4")] == ["int4"]


def test_calibrated_preset_takes_the_knobs_and_the_calibration_size_in_its_name():
    cal = resolve_presets("int4-cal")[0]
    assert (cal.name, cal.path, cal.symmetric, cal.builder_precision()) == ("int4-cal", "gptq", False, "fp32")
    assert cal.settings()["calibration_samples"] == 32 and cal.settings()["calibration_data"] is None
    cal2, int4 = resolve_presets("int4-cal,int4", block_size=64, symmetric=True, calibration_samples=128,
                                 calibration_data="slmw:demo")
    assert (cal2.name, cal2.block_size, cal2.calibration_samples, cal2.calibration_data) == (
        "int4-cal-b64-sym-c128", 64, 128, "slmw:demo")
    assert int4.name == "int4-b64" and int4.calibration_data is None  # the calibration is int4-cal's alone
    assert VARIANT_NAME.match(cal2.name)


def test_int4_hq_cal_keeps_its_offsets_whatever_symmetric_says():
    (hqcal,) = resolve_presets("int4-hq-cal", symmetric=True, block_size=64)
    assert (hqcal.name, hqcal.offsets, hqcal.symmetric, hqcal.block_size) == ("int4-hq-cal-b64", True, False, 64)
    assert hqcal.settings()["offsets"] is True


def test_int4_mix_cal_records_where_it_folds_offsets_and_its_4bit_head():
    (mix,) = resolve_presets("int4-mix-cal")
    settings = mix.settings()
    assert (settings["head_bits"], settings["offsets"], settings["offsets_in"]) == (4, False, ["gate_proj", "up_proj"])
    (hqcal,) = resolve_presets("int4-hq-cal")  # a preset without offsets_in records none: its old builds still match
    assert "offsets_in" not in hqcal.settings() and hqcal.settings()["head_bits"] == 8
