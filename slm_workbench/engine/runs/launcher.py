"""Start, stop and wait for jobs.

A job is ``python -m slm_workbench.worker RUN_DIR`` started in a new session
(``start_new_session``): it has no controlling terminal, so closing the terminal or losing
SSH sends it no SIGHUP, and its process group can be signalled as a whole (the job and any
children it spawns, such as torchrun ranks). The worker lowers its own scheduling priority
(``SLMW_JOB_NICE``), so a job that takes every core leaves the TUI responsive.

``start_recipe`` runs the launch check first (``engine.preflight``: memory, context, disk).
A stop is recorded in ``status.json`` before the signal is sent, so a job that dies before
its handlers exist still reads as ``cancelled``.
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
from ..stages import resumable_stages
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
    """Check that the job fits (raises ``WorkbenchError`` naming the knobs, unless ``force``), then start it."""
    from ...config.loading import dump_recipe
    from ..preflight import check_launch

    warnings = check_launch(recipe, force=force)
    run_store = run_store or store.RunStore()
    run_dir = run_store.create(recipe.stage, dump_recipe(recipe, header), title=title)
    if warnings:  # in the log and as events: whoever follows the run (CLI, Runs pane) sees them first
        from .context import RunContext

        with open(run_dir / store.LOG, "a", encoding="utf-8") as log:
            log.writelines(f"[preflight] warning: {w}\n" for w in warnings)
        for warning in warnings:
            RunContext(run_dir).warn(warning)
    launch(run_dir)
    return run_dir


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


RESUMABLE_STAGES = resumable_stages()
"""Stages whose job picks up where it stopped when started again on the same run directory."""


def resume_job(info: store.RunInfo) -> subprocess.Popen[bytes]:
    """Start a stopped, interrupted or failed run again in its own directory."""
    if info.status is None or info.stage not in RESUMABLE_STAGES:
        raise WorkbenchError(f"run {info.id} ({info.stage}) cannot be resumed", hint="start a new run instead")
    if info.state not in ("cancelled", "interrupted", "failed"):
        raise WorkbenchError(f"run {info.id} is {info.state}; only a stopped, interrupted or failed run resumes")
    store.update_status(info.dir, state="queued", pid=None, pgid=None, proc_start=None, ended=None, message="",
                        launched=time.time(), stop_requested=None)
    return launch(info.dir)


def stop_job(info: store.RunInfo, *, force: bool = False) -> None:
    """Ask a running job to stop (SIGTERM to its process group); ``force`` sends SIGKILL.

    The request is written to ``status.json`` first: a worker not started yet reads it and ends
    at once, and one that dies of the signal before it could answer still reads as ``cancelled``.
    """
    queued = info.state == "queued" and info.status is not None and info.status.pid is None
    if not (info.alive or queued) or info.status is None:
        raise WorkbenchError(f"run {info.id} is not running (state: {info.state})")
    status = store.update_status(info.dir, stop_requested=info.status.stop_requested or time.time())
    if status.pgid is None:
        return  # not launched yet: the worker sees the request when it starts
    sig = signal.SIGKILL if force else signal.SIGTERM
    try:
        os.killpg(status.pgid, sig)
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
