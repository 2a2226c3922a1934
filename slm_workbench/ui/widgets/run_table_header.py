"""The run table's columns, and what stands in for the table in the workbench's first frame.

``RunTableHeader`` draws what an empty ``RunTable`` draws (its border, its header row, the
same column widths) without building a ``DataTable``: the Runs pane shows it in the first
frame and puts the real table in its place one refresh later, before the first run list
arrives (bench/startup.py: the data table was the largest share of the first frame's cost
over a bare Textual app). tests/ui/test_first_paint.py checks that the two look the same.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

COLUMNS = (("title", "Run"), ("tag", "ID"), ("state", "State"), ("stage", "Stage"), ("created", "Created"),
           ("elapsed", "Elapsed"))
WIDTHS = {"tag": 4, "state": 11, "stage": 14, "created": 11, "elapsed": 7}
"""Every column but the title has a fixed width (content that outgrows it is cut)."""
MIN_TITLE = 8
SCROLLBAR = 2
"""Kept free for the vertical scrollbar, so the columns fit whether or not it shows."""
CELL_PADDING = 1
"""The data table's default padding on either side of a cell."""


def title_width(table_width: int) -> int:
    """What the fixed columns (and their padding, and a scrollbar) leave for the title."""
    padding = 2 * CELL_PADDING * len(COLUMNS)
    return max(MIN_TITLE, table_width - SCROLLBAR - padding - sum(WIDTHS.values()))


class RunTableHeader(Widget):
    """An empty, focused run table's picture: the header row across the table, on the table's background."""

    COMPONENT_CLASSES = {"run-table-header--header"}
    DEFAULT_CSS = """
    RunTableHeader {
        width: 1fr;
        height: 1fr;
        border: round $primary;  /* the table's, from app.tcss (#run-table) */
        background: $surface;
        background-tint: $foreground 5%;  /* the table has the keys: it looks focused */
        color: $foreground;
        & > .run-table-header--header {
            text-style: bold; background: $panel; background-tint: $foreground 5%; color: $foreground;
        }
        &:ansi > .run-table-header--header { background: ansi_bright_blue; color: ansi_default; }
    }
    """

    def render(self) -> Text:
        style = self.get_component_rich_style("run-table-header--header")
        widths = {**WIDTHS, "title": title_width(self.size.width)}
        pad = " " * CELL_PADDING
        line = "".join(f"{pad}{label:<{widths[key]}}{pad}"[: widths[key] + 2 * CELL_PADDING] for key, label in COLUMNS)
        return Text(line.ljust(self.size.width), style=style, no_wrap=True, overflow="crop", end="")
