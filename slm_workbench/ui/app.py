"""The workbench application: a thin composition of screens.

``make_app`` is the one factory used by the CLI, the tests and the benchmarks; it takes the
run store and the system sampler so tests can point them at fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..engine import system
from ..engine.errors import WorkbenchError
from ..engine.runs.store import RunStore
from ..engine.system import SystemSample
from ..shipped import styles_dir
from .messages import JobStarted
from .screens.workbench import PANES, WorkbenchScreen

STYLES = styles_dir() / "app.tcss"


class WorkbenchApp(App):
    TITLE = "SLM Workbench"
    SUB_TITLE = "small language models, raw data to deployment"
    CSS_PATH = STYLES
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("escape", "leave_field", "Leave field", show=False)] + [
        Binding(str(number), f"show_pane('{pane_id}')", title, show=False)
        for number, (pane_id, title) in enumerate(PANES, start=1)
    ]

    def __init__(
        self,
        *,
        run_store: RunStore | None = None,
        sampler: Callable[[], SystemSample] = system.sample,
        poll_interval: float = 0.5,
        initial_pane: str = "runs",
    ) -> None:
        super().__init__()
        self.run_store = run_store or RunStore()
        self._sampler = sampler
        self._poll_interval = poll_interval
        self._initial_pane = initial_pane

    def get_default_screen(self) -> Screen:
        return WorkbenchScreen(
            run_store=self.run_store, sampler=self._sampler, poll_interval=self._poll_interval,
            initial_pane=self._initial_pane,
        )

    def action_leave_field(self) -> None:
        """Escape leaves a text field, so the pane keys (1-7, q) work again."""
        self.screen.set_focus(None)

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

        self._start_job(PrepareModelRecipe(model=DEFAULT_MODEL), f"prepare {DEFAULT_MODEL}")

    def start_system_check(self) -> None:
        from ..config.recipes import SystemCheckRecipe

        self._start_job(SystemCheckRecipe(seconds=10, threads=1), "system check")

    def _start_job(self, recipe: object, title: str) -> None:
        from ..engine.runs.launcher import start_recipe

        run_dir = start_recipe(recipe, title=title, run_store=self.run_store)
        self.notify(f"started {run_dir.name}", title=title)
        self.action_show_pane("runs")
        for pane in self.screen.query("RunsPane"):
            pane.post_message(JobStarted(run_dir.name))

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


def make_app(**kwargs: object) -> WorkbenchApp:
    return WorkbenchApp(**kwargs)  # type: ignore[arg-type]
