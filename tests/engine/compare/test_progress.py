"""CompareProgress: what a view shows per variant while an export/compare job runs, read from fields."""

from __future__ import annotations

import json
from pathlib import Path

from slm_workbench.engine.compare.progress import CompareProgress
from slm_workbench.engine.events import CorruptLine, Error, Finished, ItemState, Progress, Started
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import read_events


def progress(item: str, phase: str, done: float, total: float, k: int = 1, n: int = 3) -> Progress:
    return Progress(phase=phase, done=done, total=total, unit="steps", item=item, item_index=k, item_count=n)


def test_a_recorded_compare_job_folds_building_built_measuring_measured_and_broken(tmp_path: Path) -> None:
    """The stream a compare job writes (through RunContext, as its stages do), replayed from the files."""
    ctx = RunContext(tmp_path)
    ctx.emit(Started(stage="compare", pid=1, host="h"))
    ctx.progress("reading layer 3", 3, 30, unit="steps", item="int4", item_index=1, item_count=1)  # building
    ctx.item_state("int4", "built", finished=False, detail="built in 12 s")
    ctx.progress("tokenizing the held-out set")
    ctx.progress("perplexity", 0, 4, unit="steps", item="torch-fp32", item_index=1, item_count=2)
    ctx.metrics({"variant": "torch-fp32", "perplexity": 22.0, "decode_tok_s": 5.0, "size_mb": 538.0})
    ctx.item_state("torch-fp32", "measured", finished=True)
    ctx.progress("perplexity", 1, 4, unit="steps", item="int4", item_index=2, item_count=2)
    ctx.metrics({"variant": "int4", "perplexity": 4000.0, "decode_tok_s": 30.0, "size_mb": 90.0})
    ctx.item_state("int4", "measured", finished=True)
    ctx.item_state("int4", "broken", finished=True, detail="perplexity 212x the reference")

    rows = {row["variant"]: row for row in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines())}
    state, seen = CompareProgress(), []
    state.expect(["torch-fp32", "int4"])
    for event in read_events(tmp_path):  # one line at a time, as a view polling the live job can see it
        measured = isinstance(event, ItemState) and event.state == "measured"
        state.feed([event], [rows[event.item]] if measured else [])  # its metrics row is written just before
        int4 = state.variants["int4"]
        seen.append((int4.activity, int4.finished, state.finished_count))

    assert seen[1] == ("reading layer 3", False, 0)  # building
    assert seen[2] == ("built", False, 0)  # built, still pending in a comparison
    assert seen[5] == ("built", False, 1)  # the reference measured: one of two finished
    assert seen[6] == ("perplexity", False, 1)  # measuring
    assert seen[7] == ("measured", True, 2)
    assert seen[8] == ("broken", True, 2)
    assert state.variants["int4"].position == (2, 2) and state.overall == "tokenizing the held-out set"
    assert state.variants["int4"].broken_reason == "perplexity 212x the reference"
    assert state.variants["int4"].numbers["perplexity"] == 4000.0


def test_in_an_export_job_built_is_the_end() -> None:
    state = CompareProgress()
    state.expect(["int8", "int4"])
    state.feed([progress("int8", "saving", 2, 3, 1, 2), ItemState(item="int8", state="built", finished=True)])
    assert state.variants["int8"].activity == "built" and state.finished_count == 1
    assert state.variants["int4"].activity == "waiting"


def test_variants_fill_in_as_the_job_reports_them() -> None:
    state = CompareProgress()
    state.expect(["torch-fp32", "int8", "int4"])
    assert [v.activity for v in state.variants.values()] == ["waiting"] * 3

    assert state.feed([Started(stage="compare", pid=1, host="h"), progress("int8", "reading layer 3", 3, 30)])
    assert state.current == "int8"
    assert state.variants["int8"].activity == "reading layer 3"
    assert state.variants["int8"].fraction == 0.1 and state.variants["int8"].position == (1, 3)

    state.feed(metrics=[{"variant": "torch-fp32", "perplexity": 22.24, "decode_tok_s": 4.5, "size_mb": 538.0,
                         "ttft_s": None, "time": 1.0}])
    ref = state.variants["torch-fp32"]
    assert ref.measured  # None and time are dropped:
    assert ref.numbers == {"perplexity": 22.24, "decode_tok_s": 4.5, "size_mb": 538.0}


def test_runs_from_before_item_states_read_their_state_from_the_numbers() -> None:
    state = CompareProgress()
    state.feed(metrics=[{"variant": "int8", "size_mb": 270.0, "build_s": 14.0},
                        {"variant": "fp32", "perplexity": 22.0, "size_mb": 544.0}])
    assert state.variants["int8"].activity == "built" and state.variants["fp32"].activity == "measured"
    assert state.finished_count == 0  # only the job says when it is done with a variant


def test_a_variant_the_job_left_shows_where_it_stands_again() -> None:
    state = CompareProgress()
    state.feed([progress("int8", "decode", 1, 3), progress("int4", "load", 0, 3)])
    assert state.variants["int8"].activity == "waiting" and state.variants["int8"].fraction is None
    assert state.current == "int4"
    assert state.order == ["int8", "int4"]  # names the job reports are added in its order
    state.feed([ItemState(item="int4", state="measured"), progress("int8", "speed round 2", 1, 2)])
    assert state.variants["int4"].activity == "measured" and not state.variants["int4"].finished
    state.feed([Finished(outcome="cancelled")])
    assert state.variants["int8"].activity == "waiting" and state.current == ""


def test_job_wide_progress_broken_verdicts_errors_and_the_end() -> None:
    state = CompareProgress()
    state.expect(["int4"])
    state.feed([Progress(phase="tokenizing the held-out set")])
    assert state.overall == "tokenizing the held-out set"
    assert state.feed([ItemState(item="int4", state="broken", finished=True, detail="failed to load or run")])
    assert state.variants["int4"].broken and state.variants["int4"].broken_reason == "failed to load or run"
    assert not state.feed([CorruptLine("events.jsonl", 4, "not JSON")])
    state.feed([Error(message="measuring int4 failed", hint="see measure-int4.log"), Finished(outcome="failed")])
    assert state.finished == "failed" and state.current == ""
    assert state.error == "measuring int4 failed (see measure-int4.log)"


def test_corrupt_metric_rows_are_skipped() -> None:
    state = CompareProgress()
    assert not state.feed(metrics=[CorruptLine("metrics.jsonl", 2, "not JSON"), {"step": 3, "loss": 1.0}])
    assert state.order == []
