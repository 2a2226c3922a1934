"""The evaluation loop: rows appended one by one, resumed after a stop or a torn line, reported from the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.errors import Cancelled, WorkbenchError
from slm_workbench.engine.eval.evaluate import EvalSettings, evaluate, read_rows
from slm_workbench.engine.eval.examples import load_examples
from slm_workbench.engine.runs.run import EVAL_REPORT, PREDICTIONS

from .conftest import ScriptedAnswerer
from tests.helpers import write_jsonl

GOOD = {
    "Extract as JSON: Ana Lima, 30, Porto": '```json\n{"name": "Ana Lima", "age": 30, "city": "Porto"}\n```',
    "Extract as JSON: Bo Chen, 41, Oslo": '{"name": "Bo Chen", "age": 14, "city": "Oslo"}',
    "What is 2 + 2?": "2 + 2 = 4.",
    "Capital of France?": "Lyon.",
}


def test_examples_come_from_every_format_and_bad_rows_are_counted(heldout: Path) -> None:
    examples = load_examples(heldout)
    assert [e.reference for e in examples.examples] == [
        '{"name": "Ana Lima", "age": 30, "city": "Porto"}', '{"name": "Bo Chen", "age": 41, "city": "Oslo"}',
        "2 + 2 = 4.", "Paris."]
    assert examples.invalid == 1 and "heldout.jsonl:4" in (examples.first_issue or "")  # no assistant turn
    assert examples.examples[3].messages[0] == {"role": "system", "content": "Be brief."}
    assert len({e.id for e in examples.examples}) == 4
    assert [e.id for e in load_examples(heldout, 2).examples] == [e.id for e in examples.examples[:2]]


def test_prompt_completion_and_alpaca_files_give_examples_and_bad_rows_are_counted(tmp_path: Path) -> None:
    pc = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "2 + 2?", "completion": "4"}, {"prompt": "x"}])
    examples = load_examples(pc)
    assert [(e.messages, e.reference) for e in examples.examples] == [([{"role": "user", "content": "2 + 2?"}], "4")]
    assert examples.invalid == 1 and "pc.jsonl:2" in (examples.first_issue or "")
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Add", "input": "2 and 2", "output": "4"}])
    assert load_examples(alpaca).examples[0].reference == "4"


def test_data_without_references_is_one_clear_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "plain.jsonl", [{"text": "a"}, {"text": "b"}])
    with pytest.raises(WorkbenchError, match=r"plain.jsonl: no example with a reference answer \(2 without one"):
        load_examples(path)


def test_every_example_is_scored_and_the_report_has_intervals(heldout: Path, tmp_path: Path) -> None:
    answerer = ScriptedAnswerer(GOOD)
    report = evaluate(answerer, load_examples(heldout), tmp_path / "out", EvalSettings(bootstrap_samples=200))
    rows = read_rows(tmp_path / "out" / PREDICTIONS)
    assert [r["passed"] for r in rows] == [True, False, True, False]
    assert rows[1]["fields"] == {"name": True, "age": False, "city": True}
    assert report["examples"] == 4 and report["passed"] == 2
    assert report["metrics"]["json_fields"]["n"] == 2 and report["metrics"]["exact_match"]["n"] == 4
    assert report["metrics"]["task"]["mean"] == pytest.approx((1 + 2 / 3 + 1 + 0) / 4, abs=1e-4)
    assert report["fields"]["age"] == {"accuracy": 0.5, "n": 2}
    assert report["metrics"]["perplexity"]["mean"] == pytest.approx(1.6487, abs=1e-3)  # exp(8 / 16)
    on_disk = json.loads((tmp_path / "out" / EVAL_REPORT).read_text())
    assert on_disk == report


def test_a_stopped_evaluation_resumes_without_scoring_anything_twice(heldout: Path, tmp_path: Path) -> None:
    examples = load_examples(heldout)
    first = ScriptedAnswerer(GOOD)
    calls = {"n": 0}

    def stop_after_two() -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        evaluate(first, examples, tmp_path, check_cancelled=stop_after_two)
    assert len(read_rows(tmp_path / PREDICTIONS)) == 2
    with open(tmp_path / PREDICTIONS, "a") as fh:  # a kill -9 in the middle of a write
        fh.write('{"index": 2, "id": "torn')
    second = ScriptedAnswerer(GOOD)
    report = evaluate(second, examples, tmp_path)
    assert second.asked == ["What is 2 + 2?", "Capital of France?"]
    rows = read_rows(tmp_path / PREDICTIONS)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert report["examples"] == 4
    straight = evaluate(ScriptedAnswerer(GOOD), examples, tmp_path / "straight")
    assert report["metrics"] == straight["metrics"]


def test_a_failed_answer_is_kept_as_an_error_row_and_three_in_a_row_stop(heldout: Path, tmp_path: Path) -> None:
    examples = load_examples(heldout)
    report = evaluate(ScriptedAnswerer(GOOD, fail_on={"What is 2 + 2?"}), examples, tmp_path / "one")
    rows = read_rows(tmp_path / "one" / PREDICTIONS)
    assert rows[2]["error"] == "cannot answer 'What is 2 + 2?'" and rows[2]["task"] == 0.0
    assert report["errors"] == 1 and report["examples"] == 4
    with pytest.raises(WorkbenchError, match="3 answers in a row failed, the last on example 3"):
        evaluate(ScriptedAnswerer({}, fail_on=set(GOOD)), examples, tmp_path / "down")
    assert [r["error"] is not None for r in read_rows(tmp_path / "down" / PREDICTIONS)] == [True, True]
    again = ScriptedAnswerer(GOOD)  # the endpoint is back: resuming asks the failed examples again
    report = evaluate(again, examples, tmp_path / "down")
    assert len(again.asked) == 4 and report["errors"] == 0 and report["examples"] == 4


def test_metrics_that_cannot_apply_are_refused_and_the_default_leaves_them_out(heldout: Path, tmp_path: Path) -> None:
    endpoint = ScriptedAnswerer(GOOD, perplexity=False)
    report = evaluate(endpoint, load_examples(heldout), tmp_path / "a")
    assert "perplexity" not in report["metrics"]
    with pytest.raises(WorkbenchError, match="perplexity needs token probabilities"):
        evaluate(endpoint, load_examples(heldout), tmp_path / "b", EvalSettings(metrics=("perplexity",)))
    with pytest.raises(WorkbenchError, match="unknown metric 'bleu'"):
        evaluate(endpoint, load_examples(heldout), tmp_path / "c", EvalSettings(metrics=("bleu",)))
