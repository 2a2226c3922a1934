"""The Eval pane: one eval run's aggregates and its examples worst first, or two runs on the
same examples (which ones B fixed, which it broke), and a form to start an evaluation.

The pane never scores anything: Evaluate starts the same detached job ``slmw eval`` starts
(``StartJob``), and what is shown comes from the run's files (docs/eval.md) through
``engine/eval/results.py`` (two runs compared by ``engine/eval/diff.py``). On each run list the app's runs watcher sends (while the pane is
shown), a thread worker reads what the followed runs appended (``EvalRunReader``: only the
new bytes of ``predictions.jsonl``, the report once it changes), pairs the two runs when there
are two, and posts the result; a live run's examples arrive as it scores them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Collapsible, Select, Static

from ...engine.stages import model_stages
from ..format import STATE_STYLES, clock
from ..messages import JobStarted, RunsRefreshed, StartJob
from ..pane_context import PaneContext
from ..visibility import is_shown, mark_narrow
from ..widgets.eval_detail import EvalDetail
from ..widgets.eval_examples import EvalExamples
from ..widgets.eval_launch import EvalLaunch
from ..widgets.eval_summary import EvalSummary

EVAL_STAGE = "eval"
MODEL_STAGES = model_stages()
SINGLE_FILTERS = (("all examples", "all"), ("failures only", "failures"))
PAIR_FILTERS = (("all pairs", "all"), ("fixed or broken", "changed"), ("fixed", "fixed"), ("broken", "broken"),
                ("both fail", "both_fail"), ("both pass", "both_pass"))
PAIR_ORDER = {"broken": 0, "fixed": 1, "both_fail": 2, "both_pass": 3}
"""Two runs' pairs, worst news first: what B broke, what it fixed, what neither gets right."""


@dataclass
class Followed:
    """What the pane shows: run A (and B), as read so far."""

    generation: int = 0
    a: Path | None = None
    b: Path | None = None
    rows_a: list = field(default_factory=list)
    rows_b: list = field(default_factory=list)
    report_a: Any = None
    report_b: Any = None
    state_a: str = ""
    state_b: str = ""
    progress_a: Any = None
    diff: Any = None


