"""Human-readable sizes, shared by the CLI (``9.8 GB``) and the TUI's tight cells (``9.8G``)."""

from __future__ import annotations


def human_bytes(n: float | None, *, compact: bool = False) -> str:
    if n is None:
        return "-"
    units = ("B", "K", "M", "G", "T") if compact else ("B", "KB", "MB", "GB", "TB")
    sep = "" if compact else " "
    for unit in units:
        if abs(n) < 1000 or unit == units[-1]:
            whole = unit == "B" or (compact and unit == "K")
            return f"{n:.0f}{sep}{unit}" if whole else f"{n:.1f}{sep}{unit}"
        n /= 1000
    return f"{n:.1f}{sep}{units[-1]}"
