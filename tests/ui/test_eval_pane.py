"""The Eval pane as a user drives it, on eval run directories written here as the stage writes
them (docs/eval.md): aggregates, examples worst first, failures only, the word diff, two runs
paired (fixed / broken), a run that is still scoring, the launch form, and a snapshot."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Input, Select, Static

from slm_workbench.engine.runs.status import RunStatus
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.engine.stages import find_stage
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import StartJob
from slm_workbench.ui.screens.workbench import PANES
from slm_workbench.ui.widgets.eval_detail import EXTRA, MISSING
from slm_workbench.ui.widgets.eval_examples import EvalExamples

from .conftest import SNAPSHOT_HOME, T0, fixed_sample, press, wait_for, write_run
from .test_runs_pane import footer_keys

EVAL_KEY = str([pane_id for pane_id, _ in PANES].index("eval") + 1)

EXAMPLES = (
    # prompt, reference, the base model's answer, the fine-tuned one's
    ("Extract the contact as JSON: Ann Lee lives in Oslo, ann@lee.no",
     '{"name": "Ann Lee", "city": "Oslo", "email": "ann@lee.no"}',
     '{"name": "Ann Lee", "city": "Bergen"}', '{"name": "Ann Lee", "city": "Oslo", "email": "ann@lee.no"}'),
    ("What is the capital of France?", "Paris is the capital of France.",
     "The capital of France is Paris.", "Lyon."),
    ("Extract the contact as JSON: Bo Ek, bo@ek.se", '{"name": "Bo Ek", "email": "bo@ek.se"}',
     "Bo Ek's email is bo@ek.se", '{"name": "Bo Ek", "email": "bo@ek.se"}'),
    ("Say hello.", "Hello!", "Hello!", "Hello!"),
    ("Name three primes.", "2, 3 and 5", "4, 6 and 8", "1, 4 and 9"),
    ("Extract the contact as JSON: Cy Dahl from Umeå", '{"name": "Cy Dahl", "city": "Umeå"}',
     '{"name": "Cy Dahl", "city": "Umeå"}', '{"name": "Cy Dahl", "city": "Umea"}'),
)


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def score(reference: str, prediction: str) -> dict:
    """A row's scores, roughly as the stage computes them (enough to be consistent here)."""
    ref, pred = words(reference), words(prediction)
    common = sum(min(ref.count(w), pred.count(w)) for w in set(ref))
    f1 = 0.0 if not common else 2 * common / (len(ref) + len(pred))
    scores = {"exact_match": float(ref == pred), "token_f1": round(f1, 3), "rouge_l": round(f1, 3)}
    fields = None
    if reference.startswith("{"):
        expected = json.loads(reference)
        try:
            got = json.loads(prediction)
        except ValueError:
            got = None
        fields = {k: isinstance(got, dict) and got.get(k) == v for k, v in expected.items()}
        scores |= {"json_valid": float(got is not None), "json_fields": round(sum(fields.values()) / len(fields), 3)}
        task = scores["json_fields"]
        passed = task == 1.0
    else:
        task, passed = scores["token_f1"], scores["token_f1"] >= 0.5
    return {"task": task, "passed": passed, "scores": scores, "fields": fields}


def prediction_rows(which: int) -> list[dict]:
    """The rows of predictions.jsonl for the base (2) or the fine-tuned (3) model's answers."""
    out = []
    for i, example in enumerate(EXAMPLES):
        prompt, reference, answer = example[0], example[1], example[which]
        out.append({"index": i, "id": hashlib.sha1((prompt + reference).encode()).hexdigest()[:12],
                    "messages": [{"role": "user", "content": prompt}], "reference": reference, "prediction": answer,
                    **score(reference, answer), "nll": 2.0 + i / 2 + (which == 2), "ref_tokens": 8, "tokens": 9,
                    "seconds": 0.4, "error": None})
    return out


