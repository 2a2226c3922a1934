"""Which trials still have a live worker, and the retry of those that do not, resuming their runs.

Every trial keeps its liveness record in its user attributes: ``worker`` (the sweep job that
runs it: run id, host, pid, process start time) and, on the journal file, ``heartbeat`` (the
time its worker last said it was alive, every ``heartbeat_s``; written by ``Heartbeat``). Any
worker can read them:

- journal file: a trial of this host is dead when its worker's process is gone (the pid is
  checked with the process's start time, so a reused pid is not mistaken for it); a trial of
  another host (a journal on a shared disk) when its heartbeat is ``GRACE_BEATS`` beats old;
- database: Optuna's own heartbeat (``RDBStorage(heartbeat_interval=…)``); Optuna fails a stale
  trial (``optuna.storages.fail_stale_trials``, which every worker also calls while it waits)
  and hands it to ``retry_stale``.

A dead trial is failed by whichever worker sees it first (Optuna's storages let only one
``FAIL`` through) and that worker enqueues it again with the same parameters and
``resume_run`` (its training run) and ``retry_of`` (its number); the retry's objective stops
that run if it is still going and resumes it from its last checkpoint (``trial.py``).
A trial is retried at most ``MAX_RETRIES`` times over.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

GRACE_BEATS = 3
"""Beats a trial may miss before it counts as dead."""
MAX_RETRIES = 2


def worker_identity(run_dir: Path) -> dict[str, Any]:
    import psutil

    return {"run": run_dir.name, "host": socket.gethostname(), "pid": os.getpid(),
            "proc_start": psutil.Process().create_time()}


class Heartbeat:
    """While a trial runs, record ``heartbeat`` (the time) in its user attributes every ``interval`` s."""

    def __init__(self, trial: Any, interval: float) -> None:
        self.trial = trial
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial.number}", daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # noqa: BLE001 - the trial ended under it; the objective reports how
                return
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def worker_gone(trial: Any, me: dict[str, Any], heartbeat_s: float, now: float | None = None) -> bool:
    """True when the worker running ``trial`` is known to be gone (journal file liveness record)."""
    worker = trial.user_attrs.get("worker") or {}
    if not worker:
        return False  # asked for its parameters a moment ago: its record comes next
    if worker.get("host") == me["host"]:
        if worker.get("run") == me["run"]:
            return worker.get("pid") != me["pid"]  # this sweep's own earlier process: this one replaced it
        from ..runs.status import RunStatus
        from ..runs.store import process_alive

        status = RunStatus(id=str(worker.get("run")), stage="sweep", pid=worker.get("pid"), host=me["host"],
                           proc_start=worker.get("proc_start"))
        return not process_alive(status)
    beat = trial.user_attrs.get("heartbeat")
    if not isinstance(beat, (int, float)):
        beat = trial.datetime_start.timestamp() if trial.datetime_start else None
    return beat is not None and (now or time.time()) - beat > GRACE_BEATS * heartbeat_s


def live_running(study: Any, me: dict[str, Any], heartbeat_s: float, database: bool) -> list[Any]:
    """The study's running trials, less those known to be dead (on a database, Optuna's heartbeat decides)."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return running if database else [t for t in running if not worker_gone(t, me, heartbeat_s)]


def recover(study: Any, me: dict[str, Any], heartbeat_s: float, database: bool, *, interrupted: bool = False) -> list[int]:
    """Fail the running trials whose worker is gone and retry each, and with ``interrupted`` (when a
    sweep starts or resumes) retry the trials a stopped sweep left ``interrupted``; returns the
    numbers of the trials retried by this call."""
    import warnings

    import optuna
    from optuna.trial import TrialState

    retried: list[int] = []
    if database:
        def retries() -> set[int]:
            return {t.user_attrs["retry_of"] for t in study.get_trials(deepcopy=False) if "retry_of" in t.user_attrs}

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            before = retries()
            optuna.storages.fail_stale_trials(study)  # its callback, retry_stale, enqueues the retries
            retried += sorted(retries() - before)
    else:
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if worker_gone(trial, me, heartbeat_s) and _fail(study, trial.number):
                retry(study, trial)
                retried.append(trial.number)
    if not interrupted:
        return sorted(retried)
    trials = study.get_trials(deepcopy=False)
    done = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:  # stopped by a sweep that was stopped: retried when it goes on
        if trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted") and trial.number not in done:
            retry(study, trial)
            retried.append(trial.number)
    return sorted(retried)


def _fail(study: Any, number: int) -> bool:
    """Mark the trial failed; False when another worker got there first."""
    import optuna
    from optuna.trial import TrialState

    try:
        study.tell(number, state=TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
        return False
    return True


def retry_stale(study: Any, trial: Any) -> None:
    """Optuna's heartbeat-stale callback (databases): retry the trial, resuming its run."""
    retry(study, trial)


def retry(study: Any, trial: Any) -> None:
    """Enqueue the trial again with its parameters, a link to its run and to itself."""
    attempt = int(trial.user_attrs.get("attempt") or 0) + 1
    if attempt > MAX_RETRIES:
        return
    attrs: dict[str, Any] = {"retry_of": trial.number, "attempt": attempt}
    if trial.user_attrs.get("run_id"):
        attrs["resume_run"] = trial.user_attrs["run_id"]
    study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)
