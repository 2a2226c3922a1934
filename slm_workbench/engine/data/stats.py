"""Summary statistics and a token-length histogram (bin data for a chart, lines for a terminal)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Histogram:
    edges: list[int]
    """``len(counts) + 1`` bin edges; bin i holds lengths in ``[edges[i], edges[i + 1])``."""
    counts: list[int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LengthStats:
    rows: int
    tokens: int
    trained_tokens: int
    min: int
    max: int
    mean: float
    median: float
    p95: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nice_width(span: int, bins: int) -> int:
    raw = max(1.0, span / bins)
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if step * magnitude >= raw:
            return int(step * magnitude)
    return int(10 * magnitude)


def histogram(lengths: Sequence[int], bins: int = 20) -> Histogram:
    """At most about ``bins`` bins of a round width (1, 2, 5 x 10^k), from the shortest length
    (rounded down to the width) to the longest."""
    if not lengths:
        return Histogram([0, 1], [0])
    low, top = min(lengths), max(lengths)
    width = _nice_width(top - low + 1, bins)
    start = low // width * width
    n = (top - start) // width + 1
    counts = [0] * n
    for length in lengths:
        counts[(length - start) // width] += 1
    return Histogram([start + i * width for i in range(n + 1)], counts)


def length_stats(lengths: Sequence[int], trained: Sequence[int] = ()) -> LengthStats:
    if not lengths:
        return LengthStats(0, 0, 0, 0, 0, 0.0, 0.0, 0)
    ordered = sorted(lengths)
    n = len(ordered)
    mid = n // 2
    median = float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return LengthStats(
        rows=n, tokens=sum(ordered), trained_tokens=sum(trained), min=ordered[0], max=ordered[-1],
        mean=round(sum(ordered) / n, 2), median=median, p95=ordered[min(n - 1, math.ceil(0.95 * n) - 1)],
    )


def histogram_lines(hist: Histogram, width: int = 40) -> list[str]:
    """A text histogram: one line per bin, ``[lo, hi)`` label, a bar scaled to ``width``, the count."""
    peak = max(hist.counts) or 1
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(hist.edges, hist.edges[1:])]
    pad = max(len(label) for label in labels)
    digits = len(str(peak))
    lines = []
    for label, count in zip(labels, hist.counts):
        cells = count / peak * width
        bar = "█" * int(cells) + ("▌" if cells - int(cells) >= 0.5 else "")
        if count and not bar:
            bar = "▏"
        lines.append(f"{label:>{pad}} │{bar:<{width}} {count:>{digits}}")
    return lines
