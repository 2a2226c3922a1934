"""Ranking (broken never ranked), recommendation, and the three report files."""

from __future__ import annotations

import csv
import json

from slm_workbench.engine.compare.report import (
    CompareReport,
    VariantResult,
    load_report,
    rank_variants,
    summary_json,
    write_report,
)


def make_report() -> CompareReport:
    v = lambda name, kind, ppl, tok, **kw: VariantResult(name, f"m:{name}", kind, f"/x/{name}", perplexity=ppl,  # noqa: E731
                                                         decode_tok_s=tok, **kw)
    variants = [
        v("torch-fp32", "torch", 22.70, 10.0),
        v("fp32", "onnx", 22.70, 20.0),
        v("int8", "onnx", 22.90, 45.0),
        v("int4", "onnx", 30.12, 83.0),
        v("qint8", "onnx", 3.6e7, 27.0, broken=True, broken_reason="perplexity 3.6e7"),
    ]
    report = CompareReport({"name": "m"}, "now", {"threads": 1}, {"new_tokens": 64, "decode_runs": 3},
                           {"name": "heldout.txt", "ppl_tokens": 2048}, variants, reference="torch-fp32")
    rank_variants(report)
    return report


def test_ranks_skip_broken_and_recommend_the_fastest_close_one():
    report = make_report()
    ranks = {v.name: v.rank for v in report.variants}
    assert ranks["qint8"] is None
    assert ranks["torch-fp32"] in (1, 2) and ranks["fp32"] in (1, 2) and ranks["int8"] == 3 and ranks["int4"] == 4
    assert report.recommended == "int8"
    assert report.by_name("int4").speedup == 8.3
    assert round(report.by_name("int8").ppl_change, 4) == round(22.9 / 22.7 - 1, 4)


def test_files_round_trip(tmp_path):
    report = make_report()
    paths = write_report(report, tmp_path)
    loaded = load_report(tmp_path)
    assert loaded.as_dict() == json.loads(json.dumps(report.as_dict()))
    md = paths["markdown"].read_text()
    assert "| int8 |" in md and "BROKEN: perplexity 3.6e7" in md and "(recommended)" in md
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["variant"] for r in rows] == ["torch-fp32", "fp32", "int8", "int4", "qint8"]
    assert rows[-1]["broken"] == "True" and rows[-1]["rank"] == ""
    data = summary_json(loaded)
    assert list(data)[0] == "variants" and "tokens" not in data["variants"][0]
