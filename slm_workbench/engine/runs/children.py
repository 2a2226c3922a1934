"""Runs a job starts and waits on: a sweep trial's eval, a distillation's generation and training.

A child is an ordinary run (listed in Runs, stoppable and resumable on its own). The parent
follows it by polling its status; when the parent is asked to stop, it stops the child the way
``slmw runs stop`` does (a training child checkpoints first) and waits for it, so a resumed
parent finds the child ``cancelled`` and resumes it instead of starting over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Cancelled, WorkbenchError
from . import launcher, stopping, store
from .run import Run
from .status import TERMINAL_STATES

POLL_S = 0.5
RESUMABLE_STATES = ("cancelled", "interrupted", "failed")


def ended(info: store.RunInfo) -> bool:
    return info.state in TERMINAL_STATES or info.state == "corrupt"


def start_or_resume(recipe: Any, *, run_store: store.RunStore, title: str, header: str = "",
                    previous: str | None = None) -> Path:
    """The child's run directory: ``previous`` when it is done or still running, resumed when it
    stopped and its stage resumes; else a new run of ``recipe``."""
    if previous:
        path = run_store.root / previous
        if path.is_dir():
            info = run_store.info(path)
            if info.state == "done" or info.alive or info.state == "queued":
                return path
            if info.state in RESUMABLE_STATES and info.stage in launcher.RESUMABLE_STAGES:
                launcher.resume_job(info)
                return path
    return launcher.start_recipe(recipe, title=title, header=header, run_store=run_store)


def stop_child(run_dir: Path, run_store: store.RunStore) -> store.RunInfo:
    """Stop it as ``slmw runs stop`` does and wait until it has ended (a training run checkpoints first)."""
    info = run_store.info(run_dir)
    if info.alive or info.state == "queued":
        try:
            launcher.stop_job(info)
        except WorkbenchError:
            pass  # it ended meanwhile
    return launcher.wait_for(run_dir)


def follow(run_dir: Path, *, run_store: store.RunStore, stop_requested: Callable[[], bool],
           on_poll: Callable[[store.RunInfo], None] = lambda info: None, poll_s: float = POLL_S) -> store.RunInfo:
    """Wait until the child ends; ``on_poll`` sees it at each poll. When ``stop_requested()``
    turns true, the child is stopped (and waited for) and ``Cancelled`` raised."""
    while True:
        info = run_store.info(run_dir)
        on_poll(info)
        if ended(info):
            return info
        if stop_requested():
            stopping.acknowledge()  # stopping the child takes its own time (a checkpoint): not a hang
            stop_child(run_dir, run_store)
            raise Cancelled()
        launcher.wait_for(run_dir, timeout=poll_s)


def failure(run_dir: Path, state: str, what: str) -> WorkbenchError:
    """The child did not finish: its own last error, named, with the command that shows it."""
    error = Run(run_dir).last_error()
    reason = getattr(error, "message", None) or state
    return WorkbenchError(f"{what} (run {run_dir.name}) ended {state}: {reason}",
                          hint=f"see it: slmw runs show {run_dir.name}; resume this run to go on from there")
