"""Messages the Data pane's thread workers post (thread-safe) to the pane.

Each carries the ``gen`` of the settings it was computed for; the pane drops a message
whose ``gen`` is older than its current one (the user changed the file or the format
while a worker was still reading). The engine types are only annotations here, so
importing this module loads no part of the dataset engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from ..engine.data import Issue, Preview, PrepareResult, RenderedSample, ValidationReport


@dataclass
class PreviewLoaded(Message):
    """The first rows (or the rows around ``focus_row``), the detected format, their issues."""

    gen: int
    preview: Preview
    focus_row: int | None = None


@dataclass
class DataFailed(Message):
    """A worker could not do its part; ``part`` is ``preview``, ``validate``, ``sample`` or ``stats``."""

    gen: int
    part: str
    message: str
    hint: str | None = None


@dataclass
class DataProgress(Message):
    """A long pass over the file moved on (merged: only the newest one matters)."""

    gen: int
    part: str
    phase: str
    done: float
    total: float | None
    unit: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataProgress) and (message.gen, message.part) == (self.gen, self.part)


@dataclass
class TokenizerChecked(Message):
    """Whether the model's tokenizer is usable; ``text`` says where it is or how to prepare it."""

    model: str
    ok: bool
    text: str


@dataclass
class ValidationDone(Message):
    gen: int
    report: ValidationReport
    note: str
    """What the checks covered (with or without a tokenizer)."""


@dataclass
class SampleRendered(Message):
    """One row as the trainer sees it; ``sample`` is None when the row cannot be used (``issues`` say why)."""

    gen: int
    row: int
    where: str
    train_on: str
    sample: RenderedSample | None
    issues: list[Issue]
    raw: str | None = None


@dataclass
class StatsMeasured(Message):
    """A dry run of prepare: token lengths, histogram, what cleaning drops, the split sizes."""

    gen: int
    result: PrepareResult


@dataclass
class PrepareRequested(Message):
    """The prepare job passed the pane's checks and was handed to the workbench to start."""

    output: str
