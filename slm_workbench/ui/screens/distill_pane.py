"""The Distill pane: start a distillation, and follow one through its phases to the card.

The pane never generates or trains: Distill starts the same detached job ``slmw distill`` starts
(``StartJob`` with a validated ``DistillRecipe``), and everything shown comes from the run's files
(docs/distill.md) through ``engine/distill/reader.py``: on each run list the app's runs watcher
sends (while the pane is shown), a thread worker re-reads the phases and the card and tails what
the child runs appended (the teacher's answers in the generation's ``rows.jsonl``, the student's
``metrics.jsonl``). The answers stream into a table newest first, the student's curves are drawn
by the Runs pane's chart (``MetricChart`` over ``RunSeries``), and the card shows teacher vs student
with the three headline figures. Opening the pane follows the newest running distillation, else
the newest one; ``enter`` on a distill run in Runs opens that one here.

Two buttons act on a finished student: compare its variants (a ``compare`` job on the student's
training run, followed in the Quantize pane, as the Sweep pane's "compare the best") and chat with
teacher and student side by side (``OpenInChat`` with both).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Collapsible, Select, Static

from ...engine.distill.reader import DistillReader, DistillView
from ...engine.runs.run import Run
from ...engine.runs.store import RunInfo
from ...engine.stages import model_stages, resumable_stages
from ..format import STATE_STYLES, clock
from ..messages import JobStarted, OpenInChat, RunsRefreshed, StartJob
from ..metric_series import RunSeries
from ..pane_context import PaneContext
from ..visibility import is_shown
from ..widgets.distill_launch import DistillLaunch
from ..widgets.distill_view import DistillCard, DistillSamples, current_detail, headline, phases_text
from ..widgets.metric_chart import MetricChart

DISTILL_STAGE = "distill"
MODEL_STAGES = model_stages()
ACTIVE = ("queued", "running")


def chat_specs(view: DistillView | None) -> list[str] | None:
    """[teacher, student] to chat with: the card's (same backend and precision), else the teacher that
    answered and the student's training run once it is trained; None before that."""
    if view is None:
        return None
    card = view.card or {}
    teacher, student = (card.get("teacher") or {}).get("spec"), (card.get("student") or {}).get("spec")
    if isinstance(teacher, str) and isinstance(student, str) and teacher and student:
        return [teacher, student]
    train = view.state.phase("train")
    teacher = view.state.teacher.get("answers") or view.state.teacher.get("spec")
    if train.state == "done" and train.run and isinstance(teacher, str) and teacher:
        return [teacher, train.run]
    return None


def student_run(view: DistillView | None) -> str | None:
    """The student's finished training run (what its variants are built from), or None."""
    if view is None:
        return None
    train = view.state.phase("train")
    return train.run if train.state == "done" and train.run else None


