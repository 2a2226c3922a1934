"""The Sweep pane: a form that starts a sweep; a sweep's trials, best first, their curves and what mattered.

It reads only the sweep run's files (``artifacts/trials.jsonl``, ``artifacts/sweep_report.json``,
written by the job after each trial; ``engine/sweep/summary.py``) and each trial run's
``metrics.jsonl``, in a thread worker on each run list the app's watcher sends; it never
imports Optuna. The table sorts the trials by the sweep's metric, the best complete one starred;
the chart overlays their eval-loss curves (the four best in colour, the rest grey); the
importances are the job's (PED-ANOVA), shown only from ``MIN_IMPORTANCE_TRIALS`` complete trials
(below, "not enough trials (N of M)"), with what PED-ANOVA warned about. ``t`` trains the base
recipe with the best parameters, ``c`` compares the best trial's model (its variants against
PyTorch), both through ``StartJob``. The "new sweep" form (``widgets/sweep_launch.py``, open while
there is no sweep, ``n`` to open it later) starts one the same way ``slmw sweep`` does.
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
from textual.widgets import Button, Collapsible, DataTable, Input, Select, Static

from ...engine.runs.run import Run
from ...engine.runs.store import RunInfo
from ...engine.stages import stages_viewed_in
from ...engine.sweep.summary import ImportanceView, best_trial, importance_view, ranked, read_report, read_trials
from ..format import STATE_STYLES, clock
from ..messages import JobStarted, RunsRefreshed, StartJob
from ..pane_context import PaneContext
from ..visibility import is_shown
from ..widgets.metric_chart import MetricChart, Series
from ..widgets.sweep_launch import SweepLaunch

STAGES = stages_viewed_in("sweep")
TRIAL_STYLES = {"complete": "green", "pruned": "magenta", "running": "bold cyan", "waiting": "yellow",
                "failed": "bold red"}
COLOURED = 4
"""Curves drawn in colour (the best ones); the others are grey."""


def eval_curve(run_dir: Path) -> list[tuple[float, float]]:
    """(step, eval_loss) of a training run's metrics; empty when there is none."""
    return [(float(row.get("step") or 0), float(row["eval_loss"])) for row in Run(run_dir).metrics()
            if isinstance(row.get("eval_loss"), (int, float))]


def best_train_recipe(report: dict[str, Any], best: dict[str, Any]) -> Any:
    """The sweep's base training recipe with the best trial's parameters applied, validated."""
    from ...config.train import TrainRecipe
    from ...config.sweep_space import apply

    return TrainRecipe.model_validate(apply(report.get("base") or {}, best.get("params") or {}))


def importance_text(view: ImportanceView, width: int = 12) -> Text:
    """Bars from the minimum of complete trials on; below it, how many there are of how many needed."""
    if not view.enough:
        text = Text(f"importance: not enough trials ({view.complete} of {view.needed})\n", style="bold")
        text.append(f"shown from {view.needed} complete trials: PED-ANOVA on fewer says little", style="dim")
        return text
    text = Text(f"importance (PED-ANOVA, {view.complete} trials)\n", style="bold")
    for name, share in view.shares.items():
        bar = "█" * max(1, round(share * width)) if share > 0 else ""
        text.append(f"{name[:14]:<14} ", style="")
        text.append(f"{bar:<{width}}", style="cyan")
        text.append(f" {share:.2f}\n")
    for note in view.notes:
        text.append(f"⚠ {note}\n", style="yellow")
    return text


