"""What every pane is built with: the runs feed (the run store and its watcher), the system sampler, the poll interval.

One constructor signature for every pane (``Pane(context, **widget_kwargs)``) lets the
workbench screen build any pane from its table without knowing what it needs. What a pane
needs from the app goes through here, typed (``RunsFeed``), not through ``self.app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from ..engine.runs.store import RunInfo, RunStore
    from ..engine.system import SystemSample


class RunsFeed(Protocol):
    """The run store and the app's one runs watcher, as a pane sees them (``WorkbenchApp`` is the one
    implementation)."""

    @property
    def run_store(self) -> RunStore:
        """The run store (opened on first use: the first frame needs none)."""

    runs: list[RunInfo] | None
    """The newest run list, newest run first (None before the first refresh)."""

    def subscribe_runs(self, node: DOMNode) -> None:
        """Send ``node`` a ``RunsRefreshed`` on every refresh, starting with the newest list."""

    def refresh_runs(self) -> object:
        """Re-list the run store now, rather than at the next tick (the list arrives as ``RunsRefreshed``)."""


class PaneContext:
    """Handed to every pane's constructor (a plain class: this module is on the first frame's import path)."""

    __slots__ = ("runs", "sampler", "poll_interval")

    def __init__(self, runs: RunsFeed, sampler: Callable[[], SystemSample] | None = None, poll_interval: float = 1.0) -> None:
        self.runs = runs
        """The runs watcher: subscribe to its list, ask it for a refresh."""
        self.sampler = sampler
        """Samples CPU/RAM/GPU for the system monitor (None: the real one)."""
        self.poll_interval = poll_interval

    @property
    def run_store(self) -> RunStore:
        return self.runs.run_store