def report_of(rows: list[dict], target: str) -> dict:
    tasks = [r["task"] for r in rows]
    mean = sum(tasks) / len(tasks)
    return {"target": target, "target_kind": "transformers", "data": "/data/contacts-eval.jsonl",
            "examples": len(rows), "passed": sum(r["passed"] for r in rows), "failed": sum(not r["passed"] for r in rows),
            "seconds": 12.5, "metrics": {"task": {"mean": mean, "low": mean - 0.2, "high": mean + 0.15, "n": len(rows)},
                                         "json_fields": {"mean": 0.6, "low": 0.4, "high": 0.8, "n": 3}},
            "fields": {"name": {"accuracy": 1.0, "n": 3}, "city": {"accuracy": 0.5, "n": 2}},
            "settings": {"max_new_tokens": 256, "threads": 1, "bootstrap_samples": 200, "seed": 0}}


def write_eval_run(root: Path, run_id: str, which: int, *, target: str, state: str = "done", rows: int | None = None,
                   started: float = T0 + 7200) -> Path:
    """An eval run of ``target`` as its job leaves it: recipe, status, predictions, and (done) its report."""
    run_dir = write_run(root, run_id, "eval", state, title=f"eval {target}", started=started, seconds=12.5)
    (run_dir / "recipe.yaml").write_text(f"stage: eval\ntarget: {target}\ndata: /data/contacts-eval.jsonl\n"
                                         "bootstrap_samples: 200\n")
    if state == "running":  # another machine's job: its state is what its status says
        status = RunStatus(id=run_id, stage="eval", state="running", title=f"eval {target}", pid=4242, host="gpu-box",
                           created=started - 1, started=started)
        (run_dir / "status.json").write_text(json.dumps(asdict(status)))
    data = prediction_rows(which)[:rows]
    (run_dir / "artifacts" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    if state == "done":
        (run_dir / "artifacts" / "eval_report.json").write_text(json.dumps(report_of(data, target)))
    return run_dir


BASE_ID, TUNED_ID = "20260601-111500-eval-b0b0", "20260601-113000-eval-f1f1"


def two_runs(root: Path) -> None:
    write_eval_run(root, BASE_ID, 2, target="smollm2-135m-instruct")
    write_eval_run(root, TUNED_ID, 3, target="20260601-100000-train-7e57", started=T0 + 8100)


def pane_of(app):
    return app.screen.query_one("#eval-pane")


async def open_pane(pilot) -> None:
    await pilot.press(EVAL_KEY)
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("#e-examples")), what="the pane to mount")


def listed(app) -> list[int]:
    return list(app.screen.query_one(EvalExamples).order)


def rendered(app, selector: str) -> Text:
    return app.screen.query_one(selector, Static).content  # type: ignore[return-value]


def summary_head(app) -> str:
    """The summary's first line(s): passed counts, or the pairing's counts."""
    content = app.screen.query_one("#e-summary", Static).content
    return (content.renderables[0] if hasattr(content, "renderables") else content).plain


def marked(text: Text, style: str) -> list[str]:
    return [text.plain[s.start:s.end].strip() for s in text.spans if str(s.style) == style]


