"""The main screen: one tab per lifecycle pane."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header

from ...engine.runs.store import RunStore
from ...engine.system import SystemSample
from ..widgets.pane_bar import PaneBar
from .chat_pane import ChatPane
from .data_pane import DataPane
from .planned_pane import PLANNED_STEPS, PlannedPane
from .runs_pane import RunsPane

PANES: tuple[tuple[str, str], ...] = (
    ("data", "Data"),
    ("train", "Train"),
    ("runs", "Runs"),
    ("distill", "Distill"),
    ("quantize", "Quantize"),
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
        yield PaneBar(PANES, self._initial_pane, id="pane-bar")
        with ContentSwitcher(initial=self._initial_pane, id="panes"):
            for pane_id, _title in PANES:
                pane = (
                    RunsPane(self.run_store, self._sampler, self._poll_interval, id=pane_id)
                    if pane_id == "runs"
                    else DataPane(self.run_store, id=pane_id)
                    if pane_id == "data"
                    else ChatPane(id=pane_id)
                    if pane_id == "chat"
                    else PlannedPane(PLANNED_STEPS[pane_id], id=pane_id)
                )
                # Hidden panes mount after the first frame (Textual's advice for tab panes).
                pane.display = pane_id == self._initial_pane
                yield pane if pane.display else Lazy(pane)
        yield Footer()

    def show_pane(self, pane_id: str) -> None:
        switcher = self.query_one("#panes", ContentSwitcher)
        if not switcher.query_children(f"#{pane_id}"):
            self.call_after_refresh(self.show_pane, pane_id)  # still behind its Lazy wrapper
            return
        switcher.current = pane_id
        self.query_one(PaneBar).active = pane_id
