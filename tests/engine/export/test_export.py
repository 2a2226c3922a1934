"""Exporting the tiny model: the variant layout, slmw_variant.json, reuse, MODEL:VARIANT, bad graphs."""

from __future__ import annotations

import json
import shutil

import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.export.export import export_variants, verify_variant
from slm_workbench.config.presets import resolve_presets
from slm_workbench.engine.model_source import resolve_source
from slm_workbench.engine.models.variants import VARIANT_INFO_FILE, split_variant
from tests.export_fixtures import link_variants


def test_built_variants_are_complete_genai_folders(tiny_variants, tiny_model_dir):
    for name in ("fp32", "int4", "int4-hq"):
        folder = tiny_variants[name]
        assert folder.name == name and folder.parent.name == tiny_model_dir.name
        for required in ("genai_config.json", "model.onnx", "tokenizer.json", VARIANT_INFO_FILE):
            assert (folder / required).is_file(), (name, required)
        info = json.loads((folder / VARIANT_INFO_FILE).read_text())
        assert info["variant"] == name and info["label"] == f"{tiny_model_dir.name}:{name}"
        assert info["source"]["folder"] == str(tiny_model_dir)
    assert json.loads((tiny_variants["int4"] / VARIANT_INFO_FILE).read_text())["block_size"] == 32
    hq = json.loads((tiny_variants["int4-hq"] / VARIANT_INFO_FILE).read_text())
    assert hq["path"] == "offset4" and "quantization_stats" in hq
    size = lambda f: sum(p.stat().st_size for p in f.iterdir())  # noqa: E731
    assert size(tiny_variants["int4"]) < size(tiny_variants["fp32"])
    assert not list(tiny_variants["fp32"].parent.glob(".*partial*"))


def test_existing_variants_are_kept_and_addressable(tiny_variants, tiny_model_dir, slmw_home, tmp_path):
    link_variants(slmw_home, tiny_model_dir.name, {"int4": tiny_variants["int4"]})
    source = resolve_source(str(tiny_model_dir))
    assert set(source.built_variants()) == {"int4"}
    heard = []
    (built,) = export_variants(source, resolve_presets("int4"), work_dir=tmp_path / "work", on_built=heard.append)
    assert heard == [built] and built.reused and built.folder == slmw_home / "variants" / tiny_model_dir.name / "int4"
    spec = split_variant(f"{tiny_model_dir}:int4")
    assert spec.variant == "int4" and resolve_source(spec.base).variant_dir("int4") == built.folder


def test_a_graph_that_does_not_load_is_refused(tiny_variants, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_variants["int4"], bad, symlinks=False)
    (bad / "model.onnx").write_bytes((bad / "model.onnx").read_bytes()[:2000])
    with pytest.raises(WorkbenchError, match="does not load or run"):
        verify_variant(bad)


def test_unknown_model_is_a_clear_error():
    from slm_workbench.engine.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):
        resolve_source("no-such-model-or-run")


@pytest.mark.e2e  # one more builder run (~15-30 s)
def test_fp16_is_built_for_cuda_and_not_measured_on_the_cpu(tiny_model_dir, tmp_path):
    from slm_workbench.engine.compare.compare import CompareSettings, compare_variants
    from slm_workbench.engine.compare.evalset import build_evalset

    source = resolve_source(str(tiny_model_dir))
    (fp16,) = export_variants(source, resolve_presets("fp16"), work_dir=tmp_path / "work")
    info = json.loads((fp16.folder / VARIANT_INFO_FILE).read_text())
    assert info["execution_provider"] == "cuda" and not fp16.verified and "not loaded back" in fp16.notes[0]
    verdicts = []
    report = compare_variants(source, {"fp16": fp16.folder}, evalset=build_evalset(tiny_model_dir, None, perplexity_tokens=16),
                              work_dir=tmp_path / "cmp", settings=CompareSettings(reference=False),
                              on_verdict=lambda *a: verdicts.append(a))
    (result,) = report.variants
    assert result.perplexity is None and result.rank is None and not result.broken
    assert any("not measured (ONNX Runtime GenAI here has no cuda build" in n for n in result.notes)
    assert verdicts == [("fp16", "not measured", True, "built for cuda")]


def test_int4_cal_is_built_from_fp32_on_the_data_given_and_says_so(tiny_variants, tiny_model_dir, slmw_home,
                                                                   tmp_path):
    from types import SimpleNamespace

    from slm_workbench.engine.export.export import calibration_source

    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    source = resolve_source(str(tiny_model_dir))
    data = tmp_path / "cal.jsonl"
    data.write_text("\n".join(json.dumps({"prompt": f"Name {i}?", "completion": f"Ana {i}"}) for i in range(40)) + "\n")
    (built,) = export_variants(source, resolve_presets("int4-cal", calibration_samples=2, calibration_data=str(data)),
                               work_dir=tmp_path / "work")
    assert built.name == "int4-cal-c2" and built.verified and not built.reused
    info = json.loads((built.folder / VARIANT_INFO_FILE).read_text())
    assert info["path"] == "gptq" and info["symmetric"] is False and info["calibration_samples"] == 2
    assert info["quantization_stats"]["sequences"] == 2 and info["quantization_stats"]["calibration_data"] == str(data)
    assert str(data) in info["notes"][0]
    # where the calibration text comes from when none is given: the run's training data, else the demo data
    preset = resolve_presets("int4-cal")[0]
    assert calibration_source(source, preset) == "slmw:demo"
    run = SimpleNamespace(datasets=lambda: [tmp_path / "prepared"])
    assert calibration_source(SimpleNamespace(run=run), preset) == str(tmp_path / "prepared")