async def test_shows_the_newest_run_worst_first_filters_failures_and_marks_the_difference(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    two_runs(store.root)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        pane = pane_of(app)
        await wait_for(pilot, lambda: len(listed(app)) == 6, what="the examples")
        assert pane.shown.a.name == TUNED_ID  # the newest
        assert app.screen.query_one("#e-run", Select).value == TUNED_ID
        # worst first: 1 ("Lyon.", F1 0), 4 (primes), 5 (Umea: half the fields), then the passes in data order
        assert listed(app) == [1, 4, 5, 0, 2, 3]
        assert summary_head(app).startswith("3/6 passed (50%)")
        await pilot.pause()
        assert app.focused is app.screen.query_one(EvalExamples)
        assert "f" in footer_keys(app) and "x" not in footer_keys(app)  # nothing runs: no Stop

        await pilot.press("f")
        assert app.screen.query_one("#e-filter", Select).value == "failures"
        assert listed(app) == [1, 4, 5]

        await pilot.press("down", "down")  # to example 5: the city lost its accent
        await wait_for(pilot, lambda: app.screen.query_one(EvalExamples).selected == 5, what="example 5 selected")
        assert "Cy Dahl from Umeå" in rendered(app, "#ed-prompt").plain
        assert marked(rendered(app, "#ed-left"), MISSING) == ['Umeå']  # in the reference, not the answer
        assert marked(rendered(app, "#ed-right"), EXTRA) == ['Umea']
        assert "city ✗" in rendered(app, "#ed-scores").plain

        await pilot.press("f")
        assert listed(app) == [1, 4, 5, 0, 2, 3] and app.screen.query_one(EvalExamples).selected == 5  # kept


async def test_a_second_run_pairs_the_examples_fixed_and_broken(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    two_runs(store.root)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        pane = pane_of(app)
        await wait_for(pilot, lambda: len(listed(app)) == 6, what="the examples")
        app.screen.query_one("#e-run", Select).value = BASE_ID
        await wait_for(pilot, lambda: pane.shown.a.name == BASE_ID and len(listed(app)) == 6, what="the base run")
        app.screen.query_one("#e-against", Select).value = TUNED_ID
        await wait_for(pilot, lambda: pane.shown.diff is not None, what="the pairing")
        counts = pane.shown.diff.counts()
        assert counts == {"fixed": 2, "broken": 2, "both_fail": 1, "both_pass": 1}  # 0, 2 fixed; 1, 5 broken
        assert "fixed 2  broken 2  both fail 1  both pass 1" in summary_head(app)
        assert listed(app) == [1, 5, 0, 2, 4, 3]  # broken first (lowest B score first), then fixed

        await pilot.press("f")
        assert app.screen.query_one("#e-filter", Select).value == "changed" and listed(app) == [1, 5, 0, 2]
        await pilot.press("f")
        assert listed(app) == [0, 2]  # fixed: B got the JSON right
        await pilot.press("down", "up")
        await wait_for(pilot, lambda: app.screen.query_one(EvalExamples).selected == 0, what="the first fixed one")
        left, right = rendered(app, "#ed-left"), rendered(app, "#ed-right")
        assert left.plain.startswith("A smollm2-135m-instruct (b0b0)") and "✗" in left.plain
        assert right.plain.startswith("B 20260601-100000-train-7e57 (f1f1)") and "✓" in right.plain
        assert marked(right, EXTRA) == [] and marked(right, MISSING) == []  # B's answer is the reference
        assert marked(left, EXTRA)  # A's is not
        await pilot.press("f")
        assert listed(app) == [1, 5]  # broken

        app.screen.query_one("#e-against", Select).clear()  # back to one run
        await wait_for(pilot, lambda: pane.shown.b is None and pane.shown.rows_a, what="one run again")
        assert app.screen.query_one("#e-filter", Select).value == "all" and len(listed(app)) == 6


async def test_a_run_still_scoring_shows_examples_as_they_arrive(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    run_dir = write_eval_run(store.root, BASE_ID, 2, target="smollm2-135m-instruct", state="running", rows=2)
    predictions = run_dir / "artifacts" / "predictions.jsonl"
    rest = [json.dumps(r) + "\n" for r in prediction_rows(2)[2:]]
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        pane = pane_of(app)
        await wait_for(pilot, lambda: len(listed(app)) == 2, what="the first two examples")
        assert "so far" in summary_head(app)  # no report yet: the means so far
        await wait_for(pilot, lambda: "x" in footer_keys(app), what="Stop offered while it runs")
        with predictions.open("a") as fh:
            fh.write(rest[0] + rest[1][:30])  # one row and half of the next
        await wait_for(pilot, lambda: len(listed(app)) == 3, what="the third example")
        with predictions.open("a") as fh:
            fh.write(rest[1][30:] + "".join(rest[2:]))
        await wait_for(pilot, lambda: len(listed(app)) == 6, what="every example")
        assert listed(app) == [2, 4, 0, 1, 3, 5]
        assert "running" in rendered(app, "#e-activity").plain


async def test_enter_on_an_eval_run_in_the_runs_pane_opens_it_here(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    two_runs(store.root)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#run-table")
        await wait_for(pilot, lambda: table.row_count == 2, what="the runs listed")
        table.focus()
        table.move_cursor(row=1)  # the older one
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "eval", what="the Eval pane")
        pane = pane_of(app)
        await wait_for(pilot, lambda: pane.shown.a is not None and len(listed(app)) == 6, what="its examples")
        assert pane.shown.a.name == BASE_ID  # not the newest: the one picked


async def test_evaluate_starts_an_eval_job_and_names_a_bad_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_workbench.config.eval import EvalRecipe

    store = RunStore(tmp_path / "runs")
    started: list = []

    def start_recipe(recipe, *, title, run_store, force):  # noqa: ANN001, ANN202 - launcher.start_recipe's shape
        started.append((recipe, title))
        return write_eval_run(run_store.root, "20260601-120000-eval-5a5a", 2, target=recipe.target)

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", start_recipe)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    posted: list[StartJob] = []
    async with app.run_test(size=(120, 40), message_hook=lambda m: posted.append(m) if isinstance(m, StartJob) else None) as pilot:
        await open_pane(pilot)
        screen = app.screen
        await pilot.click("#e-new CollapsibleTitle")
        await wait_for(pilot, lambda: screen.query_one("#el-target").display, what="the form to open")
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        screen.query_one("#el-max_examples", Input).value = "0"
        await press(pilot, "#el-start")
        assert "target: String should have at least 1 character" in notes[-1]
        assert "max_examples: Input should be greater than or equal to 1" in notes[-1]
        assert "max_examples" in str(screen.query_one("#el-errors").render())
        assert posted == []

        screen.query_one("#el-target", Input).value = "smollm2-135m-instruct"
        screen.query_one("#el-data", Input).value = "/data/contacts-eval.jsonl"
        screen.query_one("#el-max_examples", Input).value = "6"
        screen.query_one("#el-metrics", Input).value = "token_f1, json_fields"
        await press(pilot, "#el-start")
        await wait_for(pilot, lambda: bool(started), what="the job to start")
        recipe, title = started[0]
        assert isinstance(recipe, EvalRecipe) and posted[0].recipe is recipe
        assert (recipe.target, recipe.data, recipe.max_examples, recipe.metrics) == (
            "smollm2-135m-instruct", "/data/contacts-eval.jsonl", 6, ["token_f1", "json_fields"])
        assert recipe.bootstrap_samples == EvalRecipe.model_fields["bootstrap_samples"].default  # the rest: defaults
        assert title == "eval smollm2-135m-instruct"
        assert find_stage("eval").view == "eval"  # the registry sends the new run here
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "eval", what="still the Eval pane")
        pane = pane_of(app)
        await wait_for(pilot, lambda: pane.shown.a is not None and pane.shown.a.name.endswith("5a5a"),
                       what="the new run shown")


async def test_no_eval_run_yet_says_how_to_start_one(tmp_path: Path) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pane(pilot)
        assert "new evaluation" in rendered(app, "#e-activity").plain
        assert "no eval run yet" in rendered(app, "#ed-prompt").plain
        assert "f" not in footer_keys(app)  # nothing to filter


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_eval_pane_snapshot(snap_compare, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    two_runs(SNAPSHOT_HOME / "runs")
    app = make_app(run_store=RunStore(SNAPSHOT_HOME / "runs"), sampler=fixed_sample, poll_interval=60)

    async def run_before(pilot) -> None:
        await pilot.press(EVAL_KEY)
        await wait_for(pilot, lambda: bool(pilot.app.screen.query("#e-examples")), what="the pane")
        await wait_for(pilot, lambda: len(listed(pilot.app)) == 6, what="the examples")
        await pilot.press("down", "down")  # example 5: a word missing and one extra
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
