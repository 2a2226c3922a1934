"""The main screen: one pane per lifecycle step, switched with 1-7 or the pane bar.

Only the initial pane is built for the first frame. Every other pane is a ``DeferredPane``:
an empty container that imports and mounts its pane when it is first shown, so the TUI's
startup pays neither for those widgets nor for their modules (bench/startup.py), and
nothing is built behind the user's back while they work in another pane.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widget import AwaitMount, Widget
from textual.widgets import ContentSwitcher, Footer, Header

from ...engine.runs.store import RunStore
from ...engine.system import SystemSample
from ..messages import OpenComparison, OpenInChat
from ..widgets.pane_bar import PaneBar

PANES: tuple[tuple[str, str], ...] = (
    ("data", "Data"),
    ("train", "Train"),
    ("runs", "Runs"),
    ("distill", "Distill"),
    ("quantize", "Quantize"),
    ("chat", "Chat"),
    ("deploy", "Deploy"),
)


PANE_CLASSES: dict[str, str] = {
    "data": "slm_workbench.ui.screens.data_pane:DataPane",
    "train": "slm_workbench.ui.screens.train_pane:TrainPane",
    "runs": "slm_workbench.ui.screens.runs_pane:RunsPane",
    "chat": "slm_workbench.ui.screens.chat_pane:ChatPane",
    "quantize": "slm_workbench.ui.screens.quantize_pane:QuantizePane",
}
"""Built panes; the others show a PlannedPane (what the step will do, what does it today)."""


class DeferredPane(Container):
    """Stands in for a pane until it is first shown (nothing is built in the background)."""

    DEFAULT_CSS = "DeferredPane { height: 1fr; }"

    def __init__(self, build: Callable[[], Widget], **kwargs) -> None:
        super().__init__(**kwargs)
        self._build = build
        self._built = False

    def on_show(self) -> None:
        self.build()

    def build(self) -> AwaitMount | None:
        if self._built:
            return None
        self._built = True
        return self.mount(self._build())


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
                if pane_id == self._initial_pane == "runs":
                    yield self.build_pane("runs", id="runs")
                else:  # built when first shown
                    yield DeferredPane(lambda p=pane_id: self.build_pane(p, id=f"{p}-pane"), id=pane_id)
        yield Footer()

    def build_pane(self, pane_id: str, **kwargs) -> Widget:
        target = PANE_CLASSES.get(pane_id)
        if target is None:
            from .planned_pane import PLANNED_STEPS, PlannedPane

            return PlannedPane(PLANNED_STEPS[pane_id], **kwargs)
        module, _, name = target.partition(":")
        cls = getattr(importlib.import_module(module), name)
        if pane_id == "runs":
            return cls(self.run_store, self._sampler, self._poll_interval, **kwargs)
        if pane_id == "data":
            return cls(self.run_store, **kwargs)
        if pane_id == "quantize":
            return cls(self.run_store, self._poll_interval, **kwargs)
        return cls(**kwargs)

    def show_pane(self, pane_id: str) -> None:
        self.query_one("#panes", ContentSwitcher).current = pane_id
        self.query_one(PaneBar).active = pane_id

    async def open_pane(self, pane_id: str) -> Widget:
        """Show ``pane_id`` and return the pane itself, built now if it was still deferred."""
        self.show_pane(pane_id)
        holder = self.query_one(f"#{pane_id}")
        if not isinstance(holder, DeferredPane):
            return holder  # the initial pane, built in place
        mounting = holder.build()
        if mounting is not None:
            await mounting
        return holder.query_one(f"#{pane_id}-pane")

    async def on_open_in_chat(self, message: OpenInChat) -> None:
        """A pane asked for models in the Chat pane: show it and load them."""
        message.stop()
        chat = await self.open_pane("chat")
        text = " ".join(message.specs)
        chat.query_one("#chat-models").value = text
        chat.load_models(text)

    async def on_open_comparison(self, message: OpenComparison) -> None:
        message.stop()
        pane = await self.open_pane("quantize")
        pane.follow(message.run_dir)
