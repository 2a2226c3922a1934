"""Typed job events and their JSON-line codec.

A job appends one JSON object per line to ``events.jsonl``; every view (TUI, CLI, tests)
reads the same lines back into these dataclasses. The codec is deliberately plain
(dataclasses + json, no pydantic) because the TUI decodes events on its startup path.

A line that cannot be decoded never breaks a reader: it becomes a ``CorruptLine`` that
names the file and the line number, and the reader carries on.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, get_args

Outcome = Literal["done", "failed", "cancelled"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def summary(self) -> str:
        return self.kind

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, **asdict(self)}, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Started(Event):
    kind: ClassVar[str] = "started"
    stage: str
    pid: int
    host: str

    def summary(self) -> str:
        return f"started {self.stage} (pid {self.pid} on {self.host})"


@dataclass(frozen=True)
class Progress(Event):
    """How far a phase of the job has come; ``total`` is None when unknown."""

    kind: ClassVar[str] = "progress"
    phase: str
    done: float = 0
    total: float | None = None
    unit: str = ""
    message: str = ""
    item: str = ""
    """What the progress is about when a job works through several things (a variant name)."""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    def summary(self) -> str:
        amount = f"{self.done:g}/{self.total:g} {self.unit}".strip() if self.total else ""
        return " ".join(part for part in (self.phase, amount, self.message) if part)


@dataclass(frozen=True)
class Checkpoint(Event):
    kind: ClassVar[str] = "checkpoint"
    path: str
    step: int | None = None

    def summary(self) -> str:
        return f"checkpoint {self.path}" + (f" at step {self.step}" if self.step is not None else "")


@dataclass(frozen=True)
class Artifact(Event):
    kind: ClassVar[str] = "artifact"
    name: str
    path: str
    description: str = ""

    def summary(self) -> str:
        return f"artifact {self.name}: {self.path}"


@dataclass(frozen=True)
class Warning(Event):  # noqa: A001 - the event's name in the contract
    kind: ClassVar[str] = "warning"
    message: str

    def summary(self) -> str:
        return f"warning: {self.message}"


@dataclass(frozen=True)
class Error(Event):
    kind: ClassVar[str] = "error"
    message: str
    hint: str | None = None

    def summary(self) -> str:
        return f"error: {self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class Finished(Event):
    kind: ClassVar[str] = "finished"
    outcome: Outcome
    message: str = ""

    def summary(self) -> str:
        return f"finished: {self.outcome}" + (f" - {self.message}" if self.message else "")


@dataclass(frozen=True)
class CorruptLine:
    """A line of a JSONL file that could not be decoded (kept, never raised)."""

    path: str
    line_no: int
    reason: str
    kind: ClassVar[str] = "corrupt"

    def summary(self) -> str:
        return f"unreadable line {self.line_no} of {self.path}: {self.reason}"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Started, Progress, Checkpoint, Artifact, Warning, Error, Finished)
}


def decode_event(line: str, *, path: str = "events.jsonl", line_no: int = 0) -> Event | CorruptLine:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return CorruptLine(path, line_no, f"not JSON ({exc.msg})")
    if not isinstance(raw, dict):
        return CorruptLine(path, line_no, "not a JSON object")
    kind = raw.pop("kind", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return CorruptLine(path, line_no, "unknown event kind")
    known = {f.name for f in fields(cls)}
    try:
        event = cls(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        return CorruptLine(path, line_no, f"bad fields ({exc})")
    # Views format the time and derive a run's state from the outcome: check those two.
    if isinstance(event.time, bool) or not isinstance(event.time, (int, float)):
        return CorruptLine(path, line_no, f"bad time {event.time!r}")
    if isinstance(event, Finished) and event.outcome not in OUTCOMES:
        return CorruptLine(path, line_no, f"unknown outcome {event.outcome!r}")
    return event


def decode_metrics(line: str, *, path: str = "metrics.jsonl", line_no: int = 0) -> dict[str, Any] | CorruptLine:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return CorruptLine(path, line_no, f"not JSON ({exc.msg})")
    if not isinstance(raw, dict):
        return CorruptLine(path, line_no, "not a JSON object")
    return raw
