"""End to end on the real SmolLM2-135M: export fp32/int8/int4/int4-hq, compare with PyTorch."""

from __future__ import annotations

import pytest

from slm_workbench.engine.compare.compare import REFERENCE_NAME, CompareSettings, compare_variants
from slm_workbench.engine.compare.evalset import build_evalset
from slm_workbench.engine.export.export import export_variants
from slm_workbench.config.presets import resolve_presets
from slm_workbench.engine.model_source import resolve_source


@pytest.mark.e2e
@pytest.mark.timeout(400)
def test_smollm2_variants_against_pytorch(prepared_home, tmp_path):
    source = resolve_source("smollm2-135m-instruct")
    built = export_variants(source, resolve_presets("fp32,int8,int4,int4-hq"), work_dir=tmp_path / "export")
    assert [b.name for b in built] == ["fp32", "int8", "int4", "int4-hq"] and all(b.verified for b in built)
    evalset = build_evalset(source.hf_folder, None, perplexity_tokens=256)
    settings = CompareSettings(new_tokens=32, decode_runs=1, perplexity_tokens=256)
    report = compare_variants(source, {b.name: b.folder for b in built}, evalset=evalset,
                              work_dir=tmp_path / "compare", settings=settings)
    by = {v.name: v for v in report.variants}
    ref = by[REFERENCE_NAME]
    assert 10 < ref.perplexity < 60
    assert abs(by["fp32"].perplexity - ref.perplexity) < 0.01  # the same model: equal to two decimals
    assert by["fp32"].agreement["same_prefix"] == 32
    assert abs(by["int8"].ppl_change) < 0.02
    assert abs(by["int4-hq"].ppl_change) < 0.02  # exact offsets: within 2% where RTN int4 is ~+30%
    assert by["int4"].ppl_change > by["int4-hq"].ppl_change
    sizes = {name: by[name].size_mb for name in ("fp32", "int8", "int4", "int4-hq")}
    assert sizes["int4"] < sizes["int4-hq"] < sizes["int8"] < sizes["fp32"]
    assert not any(v.broken for v in report.variants)
    assert report.recommended in ("int8", "int4-hq")
