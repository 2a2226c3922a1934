"""Messages that travel up from workers and widgets to the panes that react to them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..engine.runs.store import RunInfo
from ..engine.runs.watch import RunOutput
from ..engine.system import SystemSample


@dataclass
class RunsRefreshed(Message):
    """The run list as the store has it now (newest first)."""

    runs: list[RunInfo]


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
class JobStarted(Message):
    """A pane started a job; the Runs pane selects it."""

    run_id: str


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
class OpenComparison(Message):
    """Show this export/compare run in the Quantize & Compare pane."""

    run_dir: object  # Path
