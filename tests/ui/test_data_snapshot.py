"""What the Data pane shows with the demo dataset open: preview, detected format, the first
row with its loss mask, and the settings. The demo file is copied to a fixed folder and the
preview's timing is fixed, so the picture is the same on every machine. Update with
``pytest tests/ui/test_data_snapshot.py --snapshot-update`` and look at the report first."""

from __future__ import annotations

import importlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from slm_workbench.demo import DEMO_DATASET
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app

from .conftest import fixed_sample, wait_for
from .test_data_pane import ready_pane, sample_text, text_of
from .test_snapshots import settle

DATA_HOME = Path("/tmp/slmw-snapshot-data-home")
"""A fixed path: the file and the output folder are shown on screen."""


@pytest.fixture
def demo_home(monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path) -> Path:
    shutil.rmtree(DATA_HOME, ignore_errors=True)
    (DATA_HOME / "models").mkdir(parents=True)
    (DATA_HOME / "models" / smollm2_dir.name).symlink_to(smollm2_dir, target_is_directory=True)
    shutil.copy(DEMO_DATASET, DATA_HOME / "demo_chat.jsonl")
    monkeypatch.setenv("SLMW_HOME", str(DATA_HOME))
    previews = importlib.import_module("slm_workbench.engine.data.preview")  # the module: the package's
    real = previews.preview                                                # `preview` is the function
    monkeypatch.setattr(previews, "preview", lambda *a, **k: replace(real(*a, **k), seconds=0.004))
    return DATA_HOME


def test_data_pane_with_the_demo_dataset(snap_compare, demo_home: Path) -> None:
    app = make_app(run_store=RunStore(demo_home / "runs"), sampler=fixed_sample, poll_interval=60, initial_pane="data")

    async def open_demo(pilot) -> None:
        pane = await ready_pane(pilot)
        await settle(pilot)
        for field in pilot.app.query(Input):
            field.cursor_blink = False
        pane.query_one("#source-path", Input).value = str(demo_home / "demo_chat.jsonl")
        pane.query_one("#source-path", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "line 1 as the model sees it" in sample_text(pane), what="the sample")
        await wait_for(pilot, lambda: "✓ valid" in text_of(pane, "#report-verdict"), what="the report")
        await wait_for(pilot, lambda: "rows in" in text_of(pane, "#data-lengths"), what="the lengths")
        assert pane.query_one("#report-issues", OptionList).option_count == 0
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_demo)