class SweepPane(Vertical):
    BINDINGS = [
        Binding("t", "train_best", "Train with the best"),
        Binding("c", "compare_best", "Compare the best"),
        Binding("n", "new_sweep", "New sweep"),
    ]
    DEFAULT_CSS = """
    SweepPane { height: 1fr; }
    SweepPane #sw-new { border-top: none; padding: 0; background: $background; }
    SweepPane #sw-new Contents { padding: 0 0 0 1; height: auto; }
    SweepPane #sw-new CollapsibleTitle { padding: 0 1 0 0; color: $text-muted; }
    SweepPane #sw-status { height: 1; }
    SweepPane #sw-history { width: 48; }
    SweepPane #sw-activity { width: 1fr; margin-left: 1; }
    SweepPane #sw-table { height: 1fr; min-height: 5; }
    SweepPane #sw-lower { height: 1fr; min-height: 8; }
    SweepPane #sw-chart { width: 2fr; }
    SweepPane #sw-importances { width: 1fr; margin-left: 1; }
    SweepPane #sw-message { height: auto; max-height: 2; color: $text-muted; }
    """

    @dataclass
    class Listed(Message):
        """The sweep runs in the store (newest first)."""

        runs: list[RunInfo]

    @dataclass
    class Update(Message):
        """What the followed sweep's files say now."""

        run_id: str
        state: str
        trials: list[dict[str, Any]]
        report: dict[str, Any]
        curves: dict[int, list[tuple[float, float]]] = field(default_factory=dict)

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SweepPane.Update) and message.run_id == self.run_id

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self._poll_lock = threading.Lock()
        self._runs: list[RunInfo] | None = None
        self.run_dir: Path | None = None
        self.state = ""
        self.trials: list[dict[str, Any]] = []
        self.report: dict[str, Any] = {}
        self.history: list[RunInfo] = []

    def compose(self) -> ComposeResult:
        with Collapsible(title="new sweep", collapsed=False, id="sw-new"):
            yield SweepLaunch(id="sw-launch")
        with Horizontal(id="sw-status"):
            yield Select([], prompt="no sweep yet", id="sw-history", compact=True, tooltip="sweeps")
            yield Static("", id="sw-activity")
        yield DataTable(id="sw-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="sw-lower"):
            yield MetricChart(id="sw-chart")
            yield Static("", id="sw-importances")
        yield Static("no sweep yet: set one up above and press Sweep (the command beside it does the same)",
                     id="sw-message")

    def on_mount(self) -> None:
        self.query_one("#sw-table").border_title = "Trials"
        self._show()
        self._runs_feed.subscribe_runs(self)
        self.call_after_refresh(self.on_show)

    def on_show(self) -> None:
        if not is_shown(self):
            return
        if not self.has_focus_within:
            self.query_one(DataTable).focus()
        if self._runs is not None:
            self.poll(self._runs)

    # -- following a sweep ------------------------------------------------------------------
    def open_run(self, run_dir: Path) -> None:
        """The stage registry's view of sweep runs: show this one."""
        self.run_dir, self.state, self.trials, self.report = Path(run_dir), "", [], {}
        self._show()
        self.poll(self._runs or getattr(self.app, "runs", None) or [])

    def on_job_started(self, message: JobStarted) -> None:
        message.stop()
        self.query_one("#sw-new", Collapsible).collapsed = True
        self.open_run(message.run_dir)

    @on(Select.Changed, "#sw-history")
    def _picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and (self.run_dir is None or event.value != self.run_dir.name):
            self.open_run(self.run_store.root / event.value)

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):
            self.poll(message.runs)

    @work(thread=True, group="sweep-poll", description="read the followed sweep", exit_on_error=False)
    def poll(self, everything: list[RunInfo]) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return
        try:
            sweeps = [r for r in everything if r.stage in STAGES]
            if [(r.id, r.state) for r in sweeps] != [(r.id, r.state) for r in self.history] or (
                    self.run_dir is None and sweeps):
                self.post_message(self.Listed(sweeps))
            run_dir = self.run_dir
            if run_dir is None:
                return
            artifacts = Run(run_dir).artifacts_dir
            trials, report = read_trials(artifacts), read_report(artifacts)
            curves = {row["number"]: eval_curve(self.run_store.root / row["run_id"])
                      for row in trials if row.get("run_id") and isinstance(row.get("number"), int)}
            state = self.run_store.info(run_dir).state
            self.post_message(self.Update(run_dir.name, state, trials, report, curves))
        finally:
            self._poll_lock.release()

    def on_sweep_pane_listed(self, message: Listed) -> None:
        message.stop()
        self.history = message.runs
        options = [(Text.assemble(f"{clock(r.status.created if r.status else None)} {r.title}  ",
                                  (r.state, STATE_STYLES.get(r.state, "")), no_wrap=True, overflow="ellipsis"), r.id)
                   for r in message.runs]
        if self.run_dir is None and message.runs:  # re-attach: the newest sweep (the form folds away)
            self.query_one("#sw-new", Collapsible).collapsed = True
            self.open_run(message.runs[0].dir)
        history = self.query_one("#sw-history", Select)
        with self.prevent(Select.Changed):
            history.set_options(options)
            if self.run_dir is not None and self.run_dir.name in {r.id for r in message.runs}:
                history.value = self.run_dir.name

    def on_sweep_pane_update(self, message: Update) -> None:
        message.stop()
        if self.run_dir is None or message.run_id != self.run_dir.name:
            return
        self.state, self.trials, self.report = message.state, message.trials, message.report
        self._show(message.curves)

    # -- showing ----------------------------------------------------------------------------
    @property
    def direction(self) -> str:
        return str(self.report.get("direction") or "minimize")

    @property
    def best(self) -> dict[str, Any] | None:
        return best_trial(self.trials, self.direction)

    def ranked_trials(self) -> list[dict[str, Any]]:
        return ranked(self.trials, self.direction)

    def _show(self, curves: dict[int, list[tuple[float, float]]] | None = None) -> None:
        table = self.query_one("#sw-table", DataTable)
        metric = str(self.report.get("metric") or "value")
        names = list(self.report.get("params") or {}) or sorted({k for r in self.trials for k in r.get("params", {})})
        headers = ["trial", "state", f"{metric} {'↑' if self.direction == 'maximize' else '↓'}", "task", *names,
                   "steps", "run"]
        best = self.best
        rows = []
        for row in self.ranked_trials():
            star = best is not None and row.get("number") == best.get("number")
            style = "bold green" if star else ""
            state = row.get("state", "?")
            if state == "pruned" and row.get("pruned_at") is not None:
                state = f"pruned @{row['pruned_at']}"
            cells = [Text.assemble(("★ " if star else "  ", "bold yellow"), (str(row.get("number")), style)),
                     Text(state, style=TRIAL_STYLES.get(row.get("state", ""), "")),
                     Text(_num(row.get("value")), style=style), Text(_num(row.get("task")))]
            cells += [Text(_num((row.get("params") or {}).get(n))) for n in names]
            cells += [Text(str(row.get("steps") or "")), Text(str(row.get("run_id") or "")[-4:], style="dim")]
            rows.append((str(row.get("number")), cells))
        table.clear(columns=True)
        for i, header in enumerate(headers):  # a Text cell does not widen its column: size them here
            table.add_column(Text(header), width=max([len(header)] + [cells[i].cell_len for _, cells in rows]))
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if curves is not None:
            self._chart(curves)
        self.query_one("#sw-importances", Static).update(
            importance_text(importance_view(self.report, self.trials)) if self.run_dir is not None else "")
        self.query_one("#sw-activity", Static).update(self._activity())
        if self.run_dir is not None:
            self.query_one("#sw-message", Static).update(self._message())
        self.refresh_bindings()

    def _chart(self, curves: dict[int, list[tuple[float, float]]]) -> None:
        order = [r["number"] for r in self.ranked_trials() if curves.get(r.get("number"))]
        series, overlay = [], []
        for rank, number in enumerate(order):
            curve = Series(f"#{number}")
            for x, y in curves[number]:
                curve.add(x, y)
            (series if rank < COLOURED else overlay).append(curve)
        self.query_one(MetricChart).set_data("eval loss by step", series, overlay, "other trials")

    def _activity(self) -> Text:
        if self.run_dir is None:
            return Text("")
        counts = self.report.get("counts") or {}
        wanted = self.report.get("trials")
        done = (counts.get("complete") or 0) + (counts.get("pruned") or 0)
        text = Text.assemble(" ", (self.state or "…", STATE_STYLES.get(self.state, "")), f"  {done}/{wanted or '?'} trials")
        best = self.best
        if best is not None:
            text.append(f"  best #{best['number']}: {self.report.get('metric')} {_num(best.get('value'))}", style="bold")
        for state in ("running", "pruned", "failed"):
            if counts.get(state):
                text.append(f"  {counts[state]} {state}", style=TRIAL_STYLES[state])
        return text

    def _message(self) -> Text:
        dashboard = self.report.get("dashboard")
        return Text("t trains with the best, c compares it" + (f"; dashboard: {dashboard}" if dashboard else ""))

    # -- actions ------------------------------------------------------------------------------
    def action_new_sweep(self) -> None:
        """Open the form and put the cursor in its first parameter."""
        self.query_one("#sw-new", Collapsible).collapsed = False
        launch = self.query_one(SweepLaunch)
        first = launch.query(".swl-name")
        self.call_after_refresh((first.first() if first else launch.query_one("#swl-base")).focus)

    @on(Button.Pressed, "#swl-start")
    @on(Input.Submitted, "#sw-launch Input")
    def launch(self) -> None:
        """Start the form's sweep as a job (Sweep, or Enter in any of its fields); a bad field is one
        line naming it, and nothing starts."""
        launch = self.query_one(SweepLaunch)
        try:
            recipe = launch.recipe()
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start the sweep", severity="error", timeout=10)
            return
        self.post_message(StartJob(recipe, f"sweep {Path(launch.base_name).stem}"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("train_best", "compare_best"):
            return self.best is not None
        return True

    def action_train_best(self) -> None:
        from ...engine.errors import RecipeError

        best = self.best
        if best is None:
            return
        try:
            from pydantic import ValidationError

            recipe = best_train_recipe(self.report, best)
        except (ValidationError, RecipeError) as exc:
            self.notify(str(exc).splitlines()[0], title="Cannot train with the best", severity="error")
            return
        sweep = self.run_dir.name[-4:] if self.run_dir else ""
        self.post_message(StartJob(recipe, f"train best of sweep {sweep} (trial {best['number']})"))

    def action_compare_best(self) -> None:
        from ...config.export import CompareRecipe

        best = self.best
        if best is None or not best.get("run_id"):
            return
        self.post_message(StartJob(CompareRecipe(model=best["run_id"]), f"compare best of sweep (trial {best['number']})"))


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.4f}"
    return str(value)
