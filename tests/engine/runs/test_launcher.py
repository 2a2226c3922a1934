"""Real detached jobs (the ``system.check`` stage, a few seconds of 64x64 matmuls on one thread).

Each test asserts on the run directory, the contract every view reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slm_workbench.config.recipes import SystemCheckRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs import launcher, store
from slm_workbench.engine.runs.status import TERMINAL_STATES, read_status
from tests.helpers import read_jsonl, wait_for_state, wait_until

START_FROM_CHILD = textwrap.dedent(
    """
    from slm_workbench.config.recipes import SystemCheckRecipe
    from slm_workbench.engine.runs.launcher import start_recipe

    print(start_recipe(SystemCheckRecipe(seconds=3, threads=1, size=64), title="from a child"))
    """
)


@pytest.fixture
def long_job(slmw_home):
    """A 5-minute check, measuring (its signal handlers are in place); killed at teardown if still alive."""
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=300, threads=1, size=64), title="long")
    try:
        wait_for_state(run_dir, "running")
        wait_until(lambda: any(e.kind == "progress" for e in store.read_events(run_dir)), timeout=60, what="progress")
        yield run_dir
    finally:
        info = store.RunStore().info(run_dir) if run_dir.exists() else None
        if info is not None and info.alive and info.status.pgid:
            os.killpg(info.status.pgid, signal.SIGKILL)


def test_job_outlives_the_process_that_started_it(slmw_home):
    child = subprocess.run(
        [sys.executable, "-c", START_FROM_CHILD], capture_output=True, text=True, timeout=60, cwd=slmw_home
    )
    assert child.returncode == 0, child.stderr
    run_dir = Path(child.stdout.strip().splitlines()[-1])
    assert run_dir.parent == slmw_home / "runs"
    # capture_output returned, so the job holds none of the child's pipes; and it is still going.
    assert store.RunStore().info(run_dir).state not in TERMINAL_STATES

    info = wait_for_state(run_dir, TERMINAL_STATES | {"corrupt"})

    assert info.state == "done", (run_dir / store.LOG).read_text()
    status = read_status(run_dir / store.STATUS)
    assert status.state == "done" and status.ended is not None and status.ended >= status.started
    assert status.pgid == status.pid  # its own process group, so stop reaches all of it
    events = store.read_events(run_dir)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert events[-1].outcome == "done"
    assert "progress" in kinds and "corrupt" not in kinds and "error" not in kinds
    metrics = read_jsonl(run_dir / store.METRICS)
    assert metrics and all(m["tflops"] > 0 for m in metrics)
    assert [m["step"] for m in metrics] == list(range(1, len(metrics) + 1))
    assert "[system.check] CPU (1 threads)" in (run_dir / store.LOG).read_text()


def test_stop_cancels_and_rm_refuses_while_it_runs(long_job):
    run_dir = long_job
    runs = store.RunStore()
    assert runs.info(run_dir).alive
    with pytest.raises(WorkbenchError, match="still running"):
        runs.remove(run_dir.name)

    launcher.stop_job(runs.info(run_dir))
    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=30)

    assert info.state == "cancelled"
    assert read_status(run_dir / store.STATUS).state == "cancelled"
    last = store.read_events(run_dir)[-1]
    assert (last.kind, last.outcome) == ("finished", "cancelled")
    with pytest.raises(WorkbenchError, match="not running"):
        launcher.stop_job(info)
    assert runs.remove(run_dir.name) == info.id
    assert not run_dir.exists()


def test_kill_9_of_the_process_group_reads_as_interrupted(long_job):
    run_dir = long_job
    pgid = read_status(run_dir / store.STATUS).pgid
    assert pgid is not None and pgid != os.getpgid(0)

    os.killpg(pgid, signal.SIGKILL)
    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=30)

    assert info.state == "interrupted" and not info.alive
    assert read_status(run_dir / store.STATUS).state == "running"  # what the job last wrote
    assert "finished" not in [e.kind for e in store.read_events(run_dir)]
    with pytest.raises(WorkbenchError, match="not running"):
        launcher.stop_job(info)


def test_failing_stage_ends_failed_with_an_error_event(slmw_home):
    run_dir = store.RunStore().create("system.check", "stage: system.check\nseconds: 1\nbogus: 1\n")
    launcher.launch(run_dir)
    info = wait_for_state(run_dir, TERMINAL_STATES)
    assert info.state == "failed"
    events = store.read_events(run_dir)
    error = next(e for e in events if e.kind == "error")
    assert "bogus" in error.message and str(run_dir / store.RECIPE) in error.message
    assert (events[-1].kind, events[-1].outcome) == ("finished", "failed")
    assert "Traceback" not in (run_dir / store.LOG).read_text()  # a user error, not a bug
