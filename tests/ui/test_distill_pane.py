"""The Distill pane as a user drives it, on distill run directories written here as the job writes
them (docs/distill.md, engine/distill/layout.py): the phases, the teacher's answers streaming in as
``rows.jsonl`` grows, the student's curves once its training run exists, the card with the three
figures, the two buttons, re-attaching, the launch form, and a snapshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Button, Collapsible, Input, Select, Static

from slm_workbench.engine import stages
from slm_workbench.engine.distill.layout import DistillState, write_state
from slm_workbench.engine.events import Finished, Progress, Started
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import OpenInChat, StartJob
from slm_workbench.ui.widgets.distill_view import DistillSamples
from slm_workbench.ui.widgets.metric_chart import MetricChart

from .conftest import SNAPSHOT_HOME, T0, fixed_sample, press, wait_for, write_run
from .test_runs_pane import footer_keys

DISTILL = "20260601-120000-distill-d157"
TEACHER = "20260601-110000-train-7ea0"
GENERATE = "20260601-120010-data-generate-9e4e"
TRAIN = "20260601-121500-train-57d0"

PROMPTS = [
    ("Extract the contact as JSON: Ann Lee, 34, lives in Oslo.", '{"name": "Ann Lee", "age": 34, "city": "Oslo"}',
     "kept"),
    ("Extract the contact as JSON: Bo Ek (51) from Umeå.", '{"name": "Bo Ek", "age": 51, "city": "Umeå"}', "kept"),
    ("Extract the contact as JSON: Cy Dahl, Bergen, 28.", 'Cy Dahl is 28 and lives in Bergen.', "not JSON"),
    ("What is the capital of France?", "Paris is the capital of France.", "kept"),
    ("Extract the contact as JSON: Di Rao, 45, Pune.", '{"name": "Di Rao", "age": 54, "city": "Pune"}',
     "checker: age 54 != 45"),
    ("Name three primes.", "2, 3 and 5.", "kept"),
]

CARD = {
    "teacher": {"label": "smoke-lora int8", "spec": f"{TEACHER}:int8", "backend": "onnx", "precision": "int8",
                "params": 134515008, "layers": 30, "size_mb": 270.1, "decode_tok_s": 71.2, "ttft_s": 0.05,
                "peak_rss_mb": 612.0, "runtime_rss_mb": 43.0, "model_rss_mb": 569.0, "variant": "int8",
                "tokenizer": "SmolLM2-135M-Instruct tokenizer", "answer_perplexity": 1.42, "task_score": 0.90,
                "task_low": 0.85, "task_high": 0.94, "task_n": 64},
    "student": {"label": "6 layers int8", "spec": f"{TRAIN}:int8", "backend": "onnx", "precision": "int8",
                "params": 48632064, "layers": 6, "size_mb": 98.4, "decode_tok_s": 192.3, "ttft_s": 0.02,
                "peak_rss_mb": 337.0, "runtime_rss_mb": 43.0, "model_rss_mb": 294.0, "variant": "int8",
                "tokenizer": "SmolLM2-135M-Instruct tokenizer", "answer_perplexity": 1.87, "task_score": 0.84,
                "task_low": 0.78, "task_high": 0.89, "task_n": 64},
    "speedup": 2.7, "memory_ratio": 0.55, "accuracy_retained": 0.933, "inference_time_reduction": 0.63,
    "memory_reduction": 0.45, "memory_ratio_model_only": 0.52, "size_ratio": 0.36, "answer_perplexity_comparable": True,
    "examples": 64, "data": "slmw:demo-eval", "threads": 1, "variant": "int8", "machine": {}, "notes": []}


def row(i: int) -> str:
    prompt, answer, verdict = PROMPTS[i]
    return json.dumps({"id": f"p{i}-s0", "prompt_index": i, "sample": 0,
                       "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}],
                       "reference": None, "answer": answer, "tokens": 20, "seconds": 0.3, "finished": True,
                       "kept": verdict == "kept", "verdict": verdict}) + "\n"


def set_phases(run_dir: Path, states: dict[str, str], **runs: str) -> None:
    """The job's distill.json: these phases in these states (the others pending), their child runs."""
    state = DistillState(teacher={"spec": TEACHER, "answers": f"{TEACHER}:int8", "pytorch": TEACHER, "run": TEACHER},
                         student={"spec": str(run_dir / "artifacts" / "student"), "layers": [0, 6, 12, 17, 23, 29]})
    for name, phase_state in states.items():
        phase = state.phase(name)
        phase.state, phase.run = phase_state, runs.get(name)
        phase.detail = {"generate": "the teacher answers", "train": "sft on the kept answers"}.get(name, "") \
            if phase_state == "running" else ""
    write_state(run_dir, state)


