"""The main screen: one tab per lifecycle pane."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from ...engine.runs.store import RunStore
from ...engine.system import SystemSample
from .planned_pane import PLANNED_STEPS, PlannedPane
from .runs_pane import RunsPane

PANES: tuple[tuple[str, str], ...] = (
    ("data", "Data"),
    ("train", "Train"),
    ("runs", "Runs"),
    ("distill", "Distill"),
    ("quantize", "Quantize & Compare"),
    ("chat", "Chat"),
    ("deploy", "Deploy"),
)


class WorkbenchScreen(Screen):
    def __init__(
        self, *, run_store: RunStore, sampler: Callable[[], SystemSample], poll_interval: float, initial_pane: str
    ) -> None:
        super().__init__()
        self.run_store = run_store
        self._sampler = sampler
        self._poll_interval = poll_interval
        self._initial_pane = initial_pane

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with TabbedContent(initial=self._initial_pane, id="panes"):
            for pane_id, title in PANES:
                with TabPane(f"{PANES.index((pane_id, title)) + 1} {title}", id=pane_id):
                    if pane_id == "runs":
                        yield RunsPane(self.run_store, self._sampler, self._poll_interval, id="runs-pane")
                    else:
                        yield PlannedPane(PLANNED_STEPS[pane_id])
        yield Footer()

    def show_pane(self, pane_id: str) -> None:
        self.query_one("#panes", TabbedContent).active = pane_id
