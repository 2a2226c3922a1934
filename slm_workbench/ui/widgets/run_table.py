"""The run list: one row per run, updated in place, selection kept across refreshes.

Every column fits the table at 80x24 and 120x40: the run's title takes what the fixed columns
leave (cut with an ellipsis), and the run is named by the last four hex digits of its id,
which ``slmw runs show`` accepts (the full id and folder are in the detail heading). Only cells
whose value changed are updated: an unchanged refresh redraws nothing. Cells and labels are
``Text``: a str would be parsed as markup (a "[" in a title) and costs the first frame rich's
emoji table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.coordinate import Coordinate
from textual.widgets.data_table import ColumnKey, RowKey

from ..format import STATE_STYLES, clock, duration
from .run_table_header import COLUMNS, MIN_TITLE, WIDTHS, title_width

if TYPE_CHECKING:
    from ...engine.runs.store import RunInfo


class RunTable(DataTable):
    @dataclass
    class Selected(Message):
        """The user moved to another run (or the first run appeared)."""

        run_id: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on mount: a job started from another pane asks for its run (select_run) as the
        # Runs pane is being shown, which can come before this table's mount under load.
        self._runs: dict[str, RunInfo] = {}
        self._selected: str | None = None
        self._wanted: str | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(Text(label), key=key, width=WIDTHS.get(key, MIN_TITLE))  # Text: a str is parsed as markup

    @property
    def selected_run(self) -> RunInfo | None:
        return self._runs.get(self._selected) if self._selected else None

    def show_runs(self, runs: list[RunInfo], *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        fresh = {run.id: run for run in runs}
        if [r.id for r in runs] != list(self._runs):  # a run came or went: rebuild, newest first
            keep = self._wanted if self._wanted in fresh else self._selected
            with self.prevent(DataTable.RowHighlighted):  # the rebuild moves no selection
                self.clear()
                for run in runs:
                    self.add_row(*self._cells(run, now), key=run.id)
                if keep in fresh:
                    self.move_cursor(row=self.get_row_index(keep), scroll=False)
        else:
            for run in runs:
                for (key, _), old, value in zip(COLUMNS, self.get_row(run.id), self._cells(run, now)):
                    if old != value:
                        self._set_cell(run.id, key, value)
        self._runs = fresh
        if self._wanted in fresh:
            self._selected, self._wanted = self._wanted, None
            self.move_cursor(row=self.get_row_index(self._selected))
            self.post_message(self.Selected(self._selected))
        elif self._selected in fresh:
            if self.cursor_row != self.get_row_index(self._selected):
                self.move_cursor(row=self.get_row_index(self._selected), scroll=False)
        elif runs:
            self.move_cursor(row=0)
            self._select(runs[0].id)
        else:
            self._select(None)

    def select_run(self, run_id: str) -> None:
        """Select ``run_id`` now, or as soon as a refresh lists it (a job just started)."""
        if run_id in self._runs:
            self.move_cursor(row=self.get_row_index(run_id))
            self._select(run_id)
        else:
            self._wanted = run_id

    def _select(self, run_id: str | None) -> None:
        if run_id != self._selected:
            self._selected = run_id
            self.post_message(self.Selected(run_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value in self._runs:
            self._select(event.row_key.value)

    def _set_cell(self, run_id: str, key: str, value: Text) -> None:
        """``update_cell``, repainting only that cell (``update_cell`` repaints the whole table, and the
        elapsed time of a running job changes every second). Every column has a fixed width."""
        self._data[RowKey(run_id)][ColumnKey(key)] = value
        self._update_count += 1  # the table's render caches are keyed on it
        self.refresh_coordinate(Coordinate(self.get_row_index(run_id), self.get_column_index(key)))

    def on_resize(self) -> None:
        width = self._title_width()
        column = self.columns[ColumnKey("title")]
        if width == column.width:
            return
        column.width = width
        for run in self._runs.values():
            self.update_cell(run.id, "title", Text(self._title_cell(run.title)))
        self._require_update_dimensions = True
        self.refresh(layout=True)

    def _title_width(self) -> int:
        """What the fixed columns (and their padding, and a scrollbar) leave for the title."""
        return title_width(self.size.width)

    def _title_cell(self, title: str) -> str:
        return _cut(title, self.columns[ColumnKey("title")].width)

    def _cells(self, run: RunInfo, now: float) -> tuple:
        status = run.status
        elapsed = None
        if status and status.started:
            elapsed = (status.ended or (now if run.alive else status.started)) - status.started
        state = Text(run.state, style=STATE_STYLES.get(run.state, ""))
        return (Text(self._title_cell(run.title)), Text(run.id[-4:]), state, Text(_cut(run.stage, WIDTHS["stage"])),
                Text(clock(status.created if status else None)), Text(duration(elapsed)))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