def write_train(root: Path, *, done: bool, started: float = T0 + 10920) -> Path:
    """The student's training run: 24 steps of loss and two evals when done, its first 10 steps else."""
    metrics = [{"step": s, "loss": 2.4 - 0.07 * s, "learning_rate": 2e-4} for s in range(1, 25)]
    metrics += [{"step": 12, "eval_loss": 1.9}, {"step": 24, "eval_loss": 1.3}]
    return write_run(root, TRAIN, "train", "done" if done else "running", title="student sft",
                     metrics=metrics if done else metrics[:10], started=started,
                     events=[Started(stage="train", pid=1, host="h", time=started)]
                     + ([Finished(outcome="done", time=started + 280)] if done else []))


def write_distill(root: Path, *, stage: str = "done", rows: int = len(PROMPTS), state: str | None = None,
                  run_id: str = DISTILL, started: float = T0 + 10800) -> Path:
    """A distill run stopped at ``stage`` (generate, train or done) with its child runs, as the job leaves it."""
    run = write_run(root, run_id, "distill", state or ("done" if stage == "done" else "running"),
                    title="distill smoke-lora → 6 layers", started=started, seconds=600)
    (run / "recipe.yaml").write_text(f"stage: distill\nteacher: {TEACHER}\n")
    gen = write_run(root, GENERATE, "data.generate", "running" if stage == "generate" else "done",
                    title="teacher answers", started=started + 10,
                    events=[Started(stage="data.generate", pid=1, host="h", time=started + 10),
                            Progress(phase="answering", done=rows, total=len(PROMPTS), unit="answers",
                                     time=started + 20)])
    generated = gen / "artifacts" / "generated"
    generated.mkdir(parents=True)
    (generated / "rows.jsonl").write_text("".join(row(i) for i in range(rows)))
    phases = {"teacher": "skipped", "generate": "running" if stage == "generate" else "done"}
    if stage in ("train", "done"):
        phases |= {"student": "done", "train": "running" if stage == "train" else "done"}
        write_train(root, done=stage == "done", started=started + 120)
    if stage == "done":
        phases |= {"export": "done", "card": "done"}
        (run / "artifacts" / "report.json").write_text(json.dumps(CARD))
    set_phases(run, phases, generate=GENERATE, train=TRAIN)
    return run


def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``distill`` stage with its view (the lead's StageSpec line, when this branch lacks it)."""
    if stages.find_stage("distill") is None:
        spec = stages.StageSpec("distill", "Distill", "slm_workbench.config.distill:DistillRecipe",
                                "slm_workbench.engine.distill.stage:run", frozenset({"model", "report"}),
                                resumable=True, view="distill")
        monkeypatch.setitem(stages._BY_NAME, "distill", spec)
        monkeypatch.setattr(stages, "STAGES", (*stages.STAGES, spec))
    assert stages.find_stage("distill").view == "distill"


def distill_app(root: Path, poll: float = 0.1):
    return make_app(run_store=RunStore(root), sampler=fixed_sample, poll_interval=poll, initial_pane="distill")


async def open_pane(pilot):
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("#distill-pane")), what="the Distill pane")
    return pilot.app.screen.query_one("#distill-pane")


