"""Token lengths of the rows a prepare would keep: a histogram scaled to the widget, and what is dropped.

Drawn from a dry run of ``prepare_dataset`` (``write=False``), so the counts are the ones
the prepare job will report. Redrawn on resize; no chart library needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from ...engine.data import PrepareResult


def summary(result: PrepareResult) -> Text:
    s = result.stats
    text = Text()
    text.append(f"{result.rows_in} rows in", style="bold")
    text.append(f" · kept {result.train_rows + result.eval_rows}: {result.train_rows} train, {result.eval_rows} eval")
    dropped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(result.dropped.items()) if n)
    text.append(f" · dropped: {dropped or 'none'}\n", style="yellow" if dropped else "")
    text.append(f"tokens {s.tokens:,} ({s.trained_tokens:,} trained) · per row: min {s.min}, median {s.median:g}, "
                f"mean {s.mean:g}, p95 {s.p95}, max {s.max}", style="dim")
    return text


class LengthHistogram(Static):
    DEFAULT_CSS = """
    LengthHistogram { height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self._result: PrepareResult | None = None
        self.update(Text("open a dataset; its token lengths appear here", style="dim"))

    def show_message(self, text: str | Text) -> None:
        self._result = None
        self.update(text)

    def show_result(self, result: PrepareResult) -> None:
        self._result = result
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self._result is None:
            return
        from ...engine.data.stats import histogram_lines

        result = self._result
        text = summary(result)
        hist = result.histogram
        label = max(len(f"{lo}-{hi - 1}") for lo, hi in zip(hist.edges, hist.edges[1:]))
        text.append(f"\n\n{'tokens':>{label}} │ rows per length\n", style="bold")
        width = max(10, (self.size.width or 80) - label - len(str(max(hist.counts, default=1))) - 6)
        text.append("\n".join(histogram_lines(hist, width=width)) if result.stats.rows else "no rows kept")
        self.update(text)
