"""Metrics lines of a run, sorted into plottable series (no Textual: testable and benchable)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .widgets.metric_chart import Series

VIEWS: dict[str, tuple[str, ...]] = {
    "loss": ("loss", "eval_loss"),
    "learning rate": ("learning_rate",),
    "grad norm": ("grad_norm",),
    "tokens/s": ("tokens_per_s",),
    "TFLOP/s": ("tflops",),
}
"""What the chart can show: a view name and the metrics keys drawn in it."""


class RunSeries:
    def __init__(self) -> None:
        self.by_key: dict[str, Series] = {}

    def add(self, rows: Iterable[dict[str, Any]]) -> bool:
        """Append metrics rows; True when any plottable point was added."""
        added = False
        for row in rows:
            step = row.get("step")
            if not isinstance(step, (int, float)):
                continue
            for key in {k for keys in VIEWS.values() for k in keys}:
                value = row.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.by_key.setdefault(key, Series(key)).add(float(step), float(value))
                    added = True
        return added

    def views(self) -> list[str]:
        return [name for name, keys in VIEWS.items() if any(k in self.by_key for k in keys)]

    def curves(self, view: str) -> list[Series]:
        return [self.by_key[k] for k in VIEWS.get(view, ()) if k in self.by_key]