def plain(renderable, width: int = 110) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def text_of(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render()) if not isinstance(widget, Static) else str(widget.content)


async def test_a_finished_run_shows_phases_answers_curves_and_the_card(tmp_path: Path) -> None:
    write_distill(tmp_path / "runs")
    app = distill_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        phases = text_of(app, "#d-phases")
        assert "teacher –" in phases and "generate ✓ 6/6 ·9e4e" in phases and "train ✓ ·57d0" in phases
        assert "card ✓" in phases
        samples = app.screen.query_one(DistillSamples).samples
        assert [s.id for s in samples] == [f"p{i}-s0" for i in reversed(range(6))]  # newest first
        assert (samples[1].verdict, samples[1].reason, samples[1].kept) == ("checker", "age 54 != 45", False)
        assert pane.view.kept == 4 and pane.view.dropped == {"not JSON": 1, "checker": 1}
        chart = app.screen.query_one(MetricChart)
        assert [s.name for s in chart.series] == ["loss", "eval_loss"] and len(chart.series[0]) == 24
        headline = str(app.screen.query_one("#d-headline", Static).content)
        assert "2.70× faster (−63% time/token)" in headline
        assert "0.55× the memory (−45%)" in headline and "93% of the teacher's accuracy" in headline
        rendered = plain(app.screen.query_one("#d-card", Static).content)
        assert "teacher smoke-lora int8  vs  student 6 layers int8" in rendered
        assert "192.3" in rendered and "2.70×" in rendered and "0.84 [0.78–0.89]" in rendered
        assert not app.screen.query_one("#d-compare", Button).disabled
        assert not app.screen.query_one("#d-chat", Button).disabled
        assert "x" not in footer_keys(app)  # nothing runs: no Stop


