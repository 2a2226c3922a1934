"""What a ``data.generate`` run leaves in its output folder (``artifacts/generated`` unless the
recipe names another): the names its readers (the distillation, the Distill pane, the CLI) use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runs.run import Run

GENERATED_DIR = "generated"
"""The ``data.generate`` run's default output folder, under its ``artifacts``."""
GENERATED_ROWS = "rows.jsonl"
"""Every answer with its verdict, one JSON object per line (the resume state of a generation)."""
GENERATED_DATA = "data.jsonl"
"""The kept rows as a chat dataset (``{"messages": [...]}`` per line): what the student trains on."""
GENERATED_MANIFEST = "manifest.json"

KEPT = "kept"
ERROR = "error"
"""The verdict of a row whose answer failed (an endpoint error): asked again on resume."""


@dataclass(frozen=True)
class Verdict:
    """What became of one answer: ``kept``, or the kind of reason it was dropped (``not JSON``,
    ``checker``, ``error`` ...) with its detail. A row of ``rows.jsonl`` holds both as fields,
    ``verdict`` and ``reason``."""

    kind: str
    reason: str = ""

    @property
    def kept(self) -> bool:
        return self.kind == KEPT

    def fields(self) -> dict[str, str]:
        return {"verdict": self.kind, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


def read_verdict(row: dict[str, Any]) -> Verdict:
    """The verdict of a row of ``rows.jsonl``. Rows written before it had fields hold it as one
    ``"kind: detail"`` string in ``verdict``: read as such, so an old generation still resumes."""
    value = str(row.get("verdict") or "")
    if "reason" in row:
        return Verdict(value, str(row.get("reason") or ""))
    kind, _, reason = value.partition(":")
    return Verdict(kind.strip(), reason.strip())


def generated_rows(generate_run_dir: Path) -> Path:
    """``rows.jsonl`` of a ``data.generate`` run that wrote to its default folder."""
    return Run(Path(generate_run_dir)).artifact(GENERATED_DIR) / GENERATED_ROWS
