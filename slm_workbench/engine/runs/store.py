"""The run store: one directory per job under ``<home>/runs``.

The directory is the contract (see docs/architecture.md)::

    recipe.yaml   the validated recipe the run was started with
    status.json   state, pid, process group, host, times (see status.py)
    events.jsonl  typed events (see events.py)
    metrics.jsonl one JSON object per logged step
    worker.log    the job's stdout and stderr
    checkpoints/  artifacts/

Listing never fails because one run is damaged: a run whose files cannot be read is
listed with state ``corrupt`` and the reason.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import paths
from ..errors import CorruptRunFileError, RunNotFoundError, StorageError, WorkbenchError
from .status import ACTIVE_STATES, RunStatus, read_status, write_status
from .tail import last_lines

if TYPE_CHECKING:
    from ..events import Event, Finished

RECIPE = "recipe.yaml"
STATUS = "status.json"
EVENTS = "events.jsonl"
METRICS = "metrics.jsonl"
LOG = "worker.log"
CHECKPOINTS = "checkpoints"
ARTIFACTS = "artifacts"

LAUNCH_GRACE_S = 60.0
"""A queued run with no live process this long after creation was never started."""


@dataclass(frozen=True)
class RunInfo:
    id: str
    dir: Path
    status: RunStatus | None
    state: str
    """The effective state: what status.json says, corrected by whether the process lives."""
    problem: str = ""

    @property
    def stage(self) -> str:
        return self.status.stage if self.status else "?"

    @property
    def title(self) -> str:
        return (self.status.title or self.status.stage) if self.status else self.id

    @property
    def alive(self) -> bool:
        return self.state in ACTIVE_STATES and self.status is not None and process_alive(self.status)


def new_run_id(stage: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", stage.lower()).strip("-") or "job"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{os.urandom(2).hex()}"


def process_alive(status: RunStatus) -> bool:
    """True when the job's process still runs (not a zombie, not a reused pid)."""
    if status.pid is None or status.host != socket.gethostname():
        return False
    import psutil

    try:
        proc = psutil.Process(status.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if status.proc_start is not None and abs(proc.create_time() - status.proc_start) > 1.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def last_finished(run_dir: Path) -> Finished | None:
    from ..events import Finished, decode_event  # here: the TUI's first frame needs the store, not the events

    for line in reversed(last_lines(run_dir / EVENTS, 50)):
        event = decode_event(line)
        if isinstance(event, Finished):
            return event
    return None


def effective_state(run_dir: Path, status: RunStatus) -> str:
    if status.state not in ACTIVE_STATES:
        return status.state
    if status.host != socket.gethostname():
        return status.state  # another machine's job: we cannot see its process
    if process_alive(status):
        return status.state
    if status.pid is None and time.time() - (status.launched or status.created) < LAUNCH_GRACE_S:
        return status.state
    finished = last_finished(run_dir)
    if finished:
        return finished.outcome
    return "cancelled" if status.stop_requested is not None else "interrupted"


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Serialise read-modify-write of status.json between the launcher and the worker."""
    with open(run_dir / ".status.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_status(run_dir: Path, **changes: object) -> RunStatus:
    with locked(run_dir):
        status = replace(read_status(run_dir / STATUS), **changes)
        write_status(run_dir / STATUS, status)
    return status


class RunStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else paths.runs_dir()

    def create(self, stage: str, recipe_yaml: str, title: str = "") -> Path:
        """Make a new run directory holding the recipe and a ``queued`` status."""
        paths.ensure_writable_dir(self.root, "workbench runs folder")
        run_id = new_run_id(stage)
        tmp = self.root / f".{run_id}.creating"
        try:
            tmp.mkdir()
            (tmp / CHECKPOINTS).mkdir()
            (tmp / ARTIFACTS).mkdir()
            (tmp / RECIPE).write_text(recipe_yaml, encoding="utf-8")
            write_status(tmp / STATUS, RunStatus(id=run_id, stage=stage, title=title))
            os.replace(tmp, self.root / run_id)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StorageError(f"cannot create run {run_id} in {self.root}: {paths.describe_os_error(exc)}") from exc
        return self.root / run_id

    def info(self, run_dir: Path) -> RunInfo:
        try:
            status = read_status(run_dir / STATUS)
        except CorruptRunFileError as exc:
            return RunInfo(run_dir.name, run_dir, None, "corrupt", problem=exc.message)
        return RunInfo(status.id, run_dir, status, effective_state(run_dir, status))

    def list(self) -> list[RunInfo]:
        """All runs, newest first. Damaged runs are included, never raised."""
        if not self.root.is_dir():
            return []
        dirs = [d for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".")]
        return [self.info(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]

    def resolve(self, id_or_prefix: str) -> Path:
        """A run directory by its full id or an unambiguous prefix (or suffix) of it."""
        exact = self.root / id_or_prefix
        if id_or_prefix and "/" not in id_or_prefix and (exact / STATUS).exists():
            return exact
        names = [d.name for d in self.root.iterdir() if d.is_dir()] if self.root.is_dir() and id_or_prefix else []
        matches = [n for n in names if not n.startswith(".") and (n.startswith(id_or_prefix) or n.endswith(id_or_prefix))]
        if len(matches) == 1:
            return self.root / matches[0]
        if not matches:
            raise RunNotFoundError(f"no run '{id_or_prefix}' in {self.root}", hint="see `slmw runs list`")
        raise RunNotFoundError(f"'{id_or_prefix}' matches {len(matches)} runs: {', '.join(sorted(matches)[:5])}")

    def get(self, id_or_prefix: str) -> RunInfo:
        return self.info(self.resolve(id_or_prefix))

    def remove(self, id_or_prefix: str, *, force: bool = False) -> str:
        info = self.get(id_or_prefix)
        if info.alive and not force:
            raise WorkbenchError(f"run {info.id} is still {info.state}", hint="stop it first: `slmw runs stop ID`")
        shutil.rmtree(info.dir)
        return info.id


def read_events(run_dir: Path) -> list[Event]:
    from ..events import decode_event
    from .tail import FileTail

    tail = FileTail(run_dir / EVENTS, lambda text, n: decode_event(text, path=str(run_dir / EVENTS), line_no=n))
    return tail.read_new()  # type: ignore[return-value]
