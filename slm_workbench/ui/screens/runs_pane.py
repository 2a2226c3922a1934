"""The Runs pane: every job with its live state, one job's events and log, stop and remove.

It reads the run directories (never the jobs themselves): the app's one runs watcher sends
the run list (``RunsRefreshed``) every ``poll_interval`` seconds, and on each one a thread
worker tails the selected run's files and posts what it found. Closing the TUI changes
nothing for the jobs; reopening it replays each run's history from its files. The actions
(stop, kill, resume, overlay, remove) are key bindings, shown in the footer while they apply.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from ...engine.stages import find_stage, resumable_stages
from ..messages import JobStarted, OpenRun, OverlayLoaded, RunOutputArrived, RunsRefreshed
from ..pane_context import PaneContext
from ..visibility import is_shown, mark_narrow
from ..widgets.run_table_header import RunTableHeader

if TYPE_CHECKING:
    from ...engine.runs.store import RunInfo, RunStore
    from ...engine.runs.follow import RunFollower
    from ..widgets.run_detail import RunDetail
    from ..widgets.run_table import RunTable


class RunsPane(Vertical):
    BINDINGS = [
        Binding("s", "stop_run", "Stop"),
        Binding("K", "kill_run", "Kill"),
        Binding("r", "resume_run", "Resume"),
        Binding("o", "overlay_run", "Overlay"),
        Binding("delete", "remove_run", "Remove"),
    ]

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self._feed = context.runs
        self._sampler = context.sampler
        self._poll_interval = context.poll_interval
        self._follower: RunFollower | None = None
        self._tail_lock = threading.Lock()
        self._runs: list[RunInfo] | None = None
        """The newest run list the app sent (shown when the pane is)."""
        self._detail_ready = False
        self._overlay_id: str | None = None
        self._table: RunTable | None = None
        """The run table, once it has taken its header's place (None in the first frame)."""
        self._wanted: str | None = None
        """A run to select once the table is there (a job started before it was)."""

    def compose(self) -> ComposeResult:
        # The first frame has the run table's picture (its border and header, no DataTable);
        # the table, the monitor and the detail view (and their modules) follow one refresh
        # later, before the first run list arrives. This keeps the first frame close to a bare
        # Textual app's (bench/startup.py).
        with Horizontal(id="runs-top"):
            yield RunTableHeader(id="run-table-header")

    def on_mount(self) -> None:
        self.query_one(RunTableHeader).border_title = "Runs"
        self.call_after_refresh(self._mount_the_rest)

    async def _mount_the_rest(self) -> None:
        """After the first frame: the table in its header's place, the monitor, the detail view
        (the screen runs this before its next frame, and the app holds its keys until then)."""
        from ..widgets.run_detail import RunDetail
        from ..widgets.run_table import RunTable
        from ..widgets.system_monitor import SystemMonitor

        tops = self.query("#runs-top")
        if not (self.is_attached and tops and tops.first().is_attached):
            return  # the app closed before its second frame
        top = tops.first()
        header = self.query_one(RunTableHeader)
        table = RunTable(id="run-table")
        table.border_title = header.border_title
        table.display = False  # until it is ready to take the header's place in one frame
        await top.mount(table, SystemMonitor(self._sampler, id="system-monitor"), after=header)
        if not self.is_attached:
            return
        table.display = True
        await header.remove()
        self._table = table
        self.mount(RunDetail(id="run-detail"))
        if self._wanted is not None:
            table.select_run(self._wanted)
            self._wanted = None
        if is_shown(self) and not self.has_focus_within:
            self.screen.set_focus(table)  # now, not queued: the app takes the next key
        self.on_show()  # built while shown: no Show event follows
        self._feed.subscribe_runs(self)

    @property
    def run_store(self) -> RunStore:
        return self._feed.run_store

    def on_resize(self) -> None:
        mark_narrow(self)

    def on_show(self) -> None:
        """The run table takes the keys (and the footer shows its actions) unless a field here has them."""
        if not is_shown(self) or self._table is None:
            return  # the table takes the keys as soon as it is there
        if not self.has_focus_within:
            self._table.focus()
        self._show_runs()

    @property
    def selected(self) -> RunInfo | None:
        return self._table.selected_run if self._table is not None else None

    def poll(self) -> None:
        """Re-list the runs now (after an action), rather than at the next tick."""
        self._feed.refresh_runs()

    @work(thread=True, group="runs-tail", description="tail the selected run", exit_on_error=False)
    def tail(self) -> None:
        if not self._tail_lock.acquire(blocking=False):
            return  # the previous read is still going; the next refresh reads on
        try:
            follower = self._follower
            if follower is not None and self._detail_ready:
                output = follower.read_new()
                if output:
                    self.post_message(RunOutputArrived(follower.run_dir.name, output))
        finally:
            self._tail_lock.release()

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):  # a hidden pane reads nothing: it catches up when shown
            self._show_runs()

    def _show_runs(self) -> None:
        table = self._table
        if self._runs is None or table is None:
            return
        before = table.selected_run
        table.show_runs(self._runs)
        if table.selected_run != before:
            self._show_selected()
        self.tail()

    def on_run_output_arrived(self, message: RunOutputArrived) -> None:
        message.stop()
        if self._follower is not None and self._follower.run_dir.name == message.run_id and self._detail:
            self._detail.append(message.output)

    def on_run_detail_ready(self, message: RunDetail.Ready) -> None:
        message.stop()
        self._detail_ready = True
        self._show_selected()
        self.tail()

    @property
    def _detail(self) -> RunDetail | None:
        """The detail view, or None in the moment before its lazy mount."""
        if not self._detail_ready:
            return None
        return self.query_one("#run-detail")  # type: ignore[return-value]

    def on_run_table_selected(self, message: RunTable.Selected) -> None:
        self._follow()

    def _follow(self) -> None:
        from ...engine.runs.follow import RunFollower

        selected = self.selected
        with self._tail_lock:
            self._follower = RunFollower(selected.dir) if selected else None
        if self._detail:
            self._detail.clear()
        self._show_selected()
        self.tail()

    def on_data_table_row_selected(self, event) -> None:  # noqa: ANN001 - DataTable.RowSelected
        """Enter on a run whose stage has a pane of its own (export, compare) opens it there."""
        run = self.selected
        spec = find_stage(run.stage) if run is not None else None
        if run is not None and spec is not None and spec.view != "runs":
            event.stop()
            self.post_message(OpenRun(run.dir, run.stage))

    def on_job_started(self, message: JobStarted) -> None:
        """A job started from the TUI: select it (now, or once the next refresh lists it)."""
        message.stop()
        table = self._table
        if table is None:  # the pane was built for this job a moment ago: its table is on the way
            self._wanted = message.run_id
        else:
            table.select_run(message.run_id)
            table.focus()
        self.poll()

    def _show_selected(self) -> None:
        if self._detail:
            self._detail.show_run(self.selected)
        self.refresh_bindings()  # the footer shows the actions that apply to this run

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which run actions the footer shows: only those that apply to the selected run."""
        run = self.selected
        if run is None:
            return action not in ("stop_run", "kill_run", "remove_run", "resume_run", "overlay_run")
        alive = run.alive
        if action in ("stop_run", "kill_run"):
            return alive
        if action == "remove_run":
            return not alive
        if action == "resume_run":
            return not alive and run.stage in resumable_stages() and run.state in ("cancelled", "interrupted", "failed")
        if action == "overlay_run":
            return run is not None
        return True

    def action_stop_run(self) -> None:
        self._stop(force=False)

    def action_kill_run(self) -> None:
        self._stop(force=True)

    def _stop(self, *, force: bool) -> None:
        run = self.selected
        if run is None:
            return
        from ...engine.runs.launcher import stop_job

        stop_job(run, force=force)
        verb = "kill (SIGKILL) sent to" if force else "stop requested for"
        self.notify(f"{verb} {run.id}", title="Runs")
        self.poll()

    def action_resume_run(self) -> None:
        run = self.selected
        if run is None:
            return
        from ...engine.runs.launcher import resume_job

        resume_job(run)
        self.notify(f"resuming {run.id} from its last checkpoint", title="Runs")
        if self._table is not None:
            self._table.select_run(run.id)
        self._follow()

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
        from ...engine.runs.follow import RunFollower
        from ..metric_series import RunSeries

        series = RunSeries()
        series.add(m for m in RunFollower(run.dir).read_new().metrics if isinstance(m, dict))
        self.post_message(OverlayLoaded(run.id, series))

    def on_overlay_loaded(self, message: OverlayLoaded) -> None:
        message.stop()
        if self._overlay_id == message.run_id and self._detail:
            self._detail.set_overlay(message.series, message.run_id[-4:])  # type: ignore[arg-type]
            self.notify(f"{message.run_id} drawn in grey under the selected run's curves", title="Overlay")

    def action_remove_run(self) -> None:
        run = self.selected
        if run is None or run.alive:
            return

        def remove(confirmed: bool | None) -> None:
            if confirmed:
                self.run_store.remove(run.id)
                self.notify(f"removed {run.id}", title="Runs")
                self.poll()

        from .confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(f"Delete run {run.id} and all its files?\n{run.dir}", "Delete"), remove)
