"""A load benchmark's table as it fills: one row per client count of the recipe, in its order.

A client count already measured shows its ``metrics.jsonl`` row (``deploy.bench`` writes one
per count as it finishes it); the one its last progress event is about (``item_index``) says it
is being measured; the rest wait, or were never measured once the run ended. The speed-up is
the aggregate tokens/s against the one-client row's, as ``bench.json`` has it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

COLUMNS = (("clients", "clients"), ("requests", "reqs"), ("errors", "errors"), ("ttft_p50_s", "TTFT p50"),
           ("ttft_p95_s", "TTFT p95"), ("tok_s_aggregate", "tok/s all"), ("speedup", "× 1 client"),
           ("tok_s_per_client", "tok/s each"), ("peak_rss_mb", "peak RSS MB"))
"""The figures a user compares first come first: an 80-column terminal shows up to the speed-up."""


def bench_rows(planned: list[int], measured: list[dict[str, Any]], running: bool, measuring: int | None = None
               ) -> list[tuple[Text | str, ...]]:
    """The table's cells: every planned client count (and any measured one the plan lacks);
    ``measuring``: the position (from 1) of the count under way while ``running`` (None: none yet)."""
    by_clients = {row.get("clients"): row for row in measured if isinstance(row.get("clients"), int)}
    one = (by_clients.get(1) or {}).get("tok_s_aggregate")
    order = list(dict.fromkeys([*planned, *by_clients]))
    out = []
    for position, clients in enumerate(order, 1):
        row = by_clients.get(clients)
        if row is None:
            note = "not measured" if not running else "measuring…" if position == measuring else "waiting"
            out.append((str(clients), "", "", Text(note, style="yellow" if note == "measuring…" else "dim"),
                        *[""] * (len(COLUMNS) - 4)))
            continue
        total = row.get("tok_s_aggregate")
        speedup = total / one if isinstance(total, (int, float)) and one else None
        cells: list[Text | str] = []
        for key, _label in COLUMNS:
            value = speedup if key == "speedup" else row.get(key)
            style = "bold red" if key == "errors" and value else ""
            cells.append(Text(_cell(value, key), style=style))
        out.append(tuple(cells))
    return out


def _cell(value: Any, key: str) -> str:
    if value is None:
        return "—"
    if key == "speedup":
        return f"{value:.2f}×"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


class BenchTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self._shown: list[tuple[Any, ...]] = []

    def show(self, planned: list[int], measured: list[dict[str, Any]], running: bool, measuring: int | None) -> None:
        rows = bench_rows(planned, measured, running, measuring)
        if [tuple(map(str, r)) for r in rows] == self._shown:
            return  # nothing new: no redraw
        self._shown = [tuple(map(str, r)) for r in rows]
        self.clear()
        for cells in rows:
            self.add_row(*cells)
