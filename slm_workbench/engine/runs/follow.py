"""Following runs: the one place that watches the run store and tails a run's files.

Every view that follows a run reads through here: the TUI's panes, the CLI's follower (which only
prints), a command waiting for the built-in model's preparation, a sweep following its trials, the
Distill pane following a distillation's child runs (``engine/distill/reader.py``).

- ``events_tail`` / ``metrics_tail`` / ``log_tail``: incremental readers of one run's
  ``events.jsonl`` (typed events), ``metrics.jsonl`` (rows, through ``events.decode_metrics``) and
  ``worker.log`` (lines as a terminal shows them). ``Run`` hands them out.
- ``RunsWatcher.refresh()`` re-reads a run's ``status.json`` only when its size or mtime
  changed, and re-checks process liveness only for runs that claim to be active.
- ``RunFollower.read_new()`` returns just the events, metrics and log lines appended since the
  last call (replaying everything on the first call, so a re-attached view sees the whole
  history).
- ``follow_run`` is the same for a caller that blocks until the run ends (the CLI following a
  job); ``follow_events`` the events alone (a command waiting for a model's preparation).

The byte-level reader under them (``FileTail``, ``last_lines``) is ``tail.py``: the store needs it
to decide a run's state, and this module needs the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import CorruptLine, Event, Progress, decode_event, decode_metrics
from . import store
from .status import ACTIVE_STATES, TERMINAL_STATES
from .tail import FileTail, text_tail


LOG_REPLAY_BYTES = 256 * 1024
"""A view attaching to a run shows at most this much of the end of its log."""


def events_tail(run_dir: Path) -> FileTail[Event | CorruptLine]:
    """The run's events, read incrementally (a line that does not decode is a ``CorruptLine``)."""
    path = Path(run_dir) / store.EVENTS
    return FileTail(path, lambda text, n: decode_event(text, path=str(path), line_no=n))


def metrics_tail(run_dir: Path) -> FileTail[dict[str, Any] | CorruptLine]:
    """The run's metrics rows, read incrementally (a line that does not decode is a ``CorruptLine``)."""
    path = Path(run_dir) / store.METRICS
    return FileTail(path, lambda text, n: decode_metrics(text, path=str(path), line_no=n))


def log_tail(run_dir: Path) -> FileTail[str]:
    """The run's ``worker.log``, read incrementally, each line as a terminal shows it last."""
    return text_tail(Path(run_dir) / store.LOG)


class RunsWatcher:
    def __init__(self, run_store: store.RunStore | None = None) -> None:
        self.store = run_store or store.RunStore()
        self._cache: dict[str, tuple[tuple[int, int], store.RunInfo]] = {}

    def refresh(self) -> list[store.RunInfo]:
        """Every run, newest first, re-reading only what changed."""
        root = self.store.root
        if not root.is_dir():
            self._cache.clear()
            return []
        seen: dict[str, tuple[tuple[int, int], store.RunInfo]] = {}
        for entry in os.scandir(root):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(entry.path, store.STATUS))
                key = (st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                key = (0, 0)
            cached = self._cache.get(entry.name)
            if cached and cached[0] == key and cached[1].state not in ACTIVE_STATES:
                seen[entry.name] = cached
            elif cached and cached[0] == key and cached[1].status is not None:
                status = cached[1].status
                info = store.RunInfo(status.id, Path(entry.path), status, store.effective_state(Path(entry.path), status))
                seen[entry.name] = (key, info)
            else:
                seen[entry.name] = (key, self.store.info(Path(entry.path)))
        self._cache = seen
        return [seen[name][1] for name in sorted(seen, reverse=True)]


@dataclass
class RunOutput:
    """What a run appended since the last read."""

    events: list[Event | CorruptLine] = field(default_factory=list)
    metrics: list[dict[str, Any] | CorruptLine] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.metrics or self.log)

    @property
    def last_progress(self) -> Progress | None:
        for event in reversed(self.events):
            if isinstance(event, Progress):
                return event
        return None


class RunFollower:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._events = events_tail(self.run_dir)
        self._metrics = metrics_tail(self.run_dir)
        self._log = log_tail(self.run_dir)
        self._log.seek_tail(LOG_REPLAY_BYTES)

    def read_new(self) -> RunOutput:
        return RunOutput(self._events.read_new(), self._metrics.read_new(), self._log.read_new())


def follow_events(run_dir: Path, *, poll: float = 0.3) -> Iterator[tuple[store.RunInfo, list[Event | CorruptLine]]]:
    """Every ``poll`` seconds until the run ends: (its info, the events appended since the last
    yield). The last yield carries the ended state and every event written before it; a caller
    that stops iterating stops watching (the job goes on)."""
    for info, events, _log in follow_run(run_dir, poll=poll):
        yield info, events


def follow_run(run_dir: Path, *, log: bool = False, poll: float = 0.3
               ) -> Iterator[tuple[store.RunInfo, list[Event | CorruptLine], list[str]]]:
    """``follow_events`` with the ``worker.log`` lines appended since the last yield too (when ``log``;
    from the start of the log, else none)."""
    run_store = store.RunStore(run_dir.parent)
    events = events_tail(run_dir)
    log_lines = log_tail(run_dir) if log else None
    while True:
        info = run_store.info(run_dir)  # read before the events: none written before the end is missed
        yield info, events.read_new(), log_lines.read_new() if log_lines is not None else []
        if info.state in TERMINAL_STATES or info.state == "corrupt":
            return
        time.sleep(poll)
