"""Reading a distillation from its files: what the Distill pane shows, read incrementally.

A ``DistillReader`` owns one ``distill`` run. Each ``read()`` re-reads the small files
(``artifacts/distill.json``, the card once it changes) and tails the appended lines of the big ones:
the generation's ``rows.jsonl`` (the teacher's answers with their verdicts), its progress events,
and the student's training metrics, in child runs the phases name (docs/distill.md). A child run's
events and metrics are tailed as every follower tails them (``Run.tail_events`` / ``tail_metrics``,
engine/runs/follow.py). It returns a ``DistillView``, a snapshot a view can draw as is. No Textual,
no ML stack.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import Progress
from ..runs import store
from ..runs.run import Run
from ..runs.tail import FileTail
from ..generate.layout import GENERATED_ROWS, KEPT, generated_rows, read_verdict
from .layout import DistillState, card_path, read_card, read_state

SAMPLES_KEPT = 200
"""The newest generated rows kept for showing (the file holds them all)."""


@dataclass(frozen=True)
class Sample:
    id: str
    prompt: str
    answer: str
    verdict: str
    """``kept``, or the kind of reason it was dropped (``not JSON``, ``checker`` ...)."""
    kept: bool
    reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.verdict}: {self.reason}" if self.reason else self.verdict


@dataclass
class DistillView:
    run_id: str
    state: DistillState
    card: dict[str, Any] | None = None
    samples: list[Sample] = field(default_factory=list)
    """Newest first."""
    answered: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    """Dropped answers by the kind of reason (``not JSON``, ``checker`` ...)."""
    generate_progress: Progress | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """Every metrics row the student's training run wrote so far."""
    children: dict[str, str] = field(default_factory=dict)
    """Child run id -> its effective state."""


def _sample(row: dict[str, Any], line_no: int) -> Sample:
    messages = row.get("messages") or []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = str(users[-1] if users else "")
    judged = read_verdict(row) if row.get("verdict") else None
    verdict = judged.kind if judged is not None else (KEPT if row.get("kept") else "dropped")
    return Sample(str(row.get("id") or line_no), prompt, str(row.get("answer") or ""), verdict,
                  bool(row.get("kept", verdict == KEPT)), judged.reason if judged is not None else "")


def _decode_row(text: str, line_no: int) -> Sample | None:
    try:
        row = json.loads(text)
    except ValueError:
        return None
    return _sample(row, line_no) if isinstance(row, dict) else None


class DistillReader:
    def __init__(self, run_dir: Path, run_store: store.RunStore) -> None:
        self.run_dir = Path(run_dir)
        self.run_store = run_store
        self._rows: FileTail[Sample | None] | None = None
        self._events: FileTail[Any] | None = None
        self._metrics: FileTail[Any] | None = None
        self._samples: deque[Sample] = deque(maxlen=SAMPLES_KEPT)
        self._counts: Counter[str] = Counter()
        self._answered = 0
        self._progress: Progress | None = None
        self._metric_rows: list[dict[str, Any]] = []
        self._card_stamp: float | None = None
        self._card: dict[str, Any] | None = None

    def _child(self, run_id: str | None) -> Path | None:
        return self.run_store.root / run_id if run_id else None

    def rows_path(self, state: DistillState) -> Path | None:
        """The generation's ``rows.jsonl``: in the folder the job names, else the child run's default."""
        if state.generated:
            return Path(state.generated) / GENERATED_ROWS
        child = self._child(state.run_of("generate"))
        return generated_rows(child) if child is not None else None

    def read(self) -> DistillView:
        state = read_state(self.run_dir)
        self._read_rows(state)
        self._read_generate_progress(state)
        self._read_metrics(state)
        children = {}
        for phase in state.phases:
            child = self._child(phase.run)
            if child is not None and child.is_dir():
                children[child.name] = self.run_store.info(child).state
        return DistillView(self.run_dir.name, state, self._read_card(), list(reversed(self._samples)), self._answered,
                           self._counts["kept"], {k: v for k, v in self._counts.items() if k != "kept"},
                           self._progress, list(self._metric_rows), children)

    def _read_rows(self, state: DistillState) -> None:
        path = self.rows_path(state)
        if path is None:
            return
        if self._rows is None or self._rows.path != path:
            self._rows = FileTail(path, _decode_row)
            self._samples.clear()
            self._counts.clear()
            self._answered = 0
        for sample in self._rows.read_new():
            if sample is None:
                continue
            self._answered += 1
            self._samples.append(sample)
            self._counts[KEPT if sample.kept else sample.verdict or "dropped"] += 1

    def _read_generate_progress(self, state: DistillState) -> None:
        child = self._child(state.run_of("generate"))
        if child is None:
            return
        run = Run(child)
        if self._events is None or self._events.path != run.events_path:
            self._events = run.tail_events()
            self._progress = None
        for event in self._events.read_new():
            if isinstance(event, Progress):
                self._progress = event

    def _read_metrics(self, state: DistillState) -> None:
        child = self._child(state.run_of("train"))
        if child is None:
            return
        run = Run(child)
        if self._metrics is None or self._metrics.path != run.metrics_path:
            self._metrics = run.tail_metrics()
            self._metric_rows = []
        self._metric_rows.extend(row for row in self._metrics.read_new() if isinstance(row, dict))

    def _read_card(self) -> dict[str, Any] | None:
        path = card_path(self.run_dir)
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
        if stamp != self._card_stamp:
            card = read_card(self.run_dir)
            if card is not None:  # a half-written card is read again on the next call
                self._card_stamp, self._card = stamp, card
        return self._card
