"""The Runs pane's first frame: the run table's stand-in looks as the empty, focused table does."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region

from slm_workbench.shipped import styles_dir
from slm_workbench.ui.widgets.run_table import RunTable
from slm_workbench.ui.widgets.run_table_header import RunTableHeader


def cells(widget) -> list[list[tuple[str, object]]]:
    """Every cell the widget draws (border included), with its colours and attributes."""
    lines = widget.render_lines(Region(0, 0, widget.outer_size.width, widget.outer_size.height))
    return [[(char, str(seg.style)) for seg in line for char in seg.text] for line in lines]  # str: no mouse meta


class Both(App):
    CSS_PATH = styles_dir() / "app.tcss"
    CSS = "Horizontal { height: 8; }"  # as in the Runs pane: the table fills its row (app.tcss)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield RunTableHeader(id="run-table-header")
        with Horizontal():
            yield RunTable(id="run-table")

    def on_mount(self) -> None:
        for widget in (self.query_one(RunTableHeader), self.query_one(RunTable)):
            widget.border_title = "Runs"
        self.query_one(RunTable).focus()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_stand_in_draws_what_the_empty_table_draws(size: tuple[int, int]) -> None:
    app = Both()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        header, table = app.query_one(RunTableHeader), app.query_one(RunTable)
        assert app.focused is table and header.outer_size == table.outer_size
        assert cells(header) == cells(table)
