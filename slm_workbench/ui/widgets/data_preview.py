"""The preview table: one line per row of the file, bad rows marked, keyed by row number.

Rows that are not JSON objects (a broken line) still get a line, showing the problem in
place of the values, so "line 7" in a report is a line here too. Moving the cursor posts
``DataPreview.RowChosen``; ``show_row`` moves it to a row from elsewhere (the report).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

if TYPE_CHECKING:
    from ...engine.data import Issue, Preview


def cell_text(value: Any, width: int) -> str:
    """One line that gives the gist of a value: a conversation as ``role: text | role: text``."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        parts = []
        for m in value:
            role = m.get("role", m.get("from", "?"))
            content = m.get("content", m.get("value", ""))
            parts.append(f"{role}: {content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)}")
        text = " │ ".join(parts)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False)
    text = text.replace("\r", "").replace("\n", "⏎")
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


@dataclass(frozen=True)
class PreviewRow:
    row: int
    line: int | None
    value: dict[str, Any] | None
    """None for a row that could not be read (``issues`` say why)."""
    issues: tuple[Issue, ...]

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else f"row {self.row}"

    @property
    def bad(self) -> bool:
        return any(i.severity == "error" for i in self.issues)


def preview_rows(pv: Preview) -> list[PreviewRow]:
    """The preview's readable rows and its unreadable ones, in file order."""
    by_row: dict[int, list[Issue]] = {}
    for issue in pv.issues:
        if issue.row is not None:
            by_row.setdefault(issue.row, []).append(issue)
    rows = {loc.row: PreviewRow(loc.row, loc.line, value, tuple(by_row.get(loc.row, ())))
            for loc, value in zip(pv.locs, pv.rows)}
    for row, issues in by_row.items():
        if row not in rows:
            rows[row] = PreviewRow(row, issues[0].line, None, tuple(issues))
    return [rows[r] for r in sorted(rows)]


class DataPreview(DataTable):
    DEFAULT_CSS = """
    DataPreview { height: 1fr; }
    """

    @dataclass
    class RowChosen(Message):
        row: PreviewRow

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._rows: list[PreviewRow] = []

    @property
    def rows_shown(self) -> list[PreviewRow]:
        return self._rows

    def show(self, pv: Preview, focus_row: int | None = None) -> None:
        self.clear(columns=True)
        self._rows = preview_rows(pv)
        columns = pv.columns or ["value"]
        width = max(16, (self.size.width or 100) - 14) // len(columns)
        table: list[tuple[Text | str, str, list[Text | str]]] = []
        for row in self._rows:
            mark = Text("✗", style="bold red") if row.bad else Text("!", style="yellow") if row.issues else ""
            where = str(row.line if row.line is not None else row.row)
            if row.value is None:
                message = row.issues[0].message if row.issues else "unreadable"
                cells: list[Text | str] = [Text(cell_text(message, width), style="red")] + [""] * (len(columns) - 1)
            else:
                cells = [cell_text(row.value[c], width) if c in row.value else Text("—", style="dim") for c in columns]
            table.append((mark, where, cells))
        # Fixed column widths, measured here: the table is rebuilt whole on every load.
        self.add_column("", key="mark", width=1)
        self.add_column("line" if any(r.line for r in self._rows) else "row", key="where",
                        width=max([4] + [len(where) for _, where, _ in table]))
        for n, name in enumerate(columns):
            self.add_column(name, key=f"col:{name}", width=max([len(name)] + [len(str(cells[n])) for *_, cells in table]))
        for (mark, where, cells), row in zip(table, self._rows):
            self.add_row(mark, where, *cells, key=str(row.row))
        if self._rows:
            self.show_row(focus_row if focus_row is not None else self._rows[0].row)

    def empty(self) -> None:
        self.clear(columns=True)
        self._rows = []

    def show_row(self, row: int) -> bool:
        """Move the cursor to data row ``row``; False when it is not among the rows shown."""
        for index, shown in enumerate(self._rows):
            if shown.row == row:
                if index == self.cursor_row:  # no move, so no highlight event: the caller still wants it shown
                    self.post_message(self.RowChosen(shown))
                self.move_cursor(row=index)
                return True
        return False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self._rows):
            self.post_message(self.RowChosen(self._rows[event.cursor_row]))
