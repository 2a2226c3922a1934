"""CompareProgress: what a view shows per variant while an export/compare job runs."""

from __future__ import annotations

from slm_workbench.engine.compare.progress import CompareProgress, broken_warning, variant_phase
from slm_workbench.engine.events import CorruptLine, Error, Finished, Progress, Started, Warning


def progress(item: str, message: str, done: float, total: float, k: int = 1, n: int = 3) -> Progress:
    return Progress(phase=variant_phase(item, k, n, message), done=done, total=total, unit="steps", item=item)


def test_variants_fill_in_as_the_job_reports_them() -> None:
    state = CompareProgress()
    state.expect(["torch-fp32", "int8", "int4"])
    assert [v.activity for v in state.variants.values()] == ["waiting"] * 3

    assert state.feed([Started(stage="compare", pid=1, host="h"), progress("int8", "reading layer 3", 3, 30)])
    assert state.current == "int8"
    assert state.variants["int8"].activity == "reading layer 3"
    assert state.variants["int8"].fraction == 0.1

    state.feed(metrics=[{"variant": "torch-fp32", "perplexity": 22.24, "decode_tok_s": 4.5, "size_mb": 538.0,
                         "ttft_s": None, "time": 1.0}])
    ref = state.variants["torch-fp32"]
    assert ref.measured and ref.activity == "measured" and ref.fraction == 1.0
    assert ref.numbers == {"perplexity": 22.24, "decode_tok_s": 4.5, "size_mb": 538.0}  # None and time dropped

    state.feed(metrics=[{"variant": "int8", "size_mb": 270.0, "build_s": 14.0}])
    assert state.variants["int8"].activity == "built" and not state.variants["int8"].measured


def test_a_variant_the_job_left_unfinished_goes_back_to_waiting() -> None:
    state = CompareProgress()
    state.feed([progress("int8", "decode", 1, 3), progress("int4", "load", 0, 3)])
    assert state.variants["int8"].activity == "waiting" and state.variants["int8"].fraction is None
    assert state.current == "int4"
    assert state.order == ["int8", "int4"]  # names the job reports are added in its order


def test_job_wide_progress_broken_warnings_errors_and_the_end() -> None:
    state = CompareProgress()
    state.expect(["int4"])
    state.feed([Progress(phase="tokenizing the held-out set")])
    assert state.overall == "tokenizing the held-out set"
    assert state.feed([Warning(message=broken_warning("int4", "perplexity 212x the reference"))])
    assert state.variants["int4"].broken_reason == "perplexity 212x the reference"
    assert not state.feed([Warning(message="something else entirely"), CorruptLine("events.jsonl", 4, "not JSON")])
    state.feed([Error(message="measuring int4 failed", hint="see measure-int4.log"), Finished(outcome="failed")])
    assert state.finished == "failed" and state.current == ""
    assert state.error == "measuring int4 failed (see measure-int4.log)"


def test_corrupt_metric_rows_are_skipped() -> None:
    state = CompareProgress()
    assert not state.feed(metrics=[CorruptLine("metrics.jsonl", 2, "not JSON"), {"step": 3, "loss": 1.0}])
    assert state.order == []
