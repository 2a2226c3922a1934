"""One run in detail: state line, progress, latest metrics, events and the worker log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, RichLog, Static

from ...engine.events import CorruptLine, Error, Finished, Progress
from ...engine.events import Warning as WarningEvent
from ...engine.runs.store import RunInfo
from ...engine.runs.watch import RunOutput
from ..format import STATE_STYLES

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
    RunDetail RichLog { width: 1fr; border: round $panel; overflow-x: hidden; }
    """

    def compose(self) -> ComposeResult:
        yield Static("no run selected", id="run-heading")
        with Horizontal(id="run-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="run-progress")
            yield Label("", id="run-progress-label")
        yield Static("", id="run-metrics")
        with Horizontal(id="run-logs"):
            yield RichLog(id="run-events", max_lines=MAX_LINES, wrap=True, markup=False, min_width=20)
            yield RichLog(id="run-log", max_lines=MAX_LINES, wrap=True, markup=False, min_width=20)

    def on_mount(self) -> None:
        self.post_message(self.Ready())
        self.query_one("#run-progress-row").display = False
        self.query_one("#run-events", RichLog).border_title = "Events"
        self.query_one("#run-log", RichLog).border_title = "worker.log"

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
            events.write(Text(f"{stamp}{event.summary()}", style=EVENT_STYLES.get(type(event), "")))
        log = self.query_one("#run-log", RichLog)
        for line in output.log:
            log.write(Text(line))
        progress = output.last_progress
        if progress is not None:
            self._show_progress(progress)
        metrics = [m for m in output.metrics if isinstance(m, dict)]
        if metrics:
            latest = metrics[-1]
            parts = [f"{k}={_fmt(v)}" for k, v in latest.items() if k != "time" and v is not None]
            self.query_one("#run-metrics", Static).update("metrics: " + "  ".join(parts))

    def _show_progress(self, progress: Progress) -> None:
        self.query_one("#run-progress-row").display = True
        bar = self.query_one("#run-progress", ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=progress.done)
        else:
            bar.update(total=None)
        self.query_one("#run-progress-label", Label).update(progress.summary())


def _stamp(ts: float) -> str:
    import time

    return time.strftime("%H:%M:%S ", time.localtime(ts))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
