"""Keyboard across the workbench: the pane keys work from every widget but a text field, escape
leaves a text field in every pane (and the footer says so), and a job launched from a pane
hands the keys to the Runs pane."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from slm_workbench.engine.runs import launcher
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import is_text_input, make_app
from slm_workbench.ui.widgets.run_table import RunTable

from .conftest import fixed_sample, pane_key, wait_for, write_chat_rows
from .test_runs_pane import footer_keys

RUNS, QUANTIZE, CHAT, DEPLOY, DISTILL = (pane_key(p) for p in ("runs", "quantize", "chat", "deploy", "distill"))


def current(app) -> str:
    return app.screen.query_one("#panes").current


async def test_pane_keys_work_after_launching_from_the_train_pane(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_chat_rows(tmp_path / "d.jsonl", 8)
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2, initial_pane="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#f-model")), what="the form to mount")
        app.screen.query_one("#f-model", Input).value = str(tiny_model_dir)
        app.screen.query_one("#f-data", Input).value = str(data)
        app.screen.query_one("#f-max_steps", Input).value = "1"
        await wait_for(pilot, lambda: app.screen.query_one("#train-pane")._recipe is not None, what="a valid recipe")
        app.screen.query_one("#save-recipe").focus()  # then Tab to Launch and Enter, as a user does
        await pilot.press("tab", "tab", "enter")
        await wait_for(pilot, lambda: current(app) == "runs", what="the Runs pane")
        try:
            table = app.screen.query_one(RunTable)
            await wait_for(pilot, lambda: table.selected_run is not None, what="the new run selected")
            assert app.focused is table  # the run table has the keys: its actions are in the footer
            assert "o" in footer_keys(app)
            await pilot.press(QUANTIZE)
            assert current(app) == "quantize"
            await pilot.press(CHAT)
            assert current(app) == "chat"
            await wait_for(pilot, lambda: bool(app.screen.query("#chat-models")), what="the Chat pane")
            assert not is_text_input(app.focused)  # a pane never takes the pane keys by itself
            assert "slash" in footer_keys(app)  # the footer says how to type in it
            await pilot.press(DEPLOY, CHAT)
            assert current(app) == "chat"
            await pilot.press("slash")
            assert app.focused is app.screen.query_one("#chat-models")
            assert "escape" in footer_keys(app)  # and how to leave the field
            await pilot.press(DEPLOY, DISTILL)
            assert current(app) == "chat" and app.focused.value == DEPLOY + DISTILL  # typed: it is a text field
            await pilot.press("escape", DISTILL)
            assert current(app) == "distill"
        finally:
            for run in store.list():
                if run.alive:
                    launcher.stop_job(run, force=True)


@pytest.mark.parametrize("pane_id", ["data", "train", "eval", "distill", "quantize", "chat", "deploy"])
async def test_escape_leaves_a_text_field_in_every_pane(tmp_path: Path, pane_id: str) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(pane_key(pane_id))
        await wait_for(pilot, lambda: bool(app.screen.query(f"#{pane_id}-pane Input")), what="the pane's fields")
        await pilot.pause()
        field = app.screen.query(f"#{pane_id}-pane Input").first()
        field.focus()
        await pilot.pause()
        assert "escape" in footer_keys(app)
        await pilot.press(RUNS)  # typed into the field
        assert current(app) == pane_id
        await pilot.press("escape")
        assert not is_text_input(app.focused)
        assert "escape" not in footer_keys(app)  # offered only where it does something
        await pilot.press(RUNS)
        assert current(app) == "runs"


async def test_pane_keys_work_from_a_button_and_a_table(tmp_path: Path) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.focused is app.screen.query_one(RunTable)
        await pilot.press(QUANTIZE)
        await wait_for(pilot, lambda: bool(app.screen.query("#q-compare")), what="the Quantize pane")
        app.screen.query_one("#q-compare").focus()
        await pilot.press(pane_key("train"))
        assert current(app) == "train"
        await pilot.press(RUNS)
        assert current(app) == "runs" and app.focused is app.screen.query_one(RunTable)