async def test_a_running_generation_streams_answers_then_curves_appear(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = write_distill(root, stage="generate", rows=2)
    rows = root / GENERATE / "artifacts" / "generated" / "rows.jsonl"
    app = distill_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_pane(pilot)
        samples = app.screen.query_one(DistillSamples)
        await wait_for(pilot, lambda: len(samples.samples) == 2, what="the first two answers")
        assert "generate ●" in text_of(app, "#d-phases")
        assert "the teacher answers" in text_of(app, "#d-activity")
        assert app.screen.query_one("#d-compare", Button).disabled and app.screen.query_one("#d-chat", Button).disabled
        assert pane.check_action("compare_student", ()) is False
        assert not app.screen.query_one("#d-headline").display  # no card yet
        with rows.open("a") as fh:
            fh.write(row(2) + row(3)[:40])  # one row and half of the next
        await wait_for(pilot, lambda: len(samples.samples) == 3, what="the third answer")
        assert samples.samples[0].verdict == "not JSON"
        with rows.open("a") as fh:
            fh.write(row(3)[40:])
        await wait_for(pilot, lambda: len(samples.samples) == 4, what="the half-written row, once whole")
        assert [s.id for s in samples.samples] == ["p3-s0", "p2-s0", "p1-s0", "p0-s0"]
        assert not app.screen.query_one(MetricChart).series  # no training run yet

        write_train(root, done=False)  # the job goes on: its generation done, the student training
        set_phases(run, {"teacher": "skipped", "generate": "done", "student": "done", "train": "running"},
                   generate=GENERATE, train=TRAIN)
        chart = app.screen.query_one(MetricChart)
        await wait_for(pilot, lambda: bool(chart.series) and len(chart.series[0]) == 10, what="the student's curve")
        assert "train ●" in text_of(app, "#d-phases")
        with (root / TRAIN / "metrics.jsonl").open("a") as fh:
            fh.write(json.dumps({"step": 11, "loss": 1.5}) + "\n")
        await wait_for(pilot, lambda: len(chart.series[0]) == 11, what="a new point")


async def test_reattaches_to_the_newest_running_distillation(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_distill(root, stage="generate", rows=3, run_id="20260601-090000-distill-0001", started=T0)
    write_distill(root / "other", run_id="20260601-130000-distill-0002")  # a newer finished one (moved in below)
    shutil.move(str(root / "other" / "20260601-130000-distill-0002"), root)
    import socket
    from dataclasses import asdict

    from slm_workbench.engine.runs.status import RunStatus

    status = RunStatus(id="20260601-090000-distill-0001", stage="distill", state="running", title="distill",
                       pid=4242, host="another-host", created=T0, started=T0)  # another machine's job: running
    (root / "20260601-090000-distill-0001" / "status.json").write_text(json.dumps(asdict(status)))
    assert socket.gethostname() != "another-host"
    app = distill_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None, what="a run followed")
        assert pane.view.run_id == "20260601-090000-distill-0001"  # running beats newer
        assert app.screen.query_one("#d-history", Select).value == "20260601-090000-distill-0001"
        assert app.screen.query_one("#d-new", Collapsible).collapsed
        await wait_for(pilot, lambda: "x" in footer_keys(app), what="Stop offered while it runs")
        app.screen.query_one("#d-history", Select).value = "20260601-130000-distill-0002"
        await wait_for(pilot, lambda: pane.view is not None and pane.view.run_id.endswith("0002")
                       and pane.view.card is not None, what="the picked one")


async def test_an_interrupted_distillation_offers_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registered(monkeypatch)
    resumed: list = []
    monkeypatch.setattr("slm_workbench.engine.runs.launcher.resume_job", lambda info: resumed.append(info.id))
    write_distill(tmp_path / "runs", stage="generate", rows=2)  # "running" with no process: interrupted
    app = distill_app(tmp_path / "runs", poll=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.run_state == "interrupted", what="the run read")
        await pilot.pause()
        assert "r" in footer_keys(app) and "x" not in footer_keys(app)
        await pilot.press("r")
        assert resumed == [DISTILL]


async def test_enter_on_a_distill_run_in_runs_opens_it_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registered(monkeypatch)
    root = tmp_path / "runs"
    write_distill(root)
    app = make_app(run_store=RunStore(root), sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#run-table")
        await wait_for(pilot, lambda: table.row_count == 3, what="the runs listed")
        table.focus()
        table.move_cursor(row=[r.id for r in RunStore(root).list()].index(DISTILL))
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "distill", what="the Distill pane")
        pane = app.screen.query_one("#distill-pane")
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="its card")
        assert pane.view.run_id == DISTILL