class DistillPane(Vertical):
    BINDINGS = [
        Binding("c", "compare_student", "Compare student variants"),
        Binding("v", "chat", "Chat teacher vs student"),
        Binding("x", "stop", "Stop job"),
        Binding("r", "resume", "Resume"),
    ]
    DEFAULT_CSS = """
    DistillPane { height: 1fr; padding: 0 1; }
    DistillPane #d-new { border-top: none; padding: 0; background: $background; }
    DistillPane #d-new Contents { padding: 0 0 0 1; height: auto; }
    DistillPane #d-new CollapsibleTitle { padding: 0 1 0 0; color: $text-muted; }
    DistillPane #d-status { height: 1; }
    DistillPane #d-history { width: 1fr; max-width: 48; }
    DistillPane #d-history SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    DistillPane #d-activity { width: 1fr; margin-left: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DistillPane #d-status Button { margin-left: 1; min-width: 8; }
    DistillPane #d-phases { height: 1; }
    DistillPane #d-body { height: 1fr; min-height: 6; }
    DistillPane DistillSamples { width: 3fr; border: round $primary; padding: 0 1; }
    DistillPane #d-chart { width: 2fr; border: round $panel; }
    DistillPane #d-bottom { height: auto; max-height: 50%; }
    DistillPane #d-card-box { width: 62; height: auto; max-height: 100%; border: round $panel; padding: 0 0 0 1;
                              scrollbar-size-vertical: 1; }
    DistillPane #d-card-box.-empty { width: 1fr; }
    DistillPane #d-headline { width: 1fr; border: round $success; padding: 0 1; height: auto; }
    """

    @dataclass
    class Listed(Message):
        """The distill runs (newest first), and the runs and datasets the form offers."""

        runs: list[RunInfo]
        models: list[tuple[str, str]]
        datasets: list[str]
        names: list[str] | None = None
        """Every model the workbench has (``prepared_models``: the built-in ones, prepared or not, and the
        folders prepared under the home), read in the worker."""

    @dataclass
    class Read(Message):
        """What the worker read of the followed run (UI thread)."""

        generation: int
        view: DistillView
        state: str

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self._lock = threading.Lock()
        self._runs: list[RunInfo] | None = None
        self._listed: tuple | None = None
        self._follow: tuple[int, Path | None] = (0, None)
        """(generation, run dir) the worker reads; a new pick bumps the generation."""
        self._reader: tuple[int, DistillReader | None] = (-1, None)
        self.history: list[RunInfo] = []
        self.view: DistillView | None = None
        self.run_state = ""
        self.series = RunSeries()
        self._plotted = 0

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Collapsible(title="new distillation", collapsed=True, id="d-new"):
            yield DistillLaunch(id="d-launch")
        with Horizontal(id="d-status"):
            yield Select([], prompt="no distillation yet", id="d-history", compact=True, tooltip="distillations")
            yield Static("", id="d-activity")
            yield Button("Compare student variants", id="d-compare", compact=True, disabled=True,
                         tooltip="build and measure the student's variants (Quantize pane) (c)")
            yield Button("Chat teacher vs student", id="d-chat", compact=True, disabled=True,
                         tooltip="both side by side in the Chat pane (v)")
        yield Static("", id="d-phases")
        with Horizontal(id="d-body"):
            yield DistillSamples(id="d-samples")
            yield MetricChart(id="d-chart")
        with Horizontal(id="d-bottom"):
            with VerticalScroll(id="d-card-box"):  # scrolls (wheel, or focused: arrows) where the terminal is short
                yield DistillCard(id="d-card")
            yield Static("", id="d-headline")

    def on_mount(self) -> None:
        self.query_one(DistillSamples).border_title = "Teacher's answers, newest first"
        self.query_one("#d-chart").border_title = "Student training"
        self.query_one("#d-card-box").border_title = "Card: teacher vs student"
        self.query_one("#d-headline").border_title = "Student vs teacher"
        self._show()
        self._runs_feed.subscribe_runs(self)
        self.call_after_refresh(self.on_show)  # built while shown: no Show event follows

    def on_show(self) -> None:
        """The answers table takes the keys (c, v, x) unless a field here already has them."""
        if not is_shown(self):
            return
        if not self.has_focus_within:
            self.query_one(DistillSamples).focus()
        if self._runs is not None:
            self.poll(self._runs)

    # -- which run ------------------------------------------------------------------------------
    def open_run(self, run_dir: Path) -> None:
        """The stage registry's view of distill runs: show this one."""
        self.follow(Path(run_dir))

    def on_job_started(self, message: JobStarted) -> None:
        message.stop()
        if message.recipe.stage == DISTILL_STAGE:
            self.query_one("#d-new", Collapsible).collapsed = True
            self.follow(message.run_dir)

    def follow(self, run_dir: Path | None) -> None:
        self._follow = (self._follow[0] + 1, run_dir)
        self.view, self.run_state = None, ""
        self.series, self._plotted = RunSeries(), 0
        self.query_one(MetricChart).set_data("loss by step", [])
        if run_dir is not None and run_dir.name in {r.id for r in self.history}:
            with self.prevent(Select.Changed):
                self.query_one("#d-history", Select).value = run_dir.name
        self._show()
        self.poll(self._runs or getattr(self.app, "runs", None) or [])

    @on(Select.Changed, "#d-history")
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        run_dir = self._follow[1]
        if isinstance(event.value, str) and (run_dir is None or event.value != run_dir.name):
            self.follow(self.run_store.root / event.value)

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):  # a hidden pane reads nothing: it catches up when shown
            self.poll(message.runs)

    # -- reading (a thread) ---------------------------------------------------------------------
    @work(thread=True, group="distill-poll", description="read the followed distillation", exit_on_error=False)
    def poll(self, everything: list[RunInfo]) -> None:
        if not self._lock.acquire(blocking=False):
            return  # the previous read is still going; the next refresh reads on
        try:
            self._list(everything)
            generation, run_dir = self._follow
            if run_dir is None:
                return
            if self._reader[0] != generation:
                self._reader = (generation, DistillReader(run_dir, self.run_store))
            reader = self._reader[1]
            assert reader is not None
            view = reader.read()
            listed = {r.id: r.state for r in everything}
            state = listed.get(run_dir.name) or self.run_store.info(run_dir).state
            self.post_message(self.Read(generation, view, state))
        finally:
            self._lock.release()

    def _list(self, everything: list[RunInfo]) -> None:
        key = tuple((r.id, r.state) for r in everything)
        if key == self._listed:
            return
        self._listed = key
        distills = [r for r in everything if r.stage == DISTILL_STAGE]
        models = [(r.id, r.title) for r in everything
                  if r.stage in MODEL_STAGES and r.state == "done" and Run(r.dir).has_model]
        datasets = sorted({str(p) for r in everything if r.stage == "data.prepare" and r.state == "done"
                           for p in Run(r.dir).datasets()})
        from ...engine.models.resolve import prepared_models

        self.post_message(self.Listed(distills, models, datasets, [ref.name for ref in prepared_models()]))

    def on_distill_pane_listed(self, message: Listed) -> None:
        message.stop()
        self.history = message.runs
        self.query_one(DistillLaunch).set_sources(message.models, message.datasets, message.names)
        options = [(Text.assemble(f"{clock(r.status.created if r.status else None)} {r.title}  ",
                                  (r.state, STATE_STYLES.get(r.state, "")), no_wrap=True, overflow="ellipsis"), r.id)
                   for r in message.runs]
        history = self.query_one("#d-history", Select)
        run_dir = self._follow[1]
        with self.prevent(Select.Changed):
            history.set_options(options)
            if run_dir is not None and run_dir.name in {r.id for r in message.runs}:
                history.value = run_dir.name
        if run_dir is None:
            if message.runs:  # re-attach: the newest running distillation, else the newest one
                running = [r for r in message.runs if r.state in ACTIVE]
                self.follow((running or message.runs)[0].dir)
            else:
                self.query_one("#d-new", Collapsible).collapsed = False  # nothing to show: the form is the pane

    def on_distill_pane_read(self, message: Read) -> None:
        message.stop()
        if message.generation != self._follow[0]:
            return  # about a run no longer followed
        self.view, self.run_state = message.view, message.state
        self._show()

    # -- showing --------------------------------------------------------------------------------
    def _show(self) -> None:
        view = self.view
        self.query_one("#d-phases", Static).update(phases_text(view))
        self.query_one("#d-activity", Static).update(self._activity())
        self.query_one(DistillSamples).show(view)
        self._plot()
        self.query_one(DistillCard).show(view)
        card = view.card if view is not None else None
        self.query_one("#d-card-box").set_class(card is None, "-empty")
        followed = self._follow[1] is not None
        self.query_one("#d-body").display = self.query_one("#d-bottom").display = followed
        self.query_one("#d-phases").display = followed
        if followed and is_shown(self) and not self.has_focus_within:
            self.query_one(DistillSamples).focus()  # shown now: it takes the pane's keys
        side = self.query_one("#d-headline", Static)
        side.display = card is not None
        if card is not None:
            side.update(headline(card))
        self.query_one("#d-compare", Button).disabled = student_run(view) is None
        self.query_one("#d-chat", Button).disabled = chat_specs(view) is None
        self.refresh_bindings()

    def _plot(self) -> None:
        """The student's curves, as the Runs pane draws them (loss and eval loss by step)."""
        metrics = self.view.metrics if self.view is not None else []
        if len(metrics) == self._plotted:
            return
        self.series.add(metrics[self._plotted:])
        self._plotted = len(metrics)
        self.query_one(MetricChart).set_data("loss by step", self.series.curves("loss"))

    def _activity(self) -> Text:
        run_dir = self._follow[1]
        if run_dir is None:
            return Text("none yet: a teacher answers prompts, a smaller student learns from its answers", style="dim")
        text = Text()
        text.append(self.run_state or "…", style=STATE_STYLES.get(self.run_state, ""))
        detail = current_detail(self.view)
        if detail:
            text.append(f"  {detail}", style="red" if self.view and any(
                p.state == "failed" for p in self.view.state.phases) else "")
        return text

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compare_student":
            return student_run(self.view) is not None
        if action == "chat":
            return chat_specs(self.view) is not None
        if action == "stop":
            return self.run_state in ACTIVE
        if action == "resume":
            return self._follow[1] is not None and self.run_state in ("cancelled", "interrupted", "failed") \
                and DISTILL_STAGE in resumable_stages()
        return True

    @on(Button.Pressed, "#d-compare")
    def action_compare_student(self) -> None:
        from ...config.export import CompareRecipe

        run_id = student_run(self.view)
        if run_id is None:
            return
        distill = self._follow[1].name[-4:] if self._follow[1] else ""
        self.post_message(StartJob(CompareRecipe(model=run_id), f"compare student of distill {distill}"))

    @on(Button.Pressed, "#d-chat")
    def action_chat(self) -> None:
        specs = chat_specs(self.view)
        if specs is not None:
            self.post_message(OpenInChat(specs))

    def action_stop(self) -> None:
        from ...engine.errors import WorkbenchError
        from ...engine.runs import launcher

        run_dir = self._follow[1]
        if run_dir is None:
            return
        try:
            launcher.stop_job(self.run_store.get(run_dir.name))
        except WorkbenchError as exc:
            self.notify(exc.message, severity="warning")
            return
        self.notify(f"stopping {run_dir.name} (it resumes phase by phase)", title="Distill")

    def action_resume(self) -> None:
        """Start the job again on its run directory: it goes on from the phase it stopped in."""
        from ...engine.errors import WorkbenchError
        from ...engine.runs import launcher

        run_dir = self._follow[1]
        if run_dir is None:
            return
        try:
            launcher.resume_job(self.run_store.info(run_dir))
        except WorkbenchError as exc:
            self.notify(exc.message, severity="warning")
            return
        self.notify(f"resuming {run_dir.name} where it stopped", title="Distill")
        self._runs_feed.refresh_runs()

    @on(Button.Pressed, "#dl-start")
    def launch(self) -> None:
        try:
            recipe = self.query_one(DistillLaunch).recipe()
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start", severity="error", timeout=10)
            return
        teacher = recipe.teacher or f"recipe {recipe.teacher_recipe}"
        student = recipe.student.model or f"{recipe.student.keep_layers} layers"
        self.post_message(StartJob(recipe, f"distill {teacher} → {student}"))
