"""Text output of ``slmw data``: issue lines, a rendered sample with its loss mask, progress."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from ..engine.data import Issue, PrepareResult, RenderedSample, histogram_lines
from .output import human_bytes

TRAINED_OPEN, TRAINED_CLOSE = "⟦", "⟧"


def issue_lines(issue: Issue, times: int = 1) -> list[str]:
    more = f" (and {times - 1} more rows like it)" if times > 1 else ""
    tag = "warning: " if issue.severity == "warning" else ""
    lines = [f"{issue.where}: {tag}{issue.field + ': ' if issue.field else ''}{issue.message}{more}"]
    if issue.hint:
        lines.append(f"    hint: {issue.hint}")
    return lines


def show_sample(sample: RenderedSample, out: TextIO) -> None:
    """The rendered text with trained tokens marked: green on a terminal, else in ⟦ ⟧."""
    color = out.isatty()
    for text, trained in sample.segments():
        if color:
            out.write(f"\x1b[1;32m{text}\x1b[0m" if trained else f"\x1b[2m{text}\x1b[0m")
        else:
            out.write(f"{TRAINED_OPEN}{text}{TRAINED_CLOSE}" if trained else text)
    out.write("\n")


def cell(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(result: PrepareResult) -> list[str]:
    dropped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(result.dropped.items())) or "none"
    s = result.stats
    share = f" ({s.trained_tokens / s.tokens:.0%})" if s.tokens else ""
    return [
        f"rows: {result.rows_in} in, {result.train_rows + result.eval_rows} kept "
        f"({result.train_rows} train, {result.eval_rows} eval); dropped: {dropped}",
        f"tokens: {s.tokens:,} total, {s.trained_tokens:,} trained{share}; length min {s.min}, "
        f"median {s.median:g}, mean {s.mean:g}, p95 {s.p95}, max {s.max}",
        "token lengths:",
        *("  " + line for line in histogram_lines(result.histogram)),
    ]


class ProgressPrinter:
    """One self-overwriting status line on a terminal's stderr; silent otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.last = 0.0

    def __call__(self, phase: str, done: float, total: float | None, unit: str) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and not (total and done >= total)):
            return
        self.last = now
        amount = (human_bytes(done) if unit == "bytes" else f"{int(done):,} {unit}")
        if total:
            amount += f" / {human_bytes(total) if unit == 'bytes' else f'{int(total):,}'} ({done / total:.0%})"
        self.stream.write(f"\r\x1b[K{self.label}: {phase} {amount}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
