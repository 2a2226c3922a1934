"""Reading eval runs' files and pairing two runs, on hand-written files (fixtures/): ``base``
finished with its report; ``tuned`` was killed mid-line and has no report yet.

The examples: a1 (JSON, base half right, tuned right: fixed), b2 (base right, tuned wrong:
broken), c3 (both pass), d4 (base's endpoint timed out, the retry on resume passed, tuned
wrong: broken), e5 (base only: tuned was killed while writing it), f6 (both wrong)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from slm_workbench.engine.errors import CorruptRunFileError
from slm_workbench.engine.eval.diff import diff_runs, pair_runs
from slm_workbench.engine.eval.results import (
    Prediction, PredictionsTail, predictions_path, read_predictions, read_report, report_path, worst_first,
)
from slm_workbench.engine.textdiff import word_diff

FIXTURES = Path(__file__).parent / "fixtures"
BASE, TUNED = FIXTURES / "base", FIXTURES / "tuned"


def rows(run: Path) -> list[Prediction]:
    return read_predictions(predictions_path(run)).rows


def row(index: int, task: float, *, id: str = "", passed: bool | None = None, **scores: float) -> Prediction:
    return Prediction(index, id or f"x{index}", [], "ref", "pred", task, task >= 0.5 if passed is None else passed,
                      {"token_f1": task, **scores})


# -- reading ------------------------------------------------------------------------------------
def test_reads_every_row_and_leaves_out_a_truncated_last_line() -> None:
    base, tuned = read_predictions(predictions_path(BASE)), read_predictions(predictions_path(TUNED))
    assert [r.id for r in base.rows] == ["a1", "b2", "c3", "d4", "e5", "f6"] and base.problems == []
    assert [r.id for r in tuned.rows] == ["a1", "b2", "c3", "d4", "f6"] and tuned.problems == []
    assert base.rows[3].error is None and base.rows[3].task == 0.67  # the retried row replaced the error
    a1 = base.rows[0]
    assert a1.task == 0.5 and not a1.passed and a1.fields == {"name": True, "city": False}
    assert a1.scores["json_fields"] == 0.5 and a1.nll == 6.0 and a1.ref_tokens == 10
    assert base.rows[1].scores["json_fields"] is None  # does not apply: kept as null, not 0
    assert base.rows[1].prompt == "system: Answer in one sentence.\n\nuser: What is the capital of France?"
    assert a1.prompt == "Extract the contact as JSON: Ann Lee lives in Oslo."
    assert read_predictions(FIXTURES / "nowhere.jsonl").rows == []


def test_a_damaged_line_in_the_middle_is_named_and_the_rest_read(tmp_path: Path) -> None:
    lines = predictions_path(BASE).read_text().splitlines()
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join([lines[0], '{"index": 1, "id": 7}', "not json", *lines[2:]]) + "\n")
    read = read_predictions(path)
    assert [r.index for r in read.rows] == [0, 2, 3, 4, 5]
    assert read.rows[2].error is None  # d4: its retry, the last row of that id
    assert [(p.line_no, p.path) for p in read.problems] == [(2, str(path)), (3, str(path))]
    assert "'id' is missing or not a string" in read.problems[0].reason


def test_the_tail_gives_rows_as_they_are_finished(tmp_path: Path) -> None:
    run = tmp_path / "run"
    predictions_path(run).parent.mkdir(parents=True)
    lines = predictions_path(BASE).read_text().splitlines(keepends=True)
    tail = PredictionsTail(run)
    assert tail.read_new().rows == []  # no file yet
    predictions_path(run).write_text(lines[0] + lines[1][:40])
    assert [r.id for r in tail.read_new().rows] == ["a1"]  # the half-written line waits
    with predictions_path(run).open("a") as fh:
        fh.write(lines[1][40:] + lines[2])
    assert [r.id for r in tail.read_new().rows] == ["b2", "c3"]
    assert tail.read_new().rows == []


def test_reads_the_report_and_names_a_damaged_one(tmp_path: Path) -> None:
    report = read_report(report_path(BASE))
    assert report is not None
    assert (report.examples, report.passed, report.failed, report.target) == (6, 4, 2, "smollm2-135m-instruct")
    assert report.metrics["task"].mean == 0.695 and report.metrics["task"].n == 6
    assert report.metrics["perplexity"].high == 2.4
    assert report.fields == {"name": (1.0, 1), "city": (0.0, 1)}
    assert read_report(report_path(TUNED)) is None  # not written yet
    bad = tmp_path / "eval_report.json"
    bad.write_text('{"metrics": {"task": {"mean": "high"}}}')
    with pytest.raises(CorruptRunFileError, match=r"eval_report.json: metrics.task.mean is 'high'"):
        read_report(bad)


def test_worst_first_puts_failures_first_lowest_score_first() -> None:
    ordered = worst_first(rows(BASE))
    assert [(r.index, r.task) for r in ordered] == [(5, 0.0), (0, 0.5), (3, 0.67), (1, 1.0), (2, 1.0), (4, 1.0)]


# -- pairing ------------------------------------------------------------------------------------
def test_pairs_by_id_and_tells_fixed_from_broken() -> None:
    diff = pair_runs(rows(BASE), rows(TUNED))
    assert [p.key for p in diff.pairs] == ["a1", "b2", "c3", "d4", "f6"]
    assert {p.key: p.outcome for p in diff.pairs} == {
        "a1": "fixed", "b2": "broken", "c3": "both_pass", "d4": "broken", "f6": "both_fail"}
    assert diff.only_a == ["e5"] and diff.only_b == []
    assert diff.counts() == {"fixed": 1, "broken": 2, "both_fail": 1, "both_pass": 1}
    assert [p.key for p in diff.with_outcome("fixed", "broken")] == ["a1", "b2", "d4"]
    assert diff.pairs[3].task_change == pytest.approx(0.33 - 0.67)
    raw = [Prediction(0, "x", [], "r", "p", 0.0, False), Prediction(0, "x", [], "r", "r", 1.0, True)]
    assert pair_runs(raw, raw[:1]).pairs[0].outcome == "broken"  # a retried row counts by its last one


def test_metric_differences_by_hand() -> None:
    diff = pair_runs(rows(BASE), rows(TUNED))
    task = diff.metrics["task"]
    assert (task.a, task.b, task.n) == (pytest.approx(3.17 / 5), pytest.approx(2.33 / 5), 5)
    assert task.difference == pytest.approx((0.5 - 1.0 + 0.0 - 0.34 + 0.0) / 5)
    assert task.low <= task.difference <= task.high
    fields = diff.metrics["json_fields"]  # applies to a1 only: one pair, no spread
    assert (fields.n, fields.difference, fields.low, fields.high) == (1, 0.5, 0.5, 0.5)
    assert fields.significant and fields.better is True
    ppl = diff.metrics["perplexity"]  # corpus perplexity over the pairs: sums of NLL over sums of tokens
    assert ppl.n == 5
    assert ppl.a == pytest.approx(math.exp(20 / 29)) and ppl.b == pytest.approx(math.exp(16.4 / 29))
    assert ppl.difference == pytest.approx(math.exp(16.4 / 29) - math.exp(20 / 29))
    assert ppl.low <= ppl.difference <= ppl.high
    assert ppl.high < 0 and ppl.better is True  # every pair's NLL fell; lower perplexity is the better one


def test_the_same_seed_gives_the_same_interval_and_the_report_sets_it() -> None:
    a, b = rows(BASE), rows(TUNED)
    first, again = pair_runs(a, b, seed=3), pair_runs(a, b, seed=3)
    assert first.metrics == again.metrics
    assert pair_runs(a, b, seed=4).metrics["task"] != first.metrics["task"]
    assert diff_runs(BASE, TUNED).metrics == pair_runs(a, b, samples=500, seed=7).metrics  # base's report: 500, seed 7


def test_the_paired_interval_matches_the_normal_one_on_many_examples() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 400)
    d = rng.normal(0.05, 0.2, 400)
    diff = pair_runs([row(i, x) for i, x in enumerate(a)], [row(i, x + y) for i, (x, y) in enumerate(zip(a, d))],
                     samples=2000)
    task = diff.metrics["task"]
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
    assert task.difference == pytest.approx(d.mean())
    assert task.low == pytest.approx(d.mean() - half, abs=0.15 * half)
    assert task.high == pytest.approx(d.mean() + half, abs=0.15 * half)


def test_pairing_sees_a_small_steady_gain_that_two_separate_intervals_would_not() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 0.9, 60)  # widely spread scores
    diff = pair_runs([row(i, x) for i, x in enumerate(a)], [row(i, x + 0.03) for i, x in enumerate(a)])
    task = diff.metrics["task"]
    assert task.low == pytest.approx(0.03) and task.high == pytest.approx(0.03) and task.better is True
    spread = 1.96 * a.std(ddof=1) / math.sqrt(len(a))
    assert spread > 0.03  # each run's own interval is wider than the gain


def test_a_change_within_noise_is_not_called_better_or_worse() -> None:
    a = [row(i, 0.5) for i in range(20)]
    b = [row(i, 0.5 + (0.1 if i % 2 else -0.1)) for i in range(20)]
    task = pair_runs(a, b).metrics["task"]
    assert task.low < 0 < task.high and not task.significant and task.better is None


def test_diff_runs_on_directories_copied_elsewhere(tmp_path: Path) -> None:
    shutil.copytree(BASE, tmp_path / "a")
    shutil.copytree(BASE, tmp_path / "b")
    diff = diff_runs(tmp_path / "a", tmp_path / "b")
    assert diff.counts() == {"fixed": 0, "broken": 0, "both_fail": 2, "both_pass": 4}
    assert all(m.difference == 0 and not m.significant for m in diff.metrics.values())
    data = [json.loads(line) for line in predictions_path(tmp_path / "b").read_text().splitlines()]
    data[0]["id"] = "zz"
    predictions_path(tmp_path / "b").write_text("".join(json.dumps(d) + "\n" for d in data))
    diff = diff_runs(tmp_path / "a", tmp_path / "b")
    assert diff.only_a == ["a1"] and diff.only_b == ["zz"] and len(diff.pairs) == 5


# -- word diff ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reference, prediction", [
    ('{"name": "Ann Lee", "city": "Oslo"}', '{"name": "ann lee", "age": 31}'),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("", "something"), ("two  spaces\nand a line ", "two spaces"), ("same", "same"),
])
def test_word_diff_keeps_each_side_exactly(reference: str, prediction: str) -> None:
    diff = word_diff(reference, prediction)
    assert "".join(s.text for s in diff.reference) == reference
    assert "".join(s.text for s in diff.prediction) == prediction
    assert {s.kind for s in diff.reference} <= {"equal", "missing"}
    assert {s.kind for s in diff.prediction} <= {"equal", "extra"}


def test_word_diff_marks_what_is_missing_and_what_was_added() -> None:
    diff = word_diff('{"name": "Ann Lee", "city": "Oslo"}', '{"name": "ann lee", "age": 31}')
    marked = [(s.kind, s.text.strip()) for s in diff.merged if s.kind != "equal"]
    assert marked == [("missing", "city"), ("extra", "age"), ("missing", '"Oslo"'), ("extra", "31")]
    assert [s.kind for s in word_diff("Hello!", "hello!").merged] == ["equal"]  # case does not count
    assert [(s.kind, s.text) for s in word_diff("a b c", "a c").reference] == [
        ("equal", "a"), ("missing", " b"), ("equal", " c")]
    assert [(s.kind, s.text) for s in word_diff("a b", "a b}").prediction] == [("equal", "a b"), ("extra", "}")]
