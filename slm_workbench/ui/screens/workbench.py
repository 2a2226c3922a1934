"""The main screen: one pane per lifecycle step, switched with the number keys or the pane bar.

Only the initial pane is in the first frame. Every other pane gets its ``DeferredPane`` when
first shown: a slot in the switcher that imports and mounts its pane then, so the TUI's
startup pays neither for those widgets nor for their modules (bench/startup.py), and
nothing is built behind the user's back while they work in another pane.

Every job the TUI starts arrives here as a ``StartJob`` message: the screen launches it in a
thread worker, says so, and shows the run in the pane that follows runs of its stage (a refusal
is one error notification, and the user stays where they were).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widget import AwaitMount, Widget
from textual.widgets import ContentSwitcher, Footer, Header

from ...engine.errors import WorkbenchError
from ...engine.stages import find_stage
from ..messages import JobStarted, OpenInChat, OpenRun, StartJob
from ..pane_context import PaneContext, RunsFeed
from ..visibility import is_shown
from ..widgets.pane_bar import PaneBar

if TYPE_CHECKING:
    from ...engine.runs.store import RunStore
    from ...engine.system import SystemSample

PANE_IDS: tuple[str, ...] = ("data", "train", "sweep", "runs", "eval", "distill", "quantize", "chat", "deploy")
"""The panes in the pane bar's order (keys 1 to 9). Which stage's runs each opens is the stage
registry's (``StageSpec.view``), not this table's."""
PANES: tuple[tuple[str, str], ...] = tuple((pane_id, pane_id.capitalize()) for pane_id in PANE_IDS)
"""(id, title) of every pane: its title is its id, capitalised."""


def pane_class(pane_id: str) -> str:
    """``module:Class`` of a pane: pane ``x`` is ``XPane`` in ``screens/x_pane.py``."""
    return f"{__package__}.{pane_id}_pane:{pane_id.capitalize()}Pane"


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


def pane_for_stage(stage: str) -> str:
    """The pane that shows a run of ``stage`` (the stage registry's ``view``)."""
    spec = find_stage(stage)
    return spec.view if spec is not None else "runs"


class WorkbenchScreen(Screen):
    @dataclass
    class Launched(Message):
        """The job's worker is started; show it (UI thread)."""

        run_dir: Path
        recipe: Any
        title: str

    def __init__(
        self, *, runs: RunsFeed, sampler: Callable[[], SystemSample] | None, poll_interval: float, initial_pane: str
    ) -> None:
        super().__init__()
        self.context = PaneContext(runs, sampler, poll_interval)
        self._initial_pane = initial_pane

    @property
    def run_store(self) -> RunStore:
        return self.context.run_store

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield PaneBar(PANES, self._initial_pane, id="pane-bar")
        with ContentSwitcher(initial=self._initial_pane, id="panes"):
            if self._initial_pane == "runs":
                yield self.build_pane("runs", id="runs")
            else:
                yield self._deferred(self._initial_pane)
        yield Footer()

    def _deferred(self, pane_id: str) -> DeferredPane:
        """The slot for ``pane_id``, built when first shown (the switcher gets it then too)."""
        return DeferredPane(lambda: self.build_pane(pane_id, id=f"{pane_id}-pane"), id=pane_id)

    def build_pane(self, pane_id: str, **kwargs) -> Widget:
        module, _, name = pane_class(pane_id).partition(":")
        return getattr(importlib.import_module(module), name)(self.context, **kwargs)

    def show_pane(self, pane_id: str) -> None:
        switcher = self.query_one("#panes", ContentSwitcher)
        if not switcher.query_children(f"#{pane_id}"):
            switcher.mount(self._deferred(pane_id))
        switcher.current = pane_id
        self.query_one(PaneBar).active = pane_id
        focused = self.focused
        if focused is not None and not is_shown(focused):
            self.set_focus(None)  # hidden with its pane: nothing must keep the keys from the pane keys

    def current_pane(self) -> Widget | None:
        """The pane on screen now (None while its slot is still empty)."""
        holder = self.query_one("#panes", ContentSwitcher).visible_content
        if holder is None or not isinstance(holder, DeferredPane):
            return holder
        built = holder.query(f"#{holder.id}-pane")
        return built.first() if built else None

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

    # -- starting jobs: the one place -----------------------------------------------------------
    def on_start_job(self, message: StartJob) -> None:
        message.stop()
        self._start_job(message.recipe, message.title, message.force)

    @work(thread=True, group="start-job", description="start a job", exit_on_error=False)
    def _start_job(self, recipe: Any, title: str, force: bool) -> None:
        from ...engine.runs.launcher import start_recipe

        try:
            run_dir = start_recipe(recipe, title=title, run_store=self.run_store, force=force)
        except WorkbenchError as exc:  # refused (a preflight, a full disk): say why, stay here
            self.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""), title=f"Cannot start {title or recipe.stage}",
                        severity="error", timeout=15)
            return
        self.post_message(self.Launched(run_dir, recipe, title))

    async def on_workbench_screen_launched(self, message: Launched) -> None:
        message.stop()
        self.notify(f"started {message.run_dir.name}", title=message.title or message.recipe.stage)
        self.context.runs.refresh_runs()
        pane = await self.open_pane(pane_for_stage(message.recipe.stage))
        pane.post_message(JobStarted(message.run_dir.name, message.run_dir, message.recipe))

    async def on_open_in_chat(self, message: OpenInChat) -> None:
        """A pane asked for models in the Chat pane: show it and load them."""
        message.stop()
        chat = await self.open_pane("chat")
        text = " ".join(message.specs)
        chat.query_one("#chat-models").value = text
        chat.load_models(text)

    async def on_open_run(self, message: OpenRun) -> None:
        """Show a run in the pane that views its stage (``enter`` in the Runs pane)."""
        message.stop()
        pane = await self.open_pane(pane_for_stage(message.stage))
        pane.open_run(message.run_dir)
