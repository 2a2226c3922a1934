"""What the workbench shows, at 80x24 and 120x40 (pytest-textual-snapshot).

Update after an intended change with ``pytest tests/ui --snapshot-update`` and look at the
report before committing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app

from .conftest import SNAPSHOT_HOME, fixed_sample, pane_key, write_compare_run


async def settle(pilot) -> None:
    """Let lazy widgets mount and the poll workers deliver their messages."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_runs_pane(snap_compare, snapshot_runs: Path, size: tuple[int, int]) -> None:
    app = make_app(run_store=RunStore(snapshot_runs), sampler=fixed_sample, poll_interval=60)
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_empty_workbench(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    assert snap_compare(app, terminal_size=size, run_before=settle)


def go_to(key: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_quantize_pane_with_a_report(snap_compare, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    write_compare_run(SNAPSHOT_HOME / "runs")
    monkeypatch.setattr("slm_workbench.engine.system.gpus", lambda: [])  # the same screen on any machine
    app = make_app(run_store=RunStore(SNAPSHOT_HOME / "runs"), sampler=fixed_sample, poll_interval=60)
    assert snap_compare(app, terminal_size=size, run_before=go_to(pane_key("quantize")))
