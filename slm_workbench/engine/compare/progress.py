"""Where an ``export`` or ``compare`` job stands, variant by variant, from its run files.

A view (the Quantize & Compare pane) feeds what ``RunFollower.read_new()`` returns into
``CompareProgress`` and gets one ``VariantState`` per variant: what the job is doing to it
now (its ``Progress`` phase, position and fraction), where it stands (the job's ``ItemState``
verdicts: built, measured, broken) and the numbers measured so far (``metrics.jsonl`` gets
a row per variant as soon as it is built or measured), long before ``report.json`` exists.
Everything is read from event fields; no text the engine formatted is parsed back.
Re-attaching replays the files from the start, so the same fold rebuilds the view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import BROKEN, BUILT, MEASURED, Error, Event, Finished, ItemState, Progress

NUMBERS = ("size_mb", "build_s", "load_s", "peak_rss_mb", "model_rss_mb", "ttft_s", "decode_tok_s", "perplexity")
WAITING = "waiting"


@dataclass
class VariantState:
    name: str
    state: str = WAITING
    """Where it stands: waiting, or the job's last verdict on it (built, measured, not measured, broken)."""
    finished: bool = False
    """The job has nothing more to do with it (built in an export job; measured or broken in a comparison)."""
    detail: str = ""
    """What the job said with its verdict (why it is broken, "already built")."""
    phase: str = ""
    """What the job is doing to it now ("" unless it is the variant the job is on)."""
    fraction: float | None = None
    """How far that phase has come."""
    position: tuple[int, int] | None = None
    """(k, n): the job's k-th of n variants, as the job last placed it."""
    numbers: dict[str, float] = field(default_factory=dict)

    @property
    def activity(self) -> str:
        """The word a view shows: the phase while the job works on it, else where it stands."""
        return self.phase or self.state

    @property
    def broken(self) -> bool:
        return self.state == BROKEN

    @property
    def broken_reason(self) -> str:
        return self.detail if self.broken else ""

    @property
    def measured(self) -> bool:
        return "perplexity" in self.numbers or "decode_tok_s" in self.numbers

    @property
    def built(self) -> bool:
        """Its files exist (chat can open it): built, or measured, which needs it built."""
        return self.state in (BUILT, MEASURED) or self.measured


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

    @property
    def finished_count(self) -> int:
        """Variants the job is done with (what a progress bar counts)."""
        return sum(1 for v in self.variants.values() if v.finished)

    def feed(self, events: Iterable[Event | Any] = (), metrics: Iterable[dict[str, Any] | Any] = ()) -> bool:
        """Fold new events and metric rows in; True when anything a view shows changed."""
        changed = False
        for event in events:
            changed = self._event(event) or changed
        for row in metrics:
            if isinstance(row, dict) and isinstance(row.get("variant"), str):
                state = self.variant(row["variant"])
                state.numbers.update({k: float(row[k]) for k in NUMBERS if isinstance(row.get(k), (int, float))})
                if state.state == WAITING:  # runs written before ItemState events: the numbers say it
                    state.state = MEASURED if state.measured else BUILT
                changed = True
        return changed

    def _event(self, event: Event | Any) -> bool:
        if isinstance(event, Progress):
            if not event.item:
                self.overall = event.phase
                return True
            self._leave_current(event.item)
            self.current = event.item
            state = self.variant(event.item)
            state.phase, state.fraction = event.phase, event.fraction
            if event.item_index and event.item_count:
                state.position = (event.item_index, event.item_count)
            return True
        if isinstance(event, ItemState):
            state = self.variant(event.item)
            state.state, state.finished, state.detail = event.state, event.finished, event.detail
            state.phase, state.fraction = "", None
            return True
        if isinstance(event, Error):
            self.error = event.message + (f" ({event.hint})" if event.hint else "")
            return True
        if isinstance(event, Finished):
            self._leave_current("")
            self.finished, self.current = event.outcome, ""
            if event.outcome != "done" and event.message:
                self.error = self.error or event.message
            return True
        return False

    def _leave_current(self, next_item: str) -> None:
        """The job moved on: the variant it was on shows where it stands again (rounds may come back to it)."""
        if self.current and self.current != next_item and self.current in self.variants:
            previous = self.variants[self.current]
            previous.phase, previous.fraction = "", None
