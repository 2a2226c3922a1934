"""Start, stop and wait for jobs.

A job is ``python -m slm_workbench.worker RUN_DIR`` started in a new session
(``start_new_session``): it has no controlling terminal, so closing the terminal or losing
SSH sends it no SIGHUP, and its process group can be signalled as a whole (the job and any
children it spawns, such as torchrun ranks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..paths import describe_os_error
from . import store
from .status import TERMINAL_STATES


def start_job(stage: str, recipe_yaml: str, *, title: str = "", run_store: store.RunStore | None = None) -> Path:
    """Create a run directory for the recipe and start its worker, detached."""
    run_store = run_store or store.RunStore()
    run_dir = run_store.create(stage, recipe_yaml, title=title)
    launch(run_dir)
    return run_dir


def start_recipe(recipe: Any, *, title: str = "", header: str = "", run_store: store.RunStore | None = None,
                 force: bool = False) -> Path:
    """Start ``recipe`` as a detached job. ``force`` launches even what a preflight would refuse
    (no preflight here yet: the parameter is accepted so every caller can pass it)."""
    from ...config.loading import dump_recipe

    return start_job(recipe.stage, dump_recipe(recipe, header), title=title, run_store=run_store)


def worker_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "slm_workbench.worker", str(run_dir)]


def launch(run_dir: Path) -> subprocess.Popen[bytes]:
    import psutil

    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        log = open(run_dir / store.LOG, "ab")
    except OSError as exc:
        raise WorkbenchError(f"cannot write {run_dir / store.LOG}: {describe_os_error(exc)}") from exc
    with log:
        proc = subprocess.Popen(
            worker_command(run_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run_dir,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    try:
        proc_start = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        proc_start = None
    with store.locked(run_dir):
        current = store.read_status(run_dir / store.STATUS)
        if current.pid is None:  # the worker may already have written its own
            from dataclasses import replace

            from .status import write_status

            write_status(run_dir / store.STATUS, replace(current, pid=proc.pid, pgid=proc.pid, proc_start=proc_start,
                                                         launched=current.launched or time.time()))
    return proc


RESUMABLE_STAGES = frozenset({"train"})
"""Stages whose job picks up where it stopped when started again on the same run directory."""


def resume_job(info: store.RunInfo) -> subprocess.Popen[bytes]:
    """Start a stopped, interrupted or failed run again in its own directory."""
    if info.status is None or info.stage not in RESUMABLE_STAGES:
        raise WorkbenchError(f"run {info.id} ({info.stage}) cannot be resumed", hint="start a new run instead")
    if info.state not in ("cancelled", "interrupted", "failed"):
        raise WorkbenchError(f"run {info.id} is {info.state}; only a stopped, interrupted or failed run resumes")
    store.update_status(info.dir, state="queued", pid=None, pgid=None, proc_start=None, ended=None, message="",
                        launched=time.time())
    return launch(info.dir)


def stop_job(info: store.RunInfo, *, force: bool = False) -> None:
    """Ask a running job to stop (SIGTERM to its process group); ``force`` sends SIGKILL."""
    if not info.alive or info.status is None or info.status.pgid is None:
        raise WorkbenchError(f"run {info.id} is not running (state: {info.state})")
    sig = signal.SIGKILL if force else signal.SIGTERM
    try:
        os.killpg(info.status.pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise WorkbenchError(f"cannot signal run {info.id} (pid {info.status.pid}): permission denied") from exc


def wait_for(run_dir: Path, *, timeout: float | None = None, poll: float = 0.2) -> store.RunInfo:
    """Block until the run reaches a terminal state (or the timeout passes)."""
    run_store = store.RunStore(run_dir.parent)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = run_store.info(run_dir)
        if info.state in TERMINAL_STATES or info.state == "corrupt":
            return info
        if deadline is not None and time.monotonic() > deadline:
            return info
        time.sleep(poll)
