"""Where an ``export`` or ``compare`` job stands, variant by variant, from its run files.

A view (the Quantize & Compare pane) feeds what ``RunFollower.read_new()`` returns into
``CompareProgress`` and gets one ``VariantState`` per variant: what the job is doing to it
now (building, measuring, ...), how far, and the numbers measured so far (``metrics.jsonl``
gets a row per variant as soon as it is built or measured), long before ``report.json``
exists. Re-attaching replays the files from the start, so the same fold rebuilds the view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import Error, Event, Finished, Progress, Warning

NUMBERS = ("size_mb", "build_s", "load_s", "peak_rss_mb", "ttft_s", "decode_tok_s", "perplexity")
BROKEN = " is broken: "


def variant_phase(variant: str, position: int, of: int, message: str) -> str:
    """The phase a job reports about one variant: ``int8 (2/4): measuring perplexity``."""
    return f"{variant} ({position}/{of}): {message}"


def broken_warning(variant: str, reason: str) -> str:
    """The warning a compare job gives for a variant judged broken."""
    return f"{variant}{BROKEN}{reason}"


@dataclass
class VariantState:
    name: str
    activity: str = "waiting"
    """What the job last said about this variant ("reading layer 12", "perplexity", "measured")."""
    fraction: float | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    broken_reason: str = ""
    """Set when the job judged it broken (its warning "NAME is broken: REASON")."""

    @property
    def measured(self) -> bool:
        return "perplexity" in self.numbers or "decode_tok_s" in self.numbers


@dataclass
class CompareProgress:
    order: list[str] = field(default_factory=list)
    """Variants in the order the job works through them (the reference first when measured)."""
    variants: dict[str, VariantState] = field(default_factory=dict)
    current: str = ""
    """The variant the job is on now ("" before the first and after the last)."""
    overall: str = ""
    """The job's latest word that is not about one variant (merging an adapter, tokenizing ...)."""
    finished: str = ""
    """The outcome once the job ended: done, failed or cancelled."""
    error: str = ""

    def expect(self, names: Iterable[str]) -> None:
        for name in names:
            self.variant(name)

    def variant(self, name: str) -> VariantState:
        if name not in self.variants:
            self.variants[name] = VariantState(name)
            self.order.append(name)
        return self.variants[name]

    def feed(self, events: Iterable[Event | Any] = (), metrics: Iterable[dict[str, Any] | Any] = ()) -> bool:
        """Fold new events and metric rows in; True when anything a view shows changed."""
        changed = False
        for event in events:
            changed = self._event(event) or changed
        for row in metrics:
            if isinstance(row, dict) and isinstance(row.get("variant"), str):
                state = self.variant(row["variant"])
                state.numbers.update({k: float(row[k]) for k in NUMBERS if isinstance(row.get(k), (int, float))})
                state.activity = "measured" if state.measured else "built"
                state.fraction = 1.0
                changed = True
        return changed

    def _event(self, event: Event | Any) -> bool:
        if isinstance(event, Progress):
            if not event.item:
                self.overall = event.phase
                return True
            if self.current and self.current != event.item and self.current in self.variants:
                previous = self.variants[self.current]
                if previous.activity not in ("measured", "built") and previous.fraction != 1.0:
                    previous.activity, previous.fraction = "waiting", None  # rounds come back to it
            self.current = event.item
            state = self.variant(event.item)
            state.activity = event.phase.split(": ", 1)[1] if ": " in event.phase else event.phase  # variant_phase
            state.fraction = event.fraction
            return True
        if isinstance(event, Warning):
            name, broken, reason = event.message.partition(BROKEN)  # broken_warning
            if broken and name in self.variants:
                self.variants[name].broken_reason = reason
                return True
            return False
        if isinstance(event, Error):
            self.error = event.message + (f" ({event.hint})" if event.hint else "")
            return True
        if isinstance(event, Finished):
            self.finished, self.current = event.outcome, ""
            if event.outcome != "done" and event.message:
                self.error = self.error or event.message
            return True
        return False
