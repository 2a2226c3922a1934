"""What a job stage sees: its run directory, and one way to report.

Stages call ``ctx.progress(...)``, ``ctx.item_state(...)``, ``ctx.metrics({...})``,
``ctx.artifact(...)`` and ``ctx.check_cancelled()``; the context appends to ``events.jsonl`` / ``metrics.jsonl``
(one line per call, flushed, so a reader tailing the file sees it at once). In a
multi-process run only rank 0 writes metrics (and the stage its checkpoints and artifacts); events
are written by each machine's first process (``local_rank`` 0) into that machine's run directory,
so a worker node of a multi-node run (docs/architecture.md) keeps its own events.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import Cancelled
from ..events import Artifact, Checkpoint, Event, ItemState, Progress, Warning
from . import store
from .run import Run

PROGRESS_MIN_INTERVAL_S = 0.25
"""Progress events closer together than this are dropped (the first about a new item and the last
of a phase are kept). Phases that name their step ("quantizing layers.3.mlp") change often: they
are throttled like any other update."""


R_contra = TypeVar("R_contra", contravariant=True)


class StageRunner(Protocol[R_contra]):
    """The stage protocol: a validated recipe in; events, metrics and artifacts out through ``ctx``.

    A runner reports with ``ctx.progress`` / ``ctx.metrics`` / ``ctx.artifact``, writes only
    under ``ctx.run_dir`` (or the shared model/variant stores), calls ``ctx.check_cancelled()``
    between units of work, and raises ``WorkbenchError`` for anything the user can fix. The
    worker writes ``started`` / ``finished`` and the status around it.
    """

    def __call__(self, recipe: R_contra, ctx: RunContext) -> None: ...


class RunContext:
    def __init__(self, run_dir: Path, *, rank: int = 0, local_rank: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.run = Run(self.run_dir)
        """The run's files (its artifacts, checkpoints, lineage ...), as every reader sees them."""
        self.rank = rank
        """The process's rank among all training processes (0: the run's owner)."""
        self.local_rank = rank if local_rank is None else local_rank
        """Its rank on this machine (0: writes this machine's events)."""
        self.cancel_requested = threading.Event()
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._last_item = ""

    @property
    def writes(self) -> bool:
        """This process owns the run's results: metrics, checkpoints, artifacts."""
        return self.rank == 0

    @property
    def emits(self) -> bool:
        """This process writes the events of this machine's run directory."""
        return self.local_rank == 0

    @property
    def artifacts_dir(self) -> Path:
        return self.run.artifacts_dir

    @property
    def checkpoints_dir(self) -> Path:
        return self.run.checkpoints_dir

    def emit(self, event: Event) -> None:
        if self.emits:
            self._append(store.EVENTS, event.to_json())

    def progress(self, phase: str, done: float = 0, total: float | None = None, unit: str = "", message: str = "",
                 item: str = "", item_index: int | None = None, item_count: int | None = None) -> None:
        """Report ``done`` of ``total`` ``unit`` of ``phase``; ``item`` is the thing worked on (a
        variant), ``item_index`` of ``item_count`` its place among the job's items (from 1)."""
        now = time.monotonic()
        final = total is not None and done >= total
        new_item = item != self._last_item  # the first word on a new variant is never dropped
        if not final and not new_item and now - self._last_progress < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress, self._last_item = now, item
        self.emit(Progress(phase=phase, done=done, total=total, unit=unit, message=message, item=item,
                           item_index=item_index, item_count=item_count))

    def item_state(self, item: str, state: str, *, finished: bool = False, detail: str = "") -> None:
        """Say where ``item`` stands (built, measured, broken ...); ``finished`` once the job is done with it."""
        self.emit(ItemState(item=item, state=state, finished=finished, detail=detail))

    def warn(self, message: str) -> None:
        self.emit(Warning(message=message))

    def artifact(self, name: str, path: Path, description: str = "") -> None:
        self.emit(Artifact(name=name, path=str(path), description=description))

    def checkpoint(self, path: Path, step: int | None = None) -> None:
        self.emit(Checkpoint(path=str(path), step=step))

    def metrics(self, values: dict[str, Any]) -> None:
        if self.writes:
            self._append(store.METRICS, json.dumps({"time": time.time(), **values}, default=float))

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` when a stop was requested; stages call this between units of work."""
        if self.cancel_requested.is_set():
            raise Cancelled()

    def _append(self, name: str, line: str) -> None:
        with self._lock, open(self.run_dir / name, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
