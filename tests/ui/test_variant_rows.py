"""The Quantize & Compare rows: from a report or a running job, sorted with broken ones last."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.engine.compare.progress import CompareProgress
from slm_workbench.engine.events import ItemState, Progress
from slm_workbench.engine.compare.report import load_report
from slm_workbench.ui.variant_rows import COLUMNS, best_first, rows_from_progress, rows_from_report, sort_rows

from .conftest import write_compare_run


def test_rows_from_a_report_mark_reference_best_and_broken(tmp_path: Path) -> None:
    rows = rows_from_report(load_report(write_compare_run(tmp_path)))
    by_name = {r.name: r for r in rows}
    assert by_name["torch-fp32"].reference and by_name["torch-fp32"].status == "reference"
    assert by_name["int4-hq"].recommended and by_name["int4-hq"].status == "★ recommended"
    assert by_name["int4-olive"].broken and by_name["int4-olive"].status == "BROKEN"
    assert by_name["int8"].status == "#2"  # ranked: it keeps perplexity and the task, slower than int4-hq
    assert by_name["int4"].status == "✗ ppl +31.9%" and by_name["fp32"].status == "#3"  # 98% on average, its paired interval reaches 100%: kept, ranked
    cells = {c.key: by_name["int8"].cell(c) for c in COLUMNS}
    assert cells["ppl_change"] == "+0.9%" and cells["same_prefix"] == "41/64" and cells["agreement"] == "81%"
    assert cells["speedup"] == "4.07" and cells["settings"] == "b32 a4 sym"


def test_rows_show_the_task_interval_n_the_paired_ratio_and_both_rss_figures(tmp_path: Path) -> None:
    rows = {r.name: r for r in rows_from_report(load_report(write_compare_run(tmp_path)))}
    fp32 = {c.key: rows["fp32"].cell(c) for c in COLUMNS}
    assert fp32["task_score"] == "0.86 ±0.08" and fp32["task_n"] == "64"
    assert fp32["task_kept"].startswith("98% 91–")  # the mean ratio and its paired interval
    int8 = {c.key: rows["int8"].cell(c) for c in COLUMNS}
    assert (int8["peak_rss_mb"], int8["model_rss_mb"]) == ("498", "403")  # peak, and peak minus 95 MB before loading
    assert int8["task_kept"] == "100% 100–100"
    labels = [c.label for c in COLUMNS]
    assert "RSS MB" in labels and "model MB" in labels and "task ±95%" in labels and "n" in labels
    assert [r.name for r in sort_rows(list(rows.values()), "task_score", reverse=True)][-1] == "int4-olive"


def test_without_a_reference_no_row_is_starred(tmp_path: Path) -> None:
    from slm_workbench.engine.compare.report import rank_variants
    from slm_workbench.ui.variant_rows import verdict_text

    report = load_report(write_compare_run(tmp_path))
    report.variants = [v for v in report.variants if v.kind == "onnx"]
    report.reference, report.settings["reference"] = None, False
    rank_variants(report)
    rows = {r.name: r for r in rows_from_report(report)}
    assert not any(r.recommended for r in rows.values())
    assert rows["int4"].status == "fastest, unchecked" and rows["int8"].status == "unchecked"
    text = verdict_text(report).plain
    assert text.startswith("fastest: int4 (39.9 tok/s) — no quality check was made (--no-reference)")
    assert "★" not in text


def test_sorting_keeps_broken_variants_last_in_either_direction(tmp_path: Path) -> None:
    rows = rows_from_report(load_report(write_compare_run(tmp_path)))
    fastest = [r.name for r in sort_rows(rows, "decode_tok_s", reverse=best_first("decode_tok_s"))]
    assert fastest == ["int4", "int4-hq", "int8", "fp32", "torch-fp32", "int4-olive"]
    smallest = [r.name for r in sort_rows(rows, "perplexity", reverse=best_first("perplexity"))]
    assert smallest[0] in ("torch-fp32", "fp32") and smallest[-1] == "int4-olive"
    assert [r.name for r in sort_rows(rows, "perplexity", reverse=True)][-1] == "int4-olive"
    assert [r.name for r in sort_rows(rows, "name")][:2] == ["fp32", "int4"]
    assert [r.name for r in sort_rows(rows, None)][-1] == "int4-olive"


def test_rows_from_progress_compute_ratios_against_the_reference_so_far() -> None:
    state = CompareProgress()
    state.expect(["torch-fp32", "int8", "int4"])
    state.feed(metrics=[{"variant": "torch-fp32", "perplexity": 20.0, "decode_tok_s": 5.0},
                        {"variant": "int8", "perplexity": 21.0, "decode_tok_s": 20.0}])
    rows = {r.name: r for r in rows_from_progress(state)}
    assert rows["torch-fp32"].values["speedup"] == 1.0
    assert rows["int8"].values["speedup"] == 4.0
    assert abs(rows["int8"].values["ppl_change"] - 0.05) < 1e-9
    assert rows["int4"].status == "waiting" and rows["int4"].values == {}


def test_a_built_variant_reads_built_and_stays_pending_until_measured() -> None:
    state = CompareProgress()
    state.expect(["torch-fp32", "int8"])
    state.feed([Progress(phase="saving", done=1, total=2, item="int8", item_index=1, item_count=1)])
    building = {r.name: r for r in rows_from_progress(state)}["int8"]
    assert building.status == "saving 50%" and not building.finished and not building.ready
    state.feed([ItemState(item="int8", state="built", finished=False)])
    rows = {r.name: r for r in rows_from_progress(state)}
    assert rows["int8"].status == "built" and not rows["int8"].finished and rows["int8"].ready
    assert sum(r.finished for r in rows.values()) == 0  # what the pane's bar counts
    state.feed([Progress(phase="perplexity", done=1, total=4, item="int8", item_index=2, item_count=2)])
    assert {r.name: r for r in rows_from_progress(state)}["int8"].status == "perplexity 25%"
    state.feed([ItemState(item="int8", state="measured", finished=True)],
               [{"variant": "int8", "perplexity": 21.0, "decode_tok_s": 20.0}])
    rows = {r.name: r for r in rows_from_progress(state)}
    assert rows["int8"].status == "measured" and rows["int8"].finished and rows["int8"].ready
    state.feed([ItemState(item="int8", state="broken", finished=True, detail="loops on every prompt")])
    broken = {r.name: r for r in rows_from_progress(state)}["int8"]
    assert broken.status == "BROKEN" and broken.broken and broken.finished and not broken.ready


def test_the_verdict_names_the_rule_and_why_each_other_variant_is_not_it(tmp_path: Path) -> None:
    from slm_workbench.engine.compare.report import rank_variants
    from slm_workbench.ui.variant_rows import verdict_text

    report = load_report(write_compare_run(tmp_path))
    rank_variants(report)  # a report written before why_not existed gets it here
    text = verdict_text(report).plain
    assert text.startswith("★ int4-hq is the fastest variant within +5% perplexity")
    assert "\nint4: perplexity" in text and "\nint4-olive: broken:" in text and "torch-fp32" not in text
    for v in report.variants:  # a report without per-example scores: the rule falls back to the means
        v.task_scores, v.task_ratio, v.task_n = [], None, None
    for name in ("torch-fp32", "fp32", "int8", "int4"):
        report.by_name(name).task_score = 0.9
    report.by_name("int4-hq").task_score = 0.5
    report.evalset["tasks"] = 64
    rank_variants(report)
    text = verdict_text(report).plain
    assert ("keeping the task (its task score is ≥98% of the reference's on the same examples and the paired 95% "
            "interval of that ratio reaches 100%") in text
    assert "int4-hq: task 0.500 is 56% of the reference's 0.900" in text
