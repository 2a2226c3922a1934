"""Messages that travel up from workers and widgets to the panes that react to them.

Plain classes with an ``__init__``, not dataclasses: this module is on the first frame's
import path, and a dataclass costs its module the generation of its methods at import
(about 0.2 ms each; bench/startup.py). A message is compared by identity, as Textual's are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # annotations only: this module is on the first frame's import path
    from ..engine.runs.store import RunInfo
    from ..engine.runs.follow import RunOutput
    from ..engine.system import SystemSample


class RunsRefreshed(Message, bubble=False):
    """The run list as the store has it now (newest first).

    The app's one ``RunsWatcher`` posts it to every widget that subscribed (``subscribe_runs``
    on the pane context's ``runs``); it does not bubble, so a pane's copy never travels back up
    to the app."""

    def __init__(self, runs: list[RunInfo]) -> None:
        self.runs = runs
        super().__init__()

    def can_replace(self, message: Message) -> bool:  # only the newest list matters
        return isinstance(message, RunsRefreshed)


class RunOutputArrived(Message):
    """Events, metrics and log lines a run appended since the last read."""

    def __init__(self, run_id: str, output: RunOutput) -> None:
        self.run_id = run_id
        self.output = output
        super().__init__()


class SystemSampled(Message):
    def __init__(self, sample: SystemSample) -> None:
        self.sample = sample
        super().__init__()

    def can_replace(self, message: Message) -> bool:  # only the newest sample matters
        return isinstance(message, SystemSampled)


class StartJob(Message):
    """Start this validated recipe as a job, then open it: the one way the TUI starts a job.

    Posted by whatever starts one (a pane's Launch, the command palette); WorkbenchScreen
    launches it, says so, and shows the run in the pane that follows runs of its stage. A
    launch the engine refuses (a ``WorkbenchError``, e.g. a preflight that says it will not
    fit) is one error notification, and the pane stays where it is. Thread-safe to post.

    ``force``: launch even when the preflight refuses (``start_recipe(force=True)``)."""

    def __init__(self, recipe: Any, title: str = "", force: bool = False) -> None:
        self.recipe = recipe
        self.title = title
        self.force = force
        super().__init__()


class JobStarted(Message, bubble=False):
    """A job was started from the TUI: posted to every pane that watches runs, after the pane
    that follows it was shown (the Runs pane selects it; Quantize follows a compare/export)."""

    def __init__(self, run_id: str, run_dir: Path, recipe: Any) -> None:
        self.run_id = run_id
        self.run_dir = run_dir
        self.recipe = recipe
        super().__init__()


class OverlayLoaded(Message):
    """Another run's curves, read for drawing under the selected run's."""

    def __init__(self, run_id: str, series: object) -> None:
        self.run_id = run_id
        self.series = series  # RunSeries (kept untyped here: the messages module stays import-light)
        super().__init__()


class EstimateReady(Message):
    """The memory-fit estimate for the recipe in the Train pane."""

    def __init__(self, lines: list[str], fits: bool | None) -> None:
        self.lines = lines
        self.fits = fits
        super().__init__()


class CompareUpdate(Message):
    """What a followed export/compare run appended, its state, and its report once it has one."""

    def __init__(self, generation: int, run_id: str | None, state: str, output: RunOutput | None,
                 report: object | None, report_error: str = "") -> None:
        self.generation = generation
        self.run_id = run_id
        self.state = state
        self.output = output
        self.report = report  # CompareReport (untyped: no compare imports here)
        self.report_error = report_error
        super().__init__()


class CompareRunsListed(Message):
    """The export and compare runs in the store, and the finished training runs, newest first."""

    def __init__(self, runs: list[RunInfo], trained: list[RunInfo]) -> None:
        self.runs = runs
        self.trained = trained
        super().__init__()


class OpenInChat(Message):
    """Load these models (side by side when several) in the Chat pane."""

    def __init__(self, specs: list[str]) -> None:
        self.specs = specs
        super().__init__()


class OpenRun(Message):
    """Show this run in the pane that views its stage (the stage registry's ``view``)."""

    def __init__(self, run_dir: object, stage: str) -> None:
        self.run_dir = run_dir  # Path
        self.stage = stage
        super().__init__()
