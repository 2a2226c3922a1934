"""Typed job events and their JSON-line codec.

A job appends one JSON object per line to ``events.jsonl``; every view (TUI, CLI, tests)
reads the same lines back into these dataclasses. The codec is deliberately plain
(dataclasses + json, no pydantic) because the TUI decodes events on its startup path.

A line that cannot be decoded never breaks a reader: it becomes a ``CorruptLine`` that
names the file and the line number, and the reader carries on.
"""

from __future__ import annotations

import json
import re
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
    """How far the job has come, as fields a view reads (never parses).

    ``phase`` says what is being done ("building", "perplexity"); ``done``/``total``/``unit`` how far
    within it (``total`` None when unknown). A job that works through several items (the variants of
    an export) names the one concerned in ``item`` and places it with ``item_index`` of ``item_count``
    (from 1). ``summary()`` is for reading by eye (``slmw runs logs``).
    """

    kind: ClassVar[str] = "progress"
    phase: str
    done: float = 0
    total: float | None = None
    unit: str = ""
    message: str = ""
    item: str = ""
    item_index: int | None = None
    item_count: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    def summary(self) -> str:
        amount = f"{self.done:g}/{self.total:g} {self.unit}".strip() if self.total else ""
        text = " ".join(part for part in (self.phase, amount, self.message) if part)
        if not self.item:
            return text
        position = f" ({self.item_index}/{self.item_count})" if self.item_index and self.item_count else ""
        return f"{self.item}{position}: {text}"


BUILT, MEASURED, NOT_MEASURED, BROKEN = "built", "measured", "not measured", "broken"
"""The states a job gives its items (``ItemState.state``); a reader shows any other as it is."""


@dataclass(frozen=True)
class ItemState(Event):
    """Where one item of a job (a variant) stands: a verdict as data ("built", "measured", "broken").

    ``finished`` says the job has nothing more to do with the item (a built variant is finished in an
    export job, not in a comparison that has still to measure it); ``detail`` says why or how
    ("perplexity 212x the reference" for a broken one, "already built").
    """

    kind: ClassVar[str] = "item"
    item: str
    state: str
    finished: bool = False
    detail: str = ""

    def summary(self) -> str:
        return f"{self.item}: {self.state}" + (f" ({self.detail})" if self.detail else "")

    @property
    def broken(self) -> bool:
        return self.state == BROKEN


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
    cls.kind: cls for cls in (Started, Progress, ItemState, Checkpoint, Artifact, Warning, Error, Finished)
}


def decode_event(line: str, *, path: str = "", line_no: int = 0) -> Event | CorruptLine:
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
    if cls is Progress:
        raw = _upgrade_progress(raw)
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


_OLD_ITEM_PHASE = re.compile(r"^(?P<item>.+) \((?P<index>\d+)/(?P<count>\d+)\): (?P<phase>.*)$", re.DOTALL)


def _upgrade_progress(raw: dict[str, Any]) -> dict[str, Any]:
    """Lines written before ``item_index``/``item_count`` existed carried the position in the phase
    (``"int8 (2/4): perplexity"`` with item ``int8``): read those into the fields, once, here."""
    item, phase = raw.get("item"), raw.get("phase")
    if "item_index" in raw or not (isinstance(item, str) and item and isinstance(phase, str)):
        return raw
    match = _OLD_ITEM_PHASE.match(phase)
    if match is None or match["item"] != item:
        return raw
    return {**raw, "phase": match["phase"], "item_index": int(match["index"]), "item_count": int(match["count"])}


def decode_metrics(line: str, *, path: str = "", line_no: int = 0) -> dict[str, Any] | CorruptLine:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return CorruptLine(path, line_no, f"not JSON ({exc.msg})")
    if not isinstance(raw, dict):
        return CorruptLine(path, line_no, "not a JSON object")
    return raw
