"""The Runs pane: every job with its live state, one job's events and log, stop and remove.

It reads the run directories (never the jobs themselves): a thread worker refreshes the run
list and tails the selected run's files every ``poll_interval`` seconds, and posts what it
found as messages. Closing the TUI changes nothing for the jobs; reopening it replays each
run's history from its files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.widgets import Button

from ...engine.runs import launcher
from ...engine.runs.store import RunInfo, RunStore
from ...engine.runs.watch import RunFollower, RunsWatcher
from ...engine.system import SystemSample
from ..messages import JobStarted, OpenComparison, OverlayLoaded, RunOutputArrived, RunsRefreshed
from ..metric_series import RunSeries
from ..widgets.run_detail import RunDetail
from ..widgets.run_table import RunTable
from ..widgets.system_monitor import SystemMonitor
from .confirm import ConfirmScreen


class RunsPane(Vertical):
    BINDINGS = [
        Binding("s", "stop_run", "Stop run"),
        Binding("K", "kill_run", "Kill run"),
        Binding("delete", "remove_run", "Remove run"),
        Binding("r", "resume_run", "Resume"),
        Binding("o", "overlay_run", "Overlay curves"),
    ]

    def __init__(self, run_store: RunStore, sampler: Callable[[], SystemSample], poll_interval: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = run_store
        self._sampler = sampler
        self._poll_interval = poll_interval
        self._watcher = RunsWatcher(run_store)
        self._follower: RunFollower | None = None
        self._poll_lock = threading.Lock()
        self._detail_ready = False
        self._overlay_id: str | None = None

    def compose(self) -> ComposeResult:
        # The run table is in the first frame; the monitor and the detail view follow one
        # refresh later (Lazy), which keeps the workbench's first frame close to a bare app's.
        with Horizontal(id="runs-top"):
            yield RunTable(id="run-table")
            yield Lazy(SystemMonitor(self._sampler, id="system-monitor"))
        yield Lazy(RunDetail(id="run-detail"))
        with Horizontal(id="run-actions"):
            yield Button("Stop", id="stop-run", variant="warning", disabled=True, compact=True)
            yield Button("Kill", id="kill-run", variant="error", disabled=True, compact=True)
            yield Button("Resume", id="resume-run", disabled=True, compact=True)
            yield Button("Overlay", id="overlay-run", disabled=True, compact=True)
            yield Button("Remove", id="remove-run", disabled=True, compact=True)

    def on_mount(self) -> None:
        self.query_one(RunTable).border_title = "Runs"
        self.call_after_refresh(self.poll)
        self.set_interval(self._poll_interval, self.poll)

    @property
    def selected(self) -> RunInfo | None:
        return self.query_one(RunTable).selected_run

    @work(thread=True, group="runs-poll", description="refresh runs and tail the selected run", exit_on_error=False)
    def poll(self) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return  # the previous poll is still reading; skip this tick
        try:
            self.post_message(RunsRefreshed(self._watcher.refresh()))
            follower = self._follower
            if follower is not None and self._detail_ready:
                output = follower.read_new()
                if output:
                    self.post_message(RunOutputArrived(follower.run_dir.name, output))
        finally:
            self._poll_lock.release()

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        table = self.query_one(RunTable)
        table.show_runs(message.runs)
        self._show_selected()

    def on_run_output_arrived(self, message: RunOutputArrived) -> None:
        message.stop()
        if self._follower is not None and self._follower.run_dir.name == message.run_id and self._detail:
            self._detail.append(message.output)

    @on(RunDetail.Ready)
    def _detail_mounted(self, message: RunDetail.Ready) -> None:
        message.stop()
        self._detail_ready = True
        self._show_selected()
        self.poll()

    @property
    def _detail(self) -> RunDetail | None:
        """The detail view, or None in the moment before its lazy mount."""
        if not self._detail_ready:
            return None
        return self.query_one(RunDetail)

    @on(RunTable.Selected)
    def _follow(self, message: RunTable.Selected) -> None:
        selected = self.query_one(RunTable).selected_run
        with self._poll_lock:
            self._follower = RunFollower(selected.dir) if selected else None
        if self._detail:
            self._detail.clear()
        self._show_selected()
        self.poll()

    def on_data_table_row_selected(self, event) -> None:  # noqa: ANN001 - DataTable.RowSelected
        """Enter on an export or compare run opens it in the Quantize & Compare pane."""
        run = self.selected
        if run is not None and run.stage in ("compare", "export"):
            event.stop()
            self.post_message(OpenComparison(run.dir))

    def on_job_started(self, message: JobStarted) -> None:
        self.query_one(RunTable).select_run(message.run_id)
        self.poll()

    def _show_selected(self) -> None:
        run = self.selected
        if self._detail:
            self._detail.show_run(run)
        alive = bool(run and run.alive)
        self.query_one("#stop-run", Button).disabled = not alive
        self.query_one("#kill-run", Button).disabled = not alive
        self.query_one("#remove-run", Button).disabled = run is None or alive
        self.query_one("#resume-run", Button).disabled = not (
            run and not alive and run.stage in launcher.RESUMABLE_STAGES and run.state in ("cancelled", "interrupted", "failed")
        )
        self.query_one("#overlay-run", Button).disabled = run is None

    @on(Button.Pressed, "#stop-run")
    def action_stop_run(self) -> None:
        self._stop(force=False)

    @on(Button.Pressed, "#kill-run")
    def action_kill_run(self) -> None:
        self._stop(force=True)

    def _stop(self, *, force: bool) -> None:
        run = self.selected
        if run is None:
            return
        launcher.stop_job(run, force=force)
        verb = "kill (SIGKILL) sent to" if force else "stop requested for"
        self.notify(f"{verb} {run.id}", title="Runs")
        self.poll()

    @on(Button.Pressed, "#resume-run")
    def action_resume_run(self) -> None:
        run = self.selected
        if run is None:
            return
        launcher.resume_job(run)
        self.notify(f"resuming {run.id} from its last checkpoint", title="Runs")
        self.query_one(RunTable).select_run(run.id)
        self._follow(RunTable.Selected(run.id))

    @on(Button.Pressed, "#overlay-run")
    def action_overlay_run(self) -> None:
        run = self.selected
        if run is None or not self._detail:
            return
        if self._overlay_id == run.id:
            self._overlay_id = None
            self._detail.set_overlay(None, "")
            self.notify("overlay removed", title="Runs")
            return
        self._overlay_id = run.id
        self._load_overlay(run)

    @work(thread=True, exclusive=True, group="runs-overlay", description="read a run's curves for the overlay",
          exit_on_error=False)
    def _load_overlay(self, run: RunInfo) -> None:
        series = RunSeries()
        series.add(m for m in RunFollower(run.dir).read_new().metrics if isinstance(m, dict))
        self.post_message(OverlayLoaded(run.id, series))

    def on_overlay_loaded(self, message: OverlayLoaded) -> None:
        message.stop()
        if self._overlay_id == message.run_id and self._detail:
            self._detail.set_overlay(message.series, message.run_id[-4:])  # type: ignore[arg-type]
            self.notify(f"{message.run_id} drawn in grey under the selected run's curves", title="Overlay")

    @on(Button.Pressed, "#remove-run")
    def action_remove_run(self) -> None:
        run = self.selected
        if run is None or run.alive:
            return

        def remove(confirmed: bool | None) -> None:
            if confirmed:
                self.run_store.remove(run.id)
                self.notify(f"removed {run.id}", title="Runs")
                self.poll()

        self.app.push_screen(ConfirmScreen(f"Delete run {run.id} and all its files?\n{run.dir}", "Delete"), remove)
