"""Reading a sweep's summary files: ranking, the best trial, damaged files read as empty."""

from __future__ import annotations

from slm_workbench.engine.sweep.summary import best_trial, ranked, read_report, read_trials

ROWS = [
    {"number": 0, "state": "complete", "value": 1.5},
    {"number": 1, "state": "pruned", "value": 1.2},  # stood lower when stopped: still after the finished ones
    {"number": 2, "state": "complete", "value": 1.1},
    {"number": 3, "state": "running", "value": None},
    {"number": 4, "state": "failed", "value": None},
]


def test_complete_trials_rank_first_then_pruned_then_the_rest() -> None:
    assert [r["number"] for r in ranked(ROWS, "minimize")] == [2, 0, 1, 3, 4]
    assert [r["number"] for r in ranked(ROWS, "maximize")] == [0, 2, 1, 3, 4]


def test_the_best_is_a_complete_trial() -> None:
    assert best_trial(ROWS, "minimize")["number"] == 2
    assert best_trial([r for r in ROWS if r["state"] != "complete"], "minimize") is None


def test_missing_or_damaged_files_read_as_empty(tmp_path) -> None:
    assert read_trials(tmp_path) == [] and read_report(tmp_path) == {}
    (tmp_path / "trials.jsonl").write_text('{"number": 0}\nnot json\n[1]\n')
    (tmp_path / "sweep_report.json").write_text("{broken")
    assert read_trials(tmp_path) == [{"number": 0}] and read_report(tmp_path) == {}
