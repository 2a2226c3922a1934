"""One run in detail: state line, progress, latest metrics, events and the worker log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, RichLog, Select, Static

from ...engine.events import CorruptLine, Error, Finished, ItemState, Progress
from ...engine.events import Warning as WarningEvent
from ...engine.runs.store import LOG, RunInfo
from ...engine.runs.follow import RunOutput
from ..format import STATE_STYLES, duration
from ..metric_series import RunSeries
from .metric_chart import MetricChart

EVENT_STYLES = {Error: "bold red", WarningEvent: "yellow", Finished: "bold", CorruptLine: "red"}
MAX_LINES = 2000


class RunDetail(Vertical):
    class Ready(Message):
        """Posted once mounted (the pane mounts it lazily), so output is not read before it can be shown."""

    DEFAULT_CSS = """
    RunDetail #run-heading { height: 1; }
    RunDetail #run-progress-row { height: 1; }
    RunDetail #run-progress-label { width: 1fr; margin-left: 2; }
    RunDetail #run-metrics { height: 1; color: $text-muted; }
    RunDetail #run-logs { height: 1fr; }
    RunDetail #run-chart-row { height: 2fr; display: none; }
    RunDetail #run-chart-row.-has-metrics { display: block; }
    RunDetail #chart-view { width: 24; }
    RunDetail RichLog { width: 1fr; border: round $panel; overflow-x: hidden; }
    """

    def compose(self) -> ComposeResult:
        yield Static("no run selected", id="run-heading")
        with Horizontal(id="run-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="run-progress")
            yield Label("", id="run-progress-label")
        yield Static("", id="run-metrics")
        with Vertical(id="run-chart-row"):
            yield Select([("loss", "loss")], value="loss", allow_blank=False, compact=True, id="chart-view")
            yield MetricChart(id="run-chart")
        with Horizontal(id="run-logs"):
            yield RichLog(id="run-events", max_lines=MAX_LINES, wrap=True, markup=False, min_width=20)
            yield RichLog(id="run-log", max_lines=MAX_LINES, wrap=True, markup=False, min_width=20)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series = RunSeries()
        self._latest: dict = {}
        self.overlay: RunSeries | None = None
        self.overlay_label = ""

    def on_mount(self) -> None:
        self.post_message(self.Ready())
        self.query_one("#run-progress-row").display = False
        self.query_one("#run-events", RichLog).border_title = "Events"
        self.query_one("#run-log", RichLog).border_title = LOG

    def show_run(self, run: RunInfo | None) -> None:
        """Heading for ``run`` (called on every refresh; cheap)."""
        heading = self.query_one("#run-heading", Static)
        if run is None:
            heading.update(Text("no runs yet — start one from the command palette (ctrl+p) or the CLI", style="dim"))
            return
        text = Text()
        text.append(run.title, style="bold")
        text.append("  ")
        text.append(run.state, style=STATE_STYLES.get(run.state, ""))
        text.append("  ")
        text.append(str(run.dir), style="dim")
        if run.problem:
            text.append(f"  {run.problem}", style="red")
        heading.update(text)

    def clear(self) -> None:
        self.series = RunSeries()
        self._latest = {}
        self.query_one("#run-chart-row").set_class(False, "-has-metrics")
        self.query_one("#run-events", RichLog).clear()
        self.query_one("#run-log", RichLog).clear()
        self.query_one("#run-metrics", Static).update("")
        self.query_one("#run-progress-label", Label).update("")
        self.query_one("#run-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#run-progress-row").display = False

    def append(self, output: RunOutput) -> None:
        events = self.query_one("#run-events", RichLog)
        for event in output.events:
            stamp = "" if isinstance(event, CorruptLine) else _stamp(event.time)
            if isinstance(event, Progress):
                continue  # shown by the bar, not the event list
            style = "yellow" if isinstance(event, ItemState) and event.broken else EVENT_STYLES.get(type(event), "")
            events.write(Text(f"{stamp}{event.summary()}", style=style))
        log = self.query_one("#run-log", RichLog)
        for line in output.log:
            log.write(Text(line), scroll_end=False)
        if output.log:
            log.scroll_end(animate=False, immediate=True)  # now: one repaint for the lines and the scroll
        progress = output.last_progress
        if progress is not None:
            self._show_progress(progress)
        metrics = [m for m in output.metrics if isinstance(m, dict)]
        if metrics:
            for row in metrics:
                self._latest.update({k: v for k, v in row.items() if v is not None})
            self.query_one("#run-metrics", Static).update(_metrics_line(self._latest), layout=False)  # one line, always
            if self.series.add(metrics):
                self._update_chart()

    def set_overlay(self, series: RunSeries | None, label: str) -> None:
        """Draw another run's curves under this one's (None removes them)."""
        self.overlay, self.overlay_label = series, label
        self._update_chart()

    def _update_chart(self) -> None:
        views = self.series.views()
        row = self.query_one("#run-chart-row")
        row.set_class(bool(views), "-has-metrics")
        if not views:
            return
        select = self.query_one("#chart-view", Select)
        options = [(view, view) for view in views]
        if [value for _, value in options] != list(getattr(self, "_views", [])):
            self._views = views
            current = select.value if select.value in views else views[0]
            select.set_options(options)
            select.value = current
        self._draw(str(select.value))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self._draw(str(event.value))

    def _draw(self, view: str) -> None:
        overlay = self.overlay.curves(view) if self.overlay else []
        self.query_one(MetricChart).set_data("", self.series.curves(view), overlay, self.overlay_label)

    def _show_progress(self, progress: Progress) -> None:
        self.query_one("#run-progress-row").display = True
        bar = self.query_one("#run-progress", ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=progress.done)
        else:
            bar.update(total=None)
        self.query_one("#run-progress-label", Label).update(progress_text(progress))


def progress_text(progress: Progress) -> Text:
    """The progress in words, from its fields: ``int8 2/4  perplexity 3/30 steps  message``."""
    text = Text()
    if progress.item:
        text.append(progress.item, style="bold")
        if progress.item_index and progress.item_count:
            text.append(f" {progress.item_index}/{progress.item_count}", style="dim")
        text.append("  ")
    text.append(progress.phase)
    if progress.total:
        text.append(f" {progress.done:g}/{progress.total:g} {progress.unit}".rstrip())
    if progress.message:
        text.append(f"  {progress.message}", style="dim")
    return text


def _stamp(ts: float) -> str:
    import time

    return time.strftime("%H:%M:%S ", time.localtime(ts))


def _metrics_line(row: dict) -> Text:
    """The newest metrics in words: loss, eval, lr, grad norm, tokens/s, ETA, memory."""
    names = {"loss": "loss", "eval_loss": "eval", "final_eval_loss": "final eval", "learning_rate": "lr", "grad_norm": "grad",
             "tokens_per_s": "tok/s", "tflops": "TFLOP/s", "rss_mb": "RSS MB", "gpu_mem_mb": "GPU MB"}
    parts = [f"step {row['step']}"] if "step" in row else []
    parts += [f"{label} {_fmt(row[key])}" for key, label in names.items() if row.get(key) is not None]
    if row.get("eta_s") is not None:
        parts.append(f"ETA {duration(row['eta_s'])}")
    return Text("  ".join(parts))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
