"""The examples of one eval run (or the pairs of two), in the order the pane gives, selection kept.

Rows of a run never change once written, so an update only removes the rows filtered out,
adds the rows that arrived and re-sorts: a live run growing by a row redraws one row, not
the table. The first column is the example's number in the data, from 1 (the same in both runs of a
pair); its index (from 0) is the row's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

if TYPE_CHECKING:
    from ...engine.eval.diff import Pair
    from ...engine.eval.results import Prediction

OUTCOME_LABELS = {"fixed": ("fixed", "bold green"), "broken": ("broken", "bold red"),
                  "both_fail": ("both fail", "red"), "both_pass": ("both pass", "dim")}
ANSWER_CHARS = 200
"""Characters of an answer put in its cell (the cell shows what fits; the detail shows it all)."""
SCROLLBAR = 2
MIN_ANSWER = 10


def score_cell(task: float | None, passed: bool) -> Text:
    return Text("-" if task is None else f"{task:.2f}", style="green" if passed else "red", justify="right")


def answer_cell(row: Prediction) -> Text:
    if row.error:
        return Text(f"error: {row.error}", style="bold red", no_wrap=True, overflow="ellipsis")
    one_line = " ".join(row.prediction.split())[:ANSWER_CHARS]
    return Text(one_line or "(empty)", style="" if one_line else "dim italic", no_wrap=True, overflow="ellipsis")


class EvalExamples(DataTable):
    @dataclass
    class Selected(Message):
        """The highlighted example changed (its index in the data), or none is shown."""

        index: int | None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.mode = ""
        self.order: list[int] = []
        self._selected: int | None = None

    @property
    def selected(self) -> int | None:
        return self._selected

    def show_examples(self, rows: list[Prediction]) -> None:
        """One run's examples, in this order: # | task | pass | answer."""
        self._set_mode("single", (("#", 4), ("task", 5), ("", 1), ("answer", None)))
        self._show({r.index: r for r in rows}, [r.index for r in rows], lambda r: (
            Text(str(r.index + 1), style="dim"), score_cell(r.task, r.passed),
            Text("✓" if r.passed else "✗", style="green" if r.passed else "bold red"), answer_cell(r)))

    def show_pairs(self, pairs: list[Pair]) -> None:
        """Two runs' examples, in this order: # | A | B | change | B's answer."""
        self._set_mode("pairs", (("#", 4), ("A", 5), ("B", 5), ("change", 9), ("B's answer", None)))
        self._show({p.a.index: p for p in pairs}, [p.a.index for p in pairs], lambda p: (
            Text(str(p.a.index + 1), style="dim"), score_cell(p.a.task, p.a.passed), score_cell(p.b.task, p.b.passed),
            Text(*OUTCOME_LABELS[p.outcome]), answer_cell(p.b)))

    def reset(self) -> None:
        """Another run: nothing shown is kept (the same index is another example there)."""
        self.mode = ""

    # -- internals ----------------------------------------------------------------------------
    def _set_mode(self, mode: str, columns: tuple[tuple[str, int | None], ...]) -> None:
        if mode == self.mode:
            return
        self.clear(columns=True)
        for label, width in columns:
            self.add_column(Text(label), key=label or "pass", width=width or MIN_ANSWER)
        self._answer_key = columns[-1][0]
        self.mode, self.order = mode, []
        self.on_resize()

    def on_resize(self) -> None:
        """The answer takes what the fixed columns (their padding, a scrollbar) leave."""
        if not self.mode:
            return
        columns = list(self.columns.values())
        fixed = sum(c.width for c in columns[:-1]) + 2 * self.cell_padding * len(columns)
        width = max(MIN_ANSWER, self.size.width - SCROLLBAR - fixed)
        column = self.columns[ColumnKey(self._answer_key)]
        if column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh(layout=True)

    def _show(self, items: dict, order: list[int], cells) -> None:  # noqa: ANN001 - row -> cells
        """Rows ``order`` (indices into ``items``); ``cells`` makes a new row's cells."""
        wanted = set(order)
        if order != self.order:
            shown = set(self.order)
            with self.prevent(DataTable.RowHighlighted):  # the cursor is placed below
                for index in shown - wanted:
                    self.remove_row(str(index))
                for index in order:
                    if index not in shown:
                        self.add_row(*cells(items[index]), key=str(index))
                rank = {str(index): k for k, index in enumerate(order)}
                self.sort("#", key=lambda cell: rank[str(int(cell.plain) - 1)])  # the number shown is the index + 1
            self.order = order
        with self.prevent(DataTable.RowHighlighted):
            if self._selected in wanted:
                self.move_cursor(row=self.get_row_index(str(self._selected)), scroll=False)
            elif order:
                self.move_cursor(row=0)
        if self._selected not in wanted:
            self._select(order[0] if order else None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self._select(int(event.row_key.value))

    def _select(self, index: int | None) -> None:
        if index != self._selected:
            self._selected = index
            self.post_message(self.Selected(index))
