"""Small text formatters for the views (no ML imports)."""

from __future__ import annotations

import time

from ..engine.units import human_bytes as _human_bytes

STATE_STYLES = {
    "queued": "yellow",
    "running": "bold cyan",
    "done": "green",
    "failed": "bold red",
    "cancelled": "magenta",
    "interrupted": "bold yellow",
    "corrupt": "red",
}


def bar(fraction: float, width: int) -> str:
    fraction = max(0.0, min(1.0, fraction))
    full = int(fraction * width)
    return "█" * full + "░" * (width - full)


def human_bytes(n: float) -> str:
    return _human_bytes(n, compact=True)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60:d}:{seconds % 60:02d}"
    return f"{seconds // 3600:d}h{seconds % 3600 // 60:02d}"


def clock(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"