class EvalPane(Vertical):
    BINDINGS = [
        Binding("f", "cycle_filter", "Filter"),
        Binding("x", "stop", "Stop job"),
    ]
    DEFAULT_CSS = """
    EvalPane { height: 1fr; padding: 0 1; }
    EvalPane #e-new { border-top: none; padding: 0; background: $background; }
    EvalPane #e-new Contents { padding: 0 0 0 1; height: auto; }
    EvalPane #e-new CollapsibleTitle { padding: 0 1 0 0; color: $text-muted; }
    EvalPane #e-pickers { height: 1; }
    EvalPane #e-pickers Select { width: 1fr; max-width: 48; }
    EvalPane #e-pickers SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    EvalPane #e-pickers #e-filter { width: 20; }
    EvalPane #e-vs { width: auto; padding: 0 1; color: $text-muted; }
    EvalPane #e-activity { width: 1fr; margin-left: 1; }
    EvalPane #e-body { height: 1fr; }
    EvalPane #e-left { width: 1fr; }
    EvalPane EvalSummary { border: round $panel; padding: 0 1; max-height: 50%; }
    EvalPane EvalExamples { height: 1fr; min-height: 4; border: round $primary; }
    EvalPane EvalDetail { width: 1fr; border: round $panel; }
    EvalPane.-narrow #e-body { layout: vertical; }
    EvalPane.-narrow #e-left { layout: horizontal; height: 1fr; }
    EvalPane.-narrow EvalSummary { width: 44; height: 1fr; max-height: 100%; }
    EvalPane.-narrow EvalDetail { width: 1fr; height: 1fr; }
    """

    @dataclass
    class Read(Message):
        """What the worker read of the followed runs (UI thread)."""

        followed: Followed

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self._runs: list | None = None
        """The newest run list the app sent (read when the pane is shown)."""
        self.history: list = []
        """Eval runs, newest first."""
        self.shown = Followed()
        self._wanted = (0, None, None)
        """(generation, run A, run B) the worker reads; a new pick bumps the generation."""
        self._lock = threading.Lock()
        self._readers: tuple[int, Any, Any] = (-1, None, None)

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Collapsible(title="new evaluation", collapsed=True, id="e-new"):
            yield EvalLaunch(id="e-launch")
        with Horizontal(id="e-pickers"):
            yield Select([], prompt="no eval run yet", id="e-run", compact=True, tooltip="the eval run shown (A)")
            yield Static("against", id="e-vs")
            yield Select([], prompt="none (this run alone)", id="e-against", compact=True,
                         tooltip="another eval run on the same data (B): which examples it fixed, which it broke")
            yield Select(SINGLE_FILTERS, value="all", allow_blank=False, id="e-filter", compact=True,
                         tooltip="which examples the list shows (f)")
            yield Static("", id="e-activity")
        with Horizontal(id="e-body"):
            with Vertical(id="e-left"):
                yield EvalSummary(id="e-summary")
                yield EvalExamples(id="e-examples")
            yield EvalDetail(id="e-detail")

    def on_mount(self) -> None:
        self.query_one(EvalSummary).border_title = "Aggregates"
        self.query_one(EvalExamples).border_title = "Examples, worst first"
        self.query_one(EvalDetail).border_title = "Example"
        self._show()
        self._runs_feed.subscribe_runs(self)
        self.call_after_refresh(self.on_show)  # built while shown: no Show event follows

    def on_resize(self) -> None:
        mark_narrow(self)

    def on_show(self) -> None:
        """The examples take the keys (f, x, arrows) unless a field here already has them."""
        if not is_shown(self):
            return
        if not self.has_focus_within:
            self.query_one(EvalExamples).focus()
        if self._runs is not None:
            self._list_runs(self._runs)

    # -- which runs -----------------------------------------------------------------------------
    def open_run(self, run_dir: Path) -> None:
        """The stage registry's view of eval runs: show this one (alone)."""
        self.follow(Path(run_dir), None)

    def on_job_started(self, message: JobStarted) -> None:
        message.stop()
        if message.recipe.stage == EVAL_STAGE:
            self.follow(message.run_dir, None)

    def follow(self, a: Path | None, b: Path | None) -> None:
        generation = self._wanted[0] + 1
        self._wanted = (generation, a, b)
        self.shown = Followed(generation, a, b)
        self.query_one(EvalExamples).reset()
        with self.prevent(Select.Changed):
            filters = PAIR_FILTERS if b is not None else SINGLE_FILTERS
            self.query_one("#e-filter", Select).set_options(filters)
            self.query_one("#e-filter", Select).value = "all"
        self._show_pickers()
        self._show()
        self.poll()

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):  # a hidden pane reads nothing: it catches up when shown
            self._list_runs(message.runs)

    def _list_runs(self, runs: list) -> None:
        evals = [r for r in runs if r.stage == EVAL_STAGE]
        if [(r.id, r.state, r.title) for r in evals] != [(r.id, r.state, r.title) for r in self.history]:
            self.history = evals
            self._show_pickers()
            self.query_one(EvalLaunch).set_targets(
                sorted({r.id for r in runs if r.stage in MODEL_STAGES and r.state == "done"}) + self._models())
        if self._wanted[1] is None and evals:  # re-attach: show the newest one
            self.follow(evals[0].dir, None)
        else:
            self.poll()

    def _models(self) -> list[str]:
        from ...engine.models.resolve import prepared_models

        return [ref.name for ref in prepared_models()]

    def _show_pickers(self) -> None:
        _, a, b = self._wanted

        def label(run) -> Text:  # noqa: ANN001 - RunInfo
            return Text.assemble(f"{run.title} ", (run.state, STATE_STYLES.get(run.state, "")),
                                 (f" {clock(run.status.created if run.status else None)}", "dim"), no_wrap=True,
                                 overflow="ellipsis")

        ids = {r.id for r in self.history}
        pick, against = self.query_one("#e-run", Select), self.query_one("#e-against", Select)
        with self.prevent(Select.Changed):
            pick.set_options([(label(r), r.id) for r in self.history])
            if a is not None and a.name in ids:
                pick.value = a.name
            against.set_options([(label(r), r.id) for r in self.history if a is None or r.id != a.name])
            if b is not None and b.name in ids:
                against.value = b.name

    @on(Select.Changed, "#e-run")
    def _run_picked(self, event: Select.Changed) -> None:
        event.stop()
        _, a, b = self._wanted
        if isinstance(event.value, str) and (a is None or event.value != a.name):
            self.follow(self.run_store.root / event.value, b if b is not None and b.name != event.value else None)

    @on(Select.Changed, "#e-against")
    def _against_picked(self, event: Select.Changed) -> None:
        event.stop()
        _, a, b = self._wanted
        new = self.run_store.root / event.value if isinstance(event.value, str) else None
        if new != b:
            self.follow(a, new)

    # -- reading (a thread) ---------------------------------------------------------------------
    @work(thread=True, group="eval-read", description="read the eval runs shown", exit_on_error=False)
    def poll(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # the previous read is still going; the next refresh reads on
        try:
            self._read()
        finally:
            self._lock.release()

    def _read(self) -> None:
        from ...engine.eval.diff import pair_runs
        from ...engine.eval.results import EvalRunReader

        generation, a, b = self._wanted
        if a is None:
            return
        fresh = self._readers[0] != generation
        if fresh:
            self._readers = (generation, EvalRunReader(a), EvalRunReader(b) if b is not None else None)
        _, reader_a, reader_b = self._readers
        changed = reader_a.read()
        if reader_b is not None:
            changed = reader_b.read() or changed
        listed = {r.id: r.state for r in self._runs or []}  # the app's watcher already read every status

        def state(run_dir: Path) -> str:
            return listed.get(run_dir.name) or self.run_store.info(run_dir).state

        state_a, state_b = state(a), state(b) if b is not None else ""
        if not (fresh or changed or (state_a, state_b) != (self.shown.state_a, self.shown.state_b)):
            return
        diff = None
        if reader_b is not None:
            samples, seed = bootstrap_settings(reader_a)
            diff = pair_runs(reader_a.rows, reader_b.rows, samples=samples, seed=seed)
        self.post_message(self.Read(Followed(
            generation, a, b, list(reader_a.rows), list(reader_b.rows) if reader_b else [], reader_a.report,
            reader_b.report if reader_b else None, state_a, state_b, reader_a.progress, diff)))
        for reader in (reader_a, reader_b):
            if reader is not None and (reader.report_error or reader.problems) and fresh:
                problem = reader.report_error or reader.problems[0].summary()
                self.app.call_from_thread(self.notify, problem, title="Eval", severity="warning", timeout=10)

    def on_eval_pane_read(self, message: Read) -> None:
        message.stop()
        if message.followed.generation != self._wanted[0]:
            return  # about runs no longer shown
        self.shown = message.followed
        self._show()

    # -- showing --------------------------------------------------------------------------------
    @property
    def current_filter(self) -> str:
        value = self.query_one("#e-filter", Select).value
        return value if isinstance(value, str) else "all"

    def listed(self) -> list:
        """The rows (one run) or pairs (two) the examples list shows, in its order."""
        from ...engine.eval.results import worst_first

        shown, wanted = self.shown, self.current_filter
        if shown.diff is not None:
            pairs = sorted(shown.diff.pairs, key=lambda p: (PAIR_ORDER[p.outcome], p.b.task or 0.0, p.a.index))
            if wanted == "changed":
                return [p for p in pairs if p.outcome in ("fixed", "broken")]
            return [p for p in pairs if wanted in ("all", p.outcome)]
        rows = worst_first(shown.rows_a)
        return [r for r in rows if not r.passed] if wanted == "failures" else rows

    def _show(self) -> None:
        shown = self.shown
        summary, examples = self.query_one(EvalSummary), self.query_one(EvalExamples)
        listed = self.listed()
        if shown.diff is not None:
            summary.show_diff(shown.diff, self._run_name(shown.a, shown.report_a), self._run_name(shown.b, shown.report_b))
            examples.show_pairs(listed)
        else:
            summary.show_run(shown.report_a, shown.rows_a)
            examples.show_examples(listed)
        self._show_selected()
        self.query_one("#e-activity", Static).update(self._activity())
        self.refresh_bindings()

    def _run_name(self, run_dir: Path | None, report: Any) -> str:
        if run_dir is None:
            return ""
        info = next((r for r in self.history if r.id == run_dir.name), None)
        target = report.target if report is not None else ""
        return f"{target or (info.title if info else run_dir.name)} ({run_dir.name[-4:]})"

    def _activity(self) -> Text:
        shown = self.shown
        if shown.a is None:
            return Text("Open “new evaluation” to score a model, a run or an endpoint on held-out examples.",
                        style="dim")
        text = Text(shown.state_a or "…", style=STATE_STYLES.get(shown.state_a, ""))
        progress = shown.progress_a
        if shown.state_a in ("queued", "running") and progress is not None and progress.total:
            text.append(f"  {progress.done:.0f}/{progress.total:.0f} {progress.unit or 'examples'}")
        elif shown.rows_a:
            text.append(f"  {len(shown.rows_a)} examples")
        if self.current_filter != "all":
            text.append(f"  · {len(self.listed())} shown", style="dim")
        return text

    def on_eval_examples_selected(self, message: EvalExamples.Selected) -> None:
        message.stop()
        self._show_selected()

    def _show_selected(self) -> None:
        detail, index = self.query_one(EvalDetail), self.query_one(EvalExamples).selected
        shown = self.shown
        if shown.diff is not None:
            pair = next((p for p in shown.diff.pairs if p.a.index == index), None)
            if pair is not None:
                detail.show_pair(pair, self._run_name(shown.a, shown.report_a), self._run_name(shown.b, shown.report_b))
                return
        else:
            row = next((r for r in shown.rows_a if r.index == index), None)
            if row is not None:
                detail.show_example(row)
                return
        detail.show_none("no example scored yet" if shown.a is not None and not shown.rows_a else
                         "no example matches the filter" if shown.a is not None else "no eval run yet")

    # -- actions --------------------------------------------------------------------------------
    @on(Select.Changed, "#e-filter")
    def _filter_picked(self, event: Select.Changed) -> None:
        event.stop()
        self._show()

    def action_cycle_filter(self) -> None:
        """Next filter (failures only; for two runs: fixed or broken, fixed, broken, …)."""
        filters = [value for _, value in (PAIR_FILTERS if self.shown.b is not None else SINGLE_FILTERS)]
        select = self.query_one("#e-filter", Select)
        select.value = filters[(filters.index(self.current_filter) + 1) % len(filters)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.shown.state_a in ("queued", "running")
        if action == "cycle_filter":
            return self.shown.a is not None
        return True

    def action_stop(self) -> None:
        from ...engine.errors import WorkbenchError
        from ...engine.runs import launcher

        if self.shown.a is None:
            return
        try:
            launcher.stop_job(self.run_store.get(self.shown.a.name))
        except WorkbenchError as exc:
            self.notify(exc.message, severity="warning")
            return
        self.notify(f"stopping {self.shown.a.name}", title="Eval")

    @on(Button.Pressed, "#el-start")
    def launch(self) -> None:
        try:
            recipe = self.query_one(EvalLaunch).recipe()
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start", severity="error", timeout=10)
            return
        self.post_message(StartJob(recipe, f"eval {recipe.target}"))


def bootstrap_settings(reader: Any) -> tuple[int, int]:
    """The resamples and seed of run A (its report's, else its recipe's; else 1000 and 0)."""
    settings = reader.report.settings if reader.report is not None else {}
    if not settings:
        from ...engine.runs.run import Run

        settings = Run(reader.run_dir).recipe_data()
    samples, seed = settings.get("bootstrap_samples"), settings.get("seed")
    return (samples if isinstance(samples, int) and samples > 0 else 1000, seed if isinstance(seed, int) else 0)
