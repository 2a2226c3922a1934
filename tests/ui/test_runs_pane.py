"""The Runs pane as a user drives it: jobs appear, update, finish, stop; damage is shown, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import RichLog, Static

from slm_workbench.config.recipes import SystemCheckRecipe
from slm_workbench.engine.runs.launcher import start_recipe
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.widgets.run_table import RunTable

from .conftest import fixed_sample, pane_key, wait_for


def row_state(app, run_id: str) -> str:
    table = app.screen.query_one(RunTable)
    try:
        return str(table.get_cell(run_id, "state"))
    except Exception:  # noqa: BLE001 - row not there yet
        return ""


def footer_keys(app) -> set[str]:
    """The keys the footer offers now (what the focused widget and its ancestors bind, and allow)."""
    return {key for key, active in app.screen.active_bindings.items() if active.enabled and active.binding.show}


def log_text(app, widget_id: str) -> str:
    logs = app.screen.query(f"#{widget_id}")
    if not logs:
        return ""  # the detail view mounts lazily, a moment after the first frame
    log = logs.first(RichLog)
    return "\n".join(line.text for line in log.lines)


def progress_label(app) -> str:
    labels = app.screen.query("#run-progress-label")
    return str(labels.first().render()) if labels else ""


async def test_job_start_update_finish(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        run_dir = start_recipe(SystemCheckRecipe(seconds=3, size=64, threads=1), title="check", run_store=store)
        run_id = run_dir.name
        await wait_for(pilot, lambda: row_state(app, run_id) == "running", what="the run to show as running")
        await wait_for(pilot, lambda: "measuring" in progress_label(app),
                       what="a progress update")
        await wait_for(pilot, lambda: row_state(app, run_id) == "done", what="the run to finish")
        await wait_for(pilot, lambda: "finished: done" in log_text(app, "run-events"), what="the finished event")
        assert "started system.check" in log_text(app, "run-events")
        assert "[system.check]" in log_text(app, "run-log")
        assert "TFLOP/s" in str(app.screen.query_one("#run-metrics", Static).render())
        assert app.screen.query_one("#run-chart-row").has_class("-has-metrics")  # the chart shows the curve
        assert "s" not in footer_keys(app)  # Stop is offered only while the run lives


async def test_stop_from_the_pane(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        run_dir = start_recipe(SystemCheckRecipe(seconds=120, size=64, threads=1), title="long", run_store=store)
        await wait_for(pilot, lambda: row_state(app, run_dir.name) == "running", what="running")
        await wait_for(pilot, lambda: {"s", "K"} <= footer_keys(app), what="stop and kill in the footer")
        await pilot.press("s")
        await wait_for(pilot, lambda: row_state(app, run_dir.name) == "cancelled", what="cancelled", timeout=30)
        await wait_for(pilot, lambda: "finished: cancelled" in log_text(app, "run-events"), what="the event")


async def test_reattach_replays_history_and_corrupt_runs_do_not_break_the_list(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    done = start_recipe(SystemCheckRecipe(seconds=1, size=32, threads=1), title="earlier", run_store=store)
    from tests.helpers import wait_for_state

    wait_for_state(done, "done")
    broken = tmp_path / "runs" / "20990101-000000-broken-0000"
    broken.mkdir()
    (broken / "status.json").write_text("{not json")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_state(app, broken.name) == "corrupt", what="the corrupt run listed")
        app.screen.query_one(RunTable).select_run(done.name)
        await wait_for(pilot, lambda: "finished: done" in log_text(app, "run-events"), what="replayed history")
        assert "started system.check" in log_text(app, "run-events")


async def test_pane_keys_and_palette_commands(tmp_path: Path) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(100, 30)) as pilot:
        switcher = app.screen.query_one("#panes")
        for pane in ("data", "quantize", "eval", "runs"):
            await pilot.press("escape", pane_key(pane))  # escape leaves any text field a pane focused
            await pilot.pause()
            assert switcher.current == pane
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Go to Data", "Run a system check", "Prepare the built-in model"} <= titles


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_every_run_table_column_is_fully_visible(snapshot_runs: Path, size: tuple[int, int]) -> None:
    app = make_app(run_store=RunStore(snapshot_runs), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(RunTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="the runs listed")
        await pilot.pause()
        columns = table.ordered_columns
        assert sum(column.get_render_width(table) for column in columns) <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0  # nothing to scroll to: every column is in view
        for column in columns:
            width = column.content_width if column.auto_width else column.width
            assert len(column.label.plain) <= width, column.label
            for row in range(table.row_count):
                cell = table.get_cell_at((row, columns.index(column)))
                text = cell.plain if hasattr(cell, "plain") else str(cell)
                assert len(text) <= width, (column.label, text)
        assert table.columns["title"].width >= (12 if size[0] == 80 else 20)  # the title takes what is left
        assert [str(table.get_cell(key.value, "tag")) for key in table.rows] == ["e5f6", "c3d4", "a1b2"]  # newest first


async def test_a_refresh_repaints_only_the_cells_that_changed(snapshot_runs: Path) -> None:
    app = make_app(run_store=RunStore(snapshot_runs), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="the runs listed")
        runs = list(app.runs)
        repaints: list[tuple] = []
        real_refresh = table.refresh
        table.refresh = lambda *regions, **kw: repaints.append(regions) or real_refresh(*regions, **kw)  # type: ignore[method-assign]
        table.show_runs(runs)
        assert repaints == []  # nothing changed: nothing is repainted
        from dataclasses import replace

        renamed = replace(runs[0].status, title="renamed")
        table.show_runs([replace(runs[0], status=renamed), *runs[1:]])
        assert len(repaints) == 1 and len(repaints[0]) == 1  # one cell's region, not the whole table
        assert repaints[0][0].height == 1 and repaints[0][0].width < table.size.width
        assert str(table.get_cell(runs[0].id, "title")) == "renamed"


async def test_a_hidden_runs_pane_reads_nothing_and_catches_up_when_shown(tmp_path: Path) -> None:
    from .conftest import write_run

    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunTable)
        await pilot.press(pane_key("distill"))
        write_run(store.root, "20990101-000000-system-check-0001", "system.check", "done", title="while away")
        await wait_for(pilot, lambda: bool(app.runs), what="the app's watcher to list the run")
        await pilot.pause()
        assert table.row_count == 0  # the list reached the hidden pane, which did not redraw for it
        await pilot.press(pane_key("runs"))
        await wait_for(pilot, lambda: table.row_count == 1, what="the pane to catch up")
        await wait_for(pilot, lambda: "while away" in str(app.screen.query_one("#run-heading").render()), what="its detail")
