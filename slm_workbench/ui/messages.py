"""Messages that travel up from workers and widgets to the panes that react to them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # annotations only: this module is on the first frame's import path
    from ..engine.runs.store import RunInfo
    from ..engine.runs.follow import RunOutput
    from ..engine.system import SystemSample


@dataclass
class RunsRefreshed(Message, bubble=False):
    """The run list as the store has it now (newest first).

    The app's one ``RunsWatcher`` posts it to every widget that subscribed (``app.watch_runs``);
    it does not bubble, so a pane's copy never travels back up to the app."""

    runs: list[RunInfo]

    def can_replace(self, message: Message) -> bool:  # only the newest list matters
        return isinstance(message, RunsRefreshed)


@dataclass
class RunOutputArrived(Message):
    """Events, metrics and log lines a run appended since the last read."""

    run_id: str
    output: RunOutput


@dataclass
class SystemSampled(Message):
    sample: SystemSample

    def can_replace(self, message: Message) -> bool:  # only the newest sample matters
        return isinstance(message, SystemSampled)


@dataclass
class StartJob(Message):
    """Start this validated recipe as a job, then open it: the one way the TUI starts a job.

    Posted by whatever starts one (a pane's Launch, the command palette); WorkbenchScreen
    launches it, says so, and shows the run in the pane that follows runs of its stage. A
    launch the engine refuses (a ``WorkbenchError``, e.g. a preflight that says it will not
    fit) is one error notification, and the pane stays where it is. Thread-safe to post."""

    recipe: Any
    title: str = ""
    force: bool = False
    """Launch even when the preflight refuses (``start_recipe(force=True)``)."""


@dataclass
class JobStarted(Message, bubble=False):
    """A job was started from the TUI: posted to every pane that watches runs, after the pane
    that follows it was shown (the Runs pane selects it; Quantize follows a compare/export)."""

    run_id: str
    run_dir: Path
    recipe: Any


@dataclass
class OverlayLoaded(Message):
    """Another run's curves, read for drawing under the selected run's."""

    run_id: str
    series: object  # RunSeries (kept untyped here: the messages module stays import-light)


@dataclass
class EstimateReady(Message):
    """The memory-fit estimate for the recipe in the Train pane."""

    lines: list[str]
    fits: bool | None


@dataclass
class CompareUpdate(Message):
    """What a followed export/compare run appended, its state, and its report once it has one."""

    generation: int
    run_id: str | None
    state: str
    output: RunOutput | None
    report: object | None  # CompareReport (untyped: no compare imports here)
    report_error: str = ""


@dataclass
class CompareRunsListed(Message):
    """The export and compare runs in the store, and the finished training runs, newest first."""

    runs: list[RunInfo]
    trained: list[RunInfo]


@dataclass
class OpenInChat(Message):
    """Load these models (side by side when several) in the Chat pane."""

    specs: list[str]


@dataclass
class OpenRun(Message):
    """Show this run in the pane that views its stage (the stage registry's ``view``)."""

    run_dir: object  # Path
    stage: str
