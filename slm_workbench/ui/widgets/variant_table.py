"""The variants of one comparison, one row each: sortable by any column (click its header),
the best trade-off highlighted, broken variants in red and last, selection kept across updates."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ..variant_rows import COLUMNS, VariantRow, best_first, sort_rows


class VariantTable(DataTable):
    @dataclass
    class Selected(Message):
        variant: str | None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column.label, key=column.key)
        self.rows_shown: list[VariantRow] = []
        self.sort_key: str | None = None
        self.sort_reverse = False
        self._selected: str | None = None

    @property
    def selected_variant(self) -> VariantRow | None:
        return next((r for r in self.rows_shown if r.name == self._selected), None)

    def show_rows(self, rows: list[VariantRow]) -> None:
        ordered = sort_rows(rows, self.sort_key, self.sort_reverse)
        if [r.name for r in ordered] == [r.name for r in self.rows_shown]:
            for row in ordered:
                for column, cell in zip(COLUMNS, self._cells(row)):
                    self.update_cell(row.name, column.key, cell, update_width=True)
        else:
            self.clear()
            for row in ordered:
                self.add_row(*self._cells(row), key=row.name)
        self.rows_shown = ordered
        names = [r.name for r in ordered]
        if self._selected in names:
            self.move_cursor(row=names.index(self._selected), scroll=False)
        elif ordered:
            self.move_cursor(row=0)
            self._select(ordered[0].name)
        else:
            self._select(None)

    def sort_by(self, key: str) -> None:
        """Sort by ``key``; the same column again flips the order."""
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, best_first(key)
        self.show_rows(self.rows_shown)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None:
            self._select(event.row_key.value)

    def _select(self, name: str | None) -> None:
        if name != self._selected:
            self._selected = name
            self.post_message(self.Selected(name))

    @staticmethod
    def _cells(row: VariantRow) -> list[Text]:
        style = "bold red" if row.broken else "bold green" if row.recommended else "dim" if row.reference else ""
        left = ("name", "status", "settings")
        return [Text(row.cell(column), style=style, justify="left" if column.key in left else "right")
                for column in COLUMNS]