async def test_the_buttons_ask_for_a_comparison_and_a_side_by_side_chat(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_workbench.engine.errors import WorkbenchError

    def refuse(recipe, **_):  # noqa: ANN001, ANN202
        raise WorkbenchError("not in this test")

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", refuse)  # no job starts here
    write_distill(tmp_path / "runs")
    posted: list = []
    app = distill_app(tmp_path / "runs", poll=60)

    def hook(message) -> None:  # noqa: ANN001
        if isinstance(message, (StartJob, OpenInChat)) and all(message is not m for m in posted):
            posted.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        monkeypatch.setattr(app.screen, "on_open_in_chat", lambda message: message.stop())  # no models load here
        await press(pilot, "#d-compare")
        await wait_for(pilot, lambda: len(posted) == 1, what="the comparison asked for")
        await press(pilot, "#d-chat")
        await wait_for(pilot, lambda: len(posted) == 2, what="the chat asked for")
    compare, chat = posted
    assert isinstance(compare, StartJob) and compare.recipe.stage == "compare" and compare.recipe.model == TRAIN
    assert isinstance(chat, OpenInChat) and chat.specs == [f"{TEACHER}:int8", f"{TRAIN}:int8"]  # the card's pair


def test_chat_before_the_card_uses_the_answering_teacher_and_the_trained_run(tmp_path: Path) -> None:
    from slm_workbench.engine.distill.reader import DistillReader
    from slm_workbench.ui.screens.distill_pane import chat_specs, student_run

    root = tmp_path / "runs"
    run = write_distill(root, stage="train")
    reader = DistillReader(run, RunStore(root))
    assert chat_specs(reader.read()) is None and student_run(reader.read()) is None  # still training
    set_phases(run, {"generate": "done", "student": "done", "train": "done", "export": "running"},
               generate=GENERATE, train=TRAIN)
    view = reader.read()
    assert chat_specs(view) == [f"{TEACHER}:int8", TRAIN] and student_run(view) == TRAIN


async def test_the_form_names_a_bad_field_in_one_line_and_launches_a_valid_recipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_workbench.config.distill import DistillRecipe

    registered(monkeypatch)
    started: list = []

    def start_recipe(recipe, *, title, run_store, force):  # noqa: ANN001, ANN202 - launcher.start_recipe's shape
        started.append((recipe, title))
        return write_distill(run_store.root, stage="generate", rows=1, run_id="20260601-140000-distill-5a5a")

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", start_recipe)
    app = distill_app(tmp_path / "runs", poll=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        screen = app.screen
        await wait_for(pilot, lambda: not screen.query_one("#d-new", Collapsible).collapsed,
                       what="the form open (no distillation yet)")
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]

        screen.query_one("#dl-teacher-as", Select).value = "teacher"
        screen.query_one("#dl-teacher", Input).value = "smollm2-135m-instruct"
        screen.query_one("#dl-prompts", Input).value = "slmw:demo"
        screen.query_one("#dls-model", Input).value = "smollm2-135m-instruct"
        screen.query_one("#dls-keep_layers", Input).value = "6"  # both: which one?
        await press(pilot, "#dl-start")
        error = str(screen.query_one("#dl-error", Static).content)
        assert error.startswith("student: give the student as exactly one of model") and "\n" not in error
        assert notes[-1] == error and not started

        screen.query_one("#dls-model", Input).value = ""
        screen.query_one("#dlg-samples_per_prompt", Input).value = "4"  # with temperature 0
        await press(pilot, "#dl-start")
        error = str(screen.query_one("#dl-error", Static).content)
        assert error.startswith("generate: samples_per_prompt 4 with temperature 0") and not started
        await wait_for(pilot, lambda: "once the recipe is valid" in str(screen.query_one("#dl-estimate").content),
                       what="no estimate for an invalid recipe")

        screen.query_one("#dlg-temperature", Input).value = "0.7"
        screen.query_one("#dl-method", Select).value = "gkd"
        await wait_for(pilot, lambda: "keep_layers student shares" in str(screen.query_one("#dl-method-note").content),
                       what="the method's note")
        screen.query_one("#dlt-max_steps", Input).value = "30"
        await press(pilot, "#dl-start")
        await wait_for(pilot, lambda: bool(started), what="the job to start")
        assert str(screen.query_one("#dl-error", Static).content) == ""
        recipe, title = started[0]
        assert isinstance(recipe, DistillRecipe)
        assert (recipe.teacher, recipe.teacher_recipe, recipe.generate.prompts) == ("smollm2-135m-instruct", None,
                                                                                     "slmw:demo")
        assert (recipe.student.keep_layers, recipe.student.model, recipe.method) == (6, None, "gkd")
        assert (recipe.generate.samples_per_prompt, recipe.generate.temperature) == (4, 0.7)
        base = screen.query_one("#d-launch").base
        assert recipe.train["max_steps"] == 30  # set here; the other training fields only as the base recipe has them
        assert set(recipe.train) - {"max_steps"} <= set(base.get("train") or {})
        assert title == "distill smollm2-135m-instruct → 6 layers"
        pane = screen.query_one("#distill-pane")
        await wait_for(pilot, lambda: pane.view is not None and pane.view.run_id.endswith("5a5a"), what="the new run")
        assert screen.query_one("#d-new", Collapsible).collapsed


@pytest.mark.parametrize("size", [(120, 40), (100, 30)], ids=["120x40", "100x30"])
def test_distill_pane_snapshot(snap_compare, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    from .test_snapshots import settle

    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    write_distill(SNAPSHOT_HOME / "runs")

    async def run_before(pilot) -> None:
        await settle(pilot)
        pane = pilot.app.screen.query_one("#distill-pane")
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        await settle(pilot)

    app = make_app(run_store=RunStore(SNAPSHOT_HOME / "runs"), sampler=fixed_sample, poll_interval=60,
                   initial_pane="distill")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


CROSS_CARD = {
    **CARD,
    "teacher": {**CARD["teacher"], "tokenizer": "gemma-3-270m tokenizer", "vocab_size": 262144,
                "answer_perplexity": 2.31, "model_rss_mb": 420.0, "variant": "int4"},
    "student": {**CARD["student"], "tokenizer": "SmolLM2-135M-Instruct tokenizer", "vocab_size": 49152,
                "answer_perplexity": 3.02, "model_rss_mb": 160.0, "variant": "int4"},
    "answer_perplexity_comparable": False, "memory_ratio_model_only": 0.38, "variant": "int4",
    "notes": ["teacher and student tokenize differently (…): each answer perplexity is per token of its own "
              "vocabulary, so the two are not comparable: compare the task scores"]}


async def test_the_card_labels_each_answer_perplexity_with_its_tokenizer(tmp_path: Path) -> None:
    run = write_distill(tmp_path / "runs")
    (run / "artifacts" / "report.json").write_text(json.dumps(CROSS_CARD))
    app = distill_app(tmp_path / "runs", poll=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        rendered = plain(app.screen.query_one("#d-card", Static).content)
        assert "answer ppl" in rendered and "2.31" in rendered and "3.02" in rendered
        assert "teacher gemma-3-270m, student SmolLM2-135M-Instruct" in " ".join(rendered.split())
        assert "≠ tok" in rendered
        assert "not comparable" in rendered and "model RSS MB" in rendered and "160" in rendered
        assert rendered.count("tokenize differently") == 0  # the note is the line above, not said twice
        headline = str(app.screen.query_one("#d-headline", Static).content)
        assert headline.index("of the teacher's accuracy") < headline.index("faster")  # the task score first
        assert "model only 0.38×" in headline and "as int4" in headline


async def test_c_and_v_act_on_the_student_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``c``: a comparison of the student's training run, followed in the Quantize pane; ``v``: teacher and
    student side by side in the Chat pane (the card's pair, each as it was measured)."""
    registered(monkeypatch)
    root = tmp_path / "runs"
    started: list = []

    def start_recipe(recipe, *, title, run_store, force):  # noqa: ANN001, ANN202 - launcher.start_recipe's shape
        started.append(recipe)
        return write_run(run_store.root, "20260601-130000-compare-c0c0", "compare", "running", title=title)

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", start_recipe)
    write_distill(root)
    chats: list = []
    app = distill_app(root, poll=60)

    def hook(message) -> None:  # noqa: ANN001
        if isinstance(message, OpenInChat) and message.specs not in chats:
            chats.append(message.specs)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        monkeypatch.setattr(app.screen, "on_open_in_chat", lambda message: message.stop())  # no models load here
        await wait_for(pilot, lambda: app.screen.query_one(DistillSamples).has_focus, what="the answers focused")
        assert {"c", "v"} <= set(footer_keys(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: bool(chats), what="the chat asked for")
        assert chats == [[f"{TEACHER}:int8", f"{TRAIN}:int8"]]
        app.screen.query_one("#panes").current = "distill"  # back from the Chat pane (it may have opened)
        await pilot.pause()
        app.screen.query_one(DistillSamples).focus()
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "quantize",
                       what="the comparison followed in the Quantize pane")
    assert len(started) == 1 and started[0].stage == "compare" and started[0].model == TRAIN


async def test_c_and_v_wait_for_a_trained_student(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list = []
    write_distill(tmp_path / "runs", stage="generate", rows=2)
    app = distill_app(tmp_path / "runs", poll=60)

    def hook(message) -> None:  # noqa: ANN001
        if isinstance(message, (StartJob, OpenInChat)):
            posted.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None, what="the run read")
        await pilot.pause()
        assert "c" not in footer_keys(app) and "v" not in footer_keys(app)
        await pilot.press("c")
        await pilot.press("v")
        await pilot.pause()
    assert not posted  # no student yet: neither key does anything, and neither is offered


async def test_the_pickers_offer_every_model_and_the_estimate_warns_of_a_larger_student(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path, tiny_deep_model_dir: Path) -> None:
    """Two model families in the pickers (whatever is built in or prepared, no name hard-coded), and the
    estimate line follows the pair: a student with more parameters than the teacher is said to be LARGER."""
    from slm_workbench.engine import paths
    from slm_workbench.engine.models.builtin import BUILTIN_MODELS

    models = paths.models_dir()
    models.mkdir(parents=True, exist_ok=True)
    (models / "family-b-270m").symlink_to(tiny_deep_model_dir, target_is_directory=True)  # a second family
    app = distill_app(tmp_path / "runs", poll=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        screen = app.screen
        await wait_for(pilot, lambda: not screen.query_one("#d-new", Collapsible).collapsed, what="the form")
        teacher_pick = screen.query_one("#dl-teacher-pick", Select)
        student_pick = screen.query_one("#dl-student-pick", Select)
        offered = {str(value) for _, value in student_pick._options}
        assert {*BUILTIN_MODELS, "family-b-270m"} <= offered
        assert {f"teacher\t{name}" for name in (*BUILTIN_MODELS, "family-b-270m")} <= {
            str(value) for _, value in teacher_pick._options}
        screen.query_one("#dl-teacher-as", Select).value = "teacher"
        screen.query_one("#dl-teacher", Input).value = str(tiny_model_dir)
        screen.query_one("#dl-prompts", Input).value = "slmw:demo"
        student_pick.value = "family-b-270m"
        estimate = screen.query_one("#dl-estimate", Static)
        await wait_for(pilot, lambda: "LARGER than the teacher" in str(estimate.content), what="the larger student")
        assert "6 layers" in str(estimate.content) and "2 layers" in str(estimate.content)
        teacher_pick.value = "teacher\tfamily-b-270m"  # the pair swapped: a smaller student, no warning
        screen.query_one("#dls-model", Input).value = str(tiny_model_dir)
        await wait_for(pilot, lambda: "of the teacher;" in str(estimate.content), what="the estimate of the new pair")
        assert "LARGER" not in str(estimate.content)


async def test_at_80x24_the_card_scrolls_to_its_last_line(tmp_path: Path) -> None:
    run = write_distill(tmp_path / "runs")
    (run / "artifacts" / "report.json").write_text(json.dumps(CROSS_CARD))
    app = distill_app(tmp_path / "runs", poll=60)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_pane(pilot)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.card is not None, what="the card")
        await pilot.pause()
        box = app.screen.query_one("#d-card-box")
        assert box.max_scroll_y > 0  # taller than the room it has: it scrolls, nothing is lost
        box.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: box.scroll_y == box.max_scroll_y, what="the card to scroll to its end")  # animated


async def test_the_generate_row_shows_every_field_whole_at_80x24(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four columns at 80 columns cut ``samples_per_prompt`` and ``max_new_tokens 40`` (seen in tmux)."""
    from slm_workbench.ui.widgets.distill_launch import GENERATE_FIELDS

    registered(monkeypatch)
    app = distill_app(tmp_path / "runs", poll=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pane(pilot)
        screen = app.screen
        await wait_for(pilot, lambda: not screen.query_one("#d-new", Collapsible).collapsed, what="the form open")
        await pilot.pause()
        for name in GENERATE_FIELDS:
            field = screen.query_one(f"#dlg-{name}", Input)
            label = next(w for w in field.parent.children if w is not field)
            assert str(label.render()).strip() == name and label.region.width >= len(name), name
            assert field.region.right <= 80 and field.region.width >= len(field.value) + 2, (name, field.region)
