"""A stop ends a job ``cancelled`` in every phase: its first milliseconds, before it is launched,
and a stage that never checks for a stop (a long library call)."""

from __future__ import annotations

import os
import sys
import time
import textwrap
from pathlib import Path

import psutil
import pytest

from slm_workbench.config.recipes import SystemCheckRecipe
from slm_workbench.engine.runs import launcher, store
from slm_workbench.engine.runs.status import TERMINAL_STATES, read_status
from tests.helpers import wait_for_state, wait_until

# The worker, with system.check replaced by a stage that never calls ctx.check_cancelled().
STUBBORN_WORKER = textwrap.dedent(
    """
    import runpy, sys, time
    import slm_workbench.engine.system.stage as system_check

    def busy_in_python(recipe, ctx):
        ctx.progress("busy", 0, None)
        while True:  # a library's Python loop that knows nothing of stops
            time.sleep(0.05)

    def stuck_in_c(recipe, ctx):
        ctx.progress("busy", 0, None)
        time.sleep(3600)  # one call that does not return to the interpreter

    system_check.run = {"python": busy_in_python, "c": stuck_in_c}[sys.argv[1]]
    sys.argv = ["slm_workbench.worker", sys.argv[2]]
    runpy.run_module("slm_workbench.worker", run_name="__main__", alter_sys=True)
    """
)


def _finished(run_dir: Path) -> list:
    return [e for e in store.read_events(run_dir) if e.kind == "finished"]


@pytest.mark.parametrize("moment", [0.0, 0.02, 0.1])
def test_stop_in_the_first_moments_ends_cancelled(slmw_home, moment) -> None:
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=300, threads=1, size=64), title="stopped at once")
    time.sleep(moment)  # where the stop lands: interpreter start-up, the worker's imports, its first lines
    launcher.stop_job(store.RunStore().info(run_dir))

    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=60)

    assert info.state == "cancelled", (run_dir / store.LOG).read_text()
    assert read_status(run_dir / store.STATUS).stop_requested is not None


def test_stop_before_the_worker_starts_is_honoured_when_it_does(slmw_home) -> None:
    run_dir = store.RunStore().create("system.check", "stage: system.check\nseconds: 300\nsize: 64\nthreads: 1\n")
    launcher.stop_job(store.RunStore().info(run_dir))  # queued, no process yet: recorded only
    launcher.launch(run_dir)

    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=60)

    assert info.state == "cancelled"
    assert [e.outcome for e in _finished(run_dir)] == ["cancelled"]
    assert "progress" not in [e.kind for e in store.read_events(run_dir)]  # the stage never ran


@pytest.mark.parametrize("where", ["python", "c"])
def test_a_stage_that_never_checks_is_stopped_within_the_grace(slmw_home, monkeypatch, where) -> None:
    monkeypatch.setenv("SLMW_STOP_GRACE_S", "1")
    monkeypatch.setattr(launcher, "worker_command",
                        lambda run_dir: [sys.executable, "-c", STUBBORN_WORKER, where, str(run_dir)])
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=300, threads=1, size=64), title="stubborn")
    wait_until(lambda: any(e.kind == "progress" for e in store.read_events(run_dir)), timeout=60, what="the stage")
    pid = read_status(run_dir / store.STATUS).pid

    launcher.stop_job(store.RunStore().info(run_dir))
    # 1 s of grace, then Cancelled in the main thread, 2 s more before the process ends itself
    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=30)

    assert info.state == "cancelled"
    assert [e.outcome for e in _finished(run_dir)] == ["cancelled"]  # recorded by the job, not guessed
    assert read_status(run_dir / store.STATUS).state == "cancelled"
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
               timeout=30, what="the worker to exit")
    log = (run_dir / store.LOG).read_text()
    assert "did not stop within" in log
    assert ("stuck in a library call" in log) == (where == "c")


def test_a_dead_worker_whose_stop_was_asked_reads_cancelled(slmw_home) -> None:
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=300, threads=1, size=64), title="killed")
    wait_for_state(run_dir, "running")
    launcher.stop_job(store.RunStore().info(run_dir), force=True)  # SIGKILL: no chance to write anything

    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=60)

    assert info.state == "cancelled" and _finished(run_dir) == []


def test_jobs_run_nicer_than_the_launcher(slmw_home, monkeypatch) -> None:
    monkeypatch.setenv("SLMW_JOB_NICE", "7")
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=300, threads=1, size=64), title="nice")
    try:
        wait_for_state(run_dir, "running")
        worker = psutil.Process(read_status(run_dir / store.STATUS).pid)
        assert worker.nice() == min(19, os.nice(0) + 7)
    finally:
        launcher.stop_job(store.RunStore().info(run_dir))
        wait_for_state(run_dir, TERMINAL_STATES, timeout=60)


def test_the_grace_follows_the_stage_and_a_second_stop_does_not_wait() -> None:
    import signal
    import threading

    from slm_workbench.engine.runs.stopping import StopGuard

    guard = StopGuard(threading.Event(), log=lambda line: None)
    assert guard.deadline() is None
    guard.request(signal.SIGTERM)
    assert guard.cancel_requested.is_set() and guard.deadline() == guard.requested_at + guard.grace_s
    guard.grace_s = None  # a section that waits for its children (torchrun ranks)
    assert guard.deadline() is None
    guard.grace_s, guard.acknowledged = 5.0, True  # saving the stop checkpoint
    assert guard.deadline() is None
    guard.request(signal.SIGINT)
    assert guard.deadline() == guard.urgent_at + 1.0

    rank = StopGuard(threading.Event(), rank_child=True, log=lambda line: None)
    rank.request(signal.SIGTERM)
    rank.request(signal.SIGTERM)  # torchrun forwards the group's SIGTERM: still one stop
    assert rank.urgent_at is None
    assert rank.claim_finish() and not rank.claim_finish()
