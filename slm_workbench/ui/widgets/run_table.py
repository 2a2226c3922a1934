"""The run list: one row per run, updated in place, selection kept across refreshes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...engine.runs.store import RunInfo
from ..format import STATE_STYLES, clock, duration

COLUMNS = (("id", "Run"), ("state", "State"), ("stage", "Stage"), ("created", "Created"), ("elapsed", "Elapsed"))
WIDTHS = {"state": 11, "elapsed": 7}
"""Columns whose content changes width while a run lives get a fixed width."""


class RunTable(DataTable):
    @dataclass
    class Selected(Message):
        """The user moved to another run (or the first run appeared)."""

        run_id: str | None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key))
        self._runs: dict[str, RunInfo] = {}
        self._selected: str | None = None
        self._wanted: str | None = None

    @property
    def selected_run(self) -> RunInfo | None:
        return self._runs.get(self._selected) if self._selected else None

    def show_runs(self, runs: list[RunInfo], *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        fresh = {run.id: run for run in runs}
        for gone in set(self._runs) - set(fresh):
            self.remove_row(gone)
        for run in runs:
            cells = self._cells(run, now)
            if run.id in self._runs:
                for (key, _), value in zip(COLUMNS, cells):
                    self.update_cell(run.id, key, value)
            else:
                self.add_row(*cells, key=run.id)
        self._runs = fresh
        self.sort("id", reverse=True)
        if self._wanted in fresh:
            self._selected, self._wanted = self._wanted, None
            self.move_cursor(row=self.get_row_index(self._selected))
            self.post_message(self.Selected(self._selected))
        elif self._selected in fresh:
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

    @staticmethod
    def _cells(run: RunInfo, now: float) -> tuple:
        status = run.status
        elapsed = None
        if status and status.started:
            elapsed = (status.ended or (now if run.alive else status.started)) - status.started
        state = Text(run.state, style=STATE_STYLES.get(run.state, ""))
        return (run.id, state, run.stage, clock(status.created if status else None), duration(elapsed))
