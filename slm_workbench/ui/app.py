"""The workbench application: a thin composition of screens.

``make_app`` is the one factory used by the CLI, the tests and the benchmarks; it takes the
run store and the system sampler so tests can point them at fixtures.

The app owns the one ``RunsWatcher``: a timer re-lists the run store every ``poll_interval``
seconds in a thread worker and sends the list (``RunsRefreshed``) to every widget that
subscribed with ``subscribe_runs``; no pane polls the run list itself. Panes reach the watcher
and the run store through their ``PaneContext.runs`` (typed as ``RunsFeed``), never ``self.app``.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..engine.errors import WorkbenchError
from ..shipped import styles_dir
from .messages import RunsRefreshed, StartJob
from .screens.workbench import PANES, WorkbenchScreen

if TYPE_CHECKING:
    from ..engine.runs.store import RunInfo, RunStore
    from ..engine.system import SystemSample

STYLES = styles_dir() / "app.tcss"


class WorkbenchApp(App):
    TITLE = "SLM Workbench"
    SUB_TITLE = "small language models, raw data to deployment"
    CSS_PATH = STYLES
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("escape", "leave_field", "Leave field"),
                Binding("slash", "type_here", "Type")] + [
        Binding(str(number), f"show_pane('{pane_id}')", title, show=False)
        for number, (pane_id, title) in enumerate(PANES, start=1)
    ]

    def __init__(
        self,
        *,
        run_store: RunStore | None = None,
        sampler: Callable[[], SystemSample] | None = None,
        poll_interval: float = 0.5,
        initial_pane: str = "runs",
    ) -> None:
        super().__init__()
        self._run_store = run_store
        """None: the default store, opened on first use (the first frame needs none)."""
        self._sampler = sampler
        """None: ``engine.system.sample``, imported by the monitor after the first frame."""
        self._poll_interval = poll_interval
        self._initial_pane = initial_pane
        self.runs: list[RunInfo] | None = None
        """The newest run list (None before the first refresh)."""
        self._runs_watcher = None
        self._runs_lock = threading.Lock()
        self._runs_subscribers: weakref.WeakSet[DOMNode] = weakref.WeakSet()

    @property
    def run_store(self) -> RunStore:
        if self._run_store is None:
            from ..engine.runs.store import RunStore  # after the first frame

            self._run_store = RunStore()
        return self._run_store

    def on_mount(self) -> None:
        if self._initial_pane == "runs":  # the one pane built in the first frame (the others come after it)
            self.call_later(self._hold_until_settled)
        self.call_after_refresh(self.refresh_runs)
        self.set_interval(self._poll_interval, self.refresh_runs)

    async def _hold_until_settled(self) -> None:
        """Take no message (no key either) until the first frame is out and what the Runs pane
        mounts right after it is in place (its table, which takes the keys): a key pressed during
        startup reaches the widget it would have reached had the table been in the first frame.

        A screen runs its after-refresh callbacks in order, awaiting each: two rounds of them are
        over only once every callback a pane asked for around the first frame has finished."""
        with suppress(asyncio.TimeoutError):  # never hold the app for long, whatever the screen does
            for _ in range(2):
                await asyncio.wait_for(self.screen.wait_for_refresh(), timeout=2)

    def subscribe_runs(self, node: DOMNode) -> None:
        """Send ``node`` a ``RunsRefreshed`` on every refresh, starting with the newest list."""
        self._runs_subscribers.add(node)
        if self.runs is not None:
            node.post_message(RunsRefreshed(self.runs))

    @work(thread=True, group="runs-watch", description="list the runs", exit_on_error=False)
    def refresh_runs(self) -> None:
        """Re-list the run store now (off the UI thread); a refresh already under way makes this one a no-op."""
        if not self._runs_lock.acquire(blocking=False):
            return
        try:
            if self._runs_watcher is None:
                from ..engine.runs.follow import RunsWatcher  # after the first frame

                self._runs_watcher = RunsWatcher(self.run_store)
            self.post_message(RunsRefreshed(self._runs_watcher.refresh()))
        finally:
            self._runs_lock.release()

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        self.runs = message.runs
        for node in list(self._runs_subscribers):
            if node.is_attached:
                node.post_message(RunsRefreshed(message.runs))

    def get_default_screen(self) -> Screen:
        return WorkbenchScreen(
            runs=self, sampler=self._sampler, poll_interval=self._poll_interval,
            initial_pane=self._initial_pane,
        )

    def action_leave_field(self) -> None:
        """Escape leaves a text field, so the pane keys (the numbers, q) work again."""
        self.screen.set_focus(None)

    def action_type_here(self) -> None:
        """``/`` puts the cursor in the shown pane's main text field (a pane never takes the keys
        from the pane keys by itself: switching to it leaves the focus out of its fields)."""
        field = self._field_to_type()
        if field is not None:
            field.focus()

    def _field_to_type(self):  # noqa: ANN202 - a Widget, or None
        screen = self.screen
        if not isinstance(screen, WorkbenchScreen):
            return None
        pane = screen.current_pane()
        if pane is None:
            return None
        chosen = getattr(pane, "field_to_type", None)
        if chosen is not None:
            return chosen()
        return next((w for w in pane.query("*") if is_text_input(w) and w.focusable and w.display), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":  # shown in the footer only where it does something
            return is_text_input(self.focused)
        if action == "type_here":
            return not is_text_input(self.focused) and self._field_to_type() is not None
        return True

    def action_show_pane(self, pane_id: str) -> None:
        screen = self.screen
        if isinstance(screen, WorkbenchScreen):
            screen.show_pane(pane_id)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for pane_id, title in PANES:
            yield SystemCommand(f"Go to {title}", f"Show the {title} pane", lambda p=pane_id: self.action_show_pane(p))
        yield SystemCommand(
            "Prepare the built-in model", "Convert SmolLM2-135M-Instruct from its GGUF (a job)", self.start_prepare_model
        )
        yield SystemCommand(
            "Run a system check", "Measure matmul throughput on the CPU or GPU for 10 s (a job)", self.start_system_check
        )

    def start_prepare_model(self) -> None:
        from ..config.recipes import PrepareModelRecipe
        from ..engine.models.builtin import DEFAULT_MODEL

        self._workbench().post_message(StartJob(PrepareModelRecipe(model=DEFAULT_MODEL), f"prepare {DEFAULT_MODEL}"))

    def start_system_check(self) -> None:
        from ..config.recipes import SystemCheckRecipe

        self._workbench().post_message(StartJob(SystemCheckRecipe(seconds=10, threads=1), "system check"))

    def _workbench(self) -> WorkbenchScreen:
        return next(s for s in reversed(self.screen_stack) if isinstance(s, WorkbenchScreen))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures are reported."""
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        if isinstance(error, WorkbenchError):
            self.notify(str(error), title="Error", severity="error", timeout=10)
        else:
            self.notify(f"{type(error).__name__}: {error}", title=f"{event.worker.description} failed", severity="error", timeout=10)
            self.log.error(error)


def is_text_input(widget: object) -> bool:
    """Whether ``widget`` takes printable keys (where the pane keys type instead). By class name:
    importing TextArea only to test for it would cost the first frame a module."""
    return any(cls.__name__ in ("Input", "TextArea") and cls.__module__.startswith("textual.")
               for cls in type(widget).__mro__)


def make_app(**kwargs: object) -> WorkbenchApp:
    return WorkbenchApp(**kwargs)  # type: ignore[arg-type]
