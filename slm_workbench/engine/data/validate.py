"""Validate every row of a dataset and report each problem with its file, line, field and fix.

Without a tokenizer the checks are structural (JSON, columns, types, roles, turn order).
With one (``model`` or ``max_length`` given) each row is also rendered with the template
and tokenized, so "too long for max_length" is measured on what the trainer would see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .formats import FormatSpec
from .issues import Issue
from .pipeline import plan, run_pass
from .readers import ProgressFn
from .sources import Source
from .tokenizer import load_tokenizer


@dataclass(frozen=True)
class ValidationReport:
    file: str
    kind: str
    format: str
    """The format used (``messages``, ``prompt_completion (prompt=question)``, ``template``...)."""
    detected: str
    """Why that format: "chosen", or what detection saw."""
    rows: int
    invalid: int
    too_long: int
    errors: int
    warnings: int
    counts: dict[str, int]
    """Issues by code, all of them (``issues`` keeps the first ``max_issues``)."""
    issues: list[Issue]
    repeats: dict[int, int] = field(default_factory=dict)
    """For kept warnings (by index in ``issues``): how many rows had the same warning."""
    truncated: int = 0
    tokenizer: str | None = None

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.rows > 0

    @property
    def valid(self) -> int:
        return self.rows - self.invalid - self.too_long

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "kind": self.kind, "format": self.format, "detected": self.detected,
            "ok": self.ok, "rows": self.rows, "valid": self.valid, "invalid": self.invalid,
            "too_long": self.too_long, "errors": self.errors, "warnings": self.warnings, "counts": self.counts,
            "issues": [{**i.as_dict(), "times": self.repeats.get(n, 1)} for n, i in enumerate(self.issues)],
            "issues_not_listed": self.truncated, "tokenizer": self.tokenizer,
        }


def validate(
    source: Source | str,
    *,
    format: str | FormatSpec | None = None,
    columns: dict[str, str] | None = None,
    roles: dict[str, str] | None = None,
    template: str | None = None,
    model: str | None = None,
    chat_template: str | None = None,
    max_length: int | None = None,
    train_on: str = "completion",
    max_issues: int = 1000,
    on_progress: ProgressFn | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> ValidationReport:
    """Check every row. Raises ``DataFileError`` (unreadable file) or ``DataFormatError``
    (settings that cannot fit the file); row problems are in the report, never raised."""
    the_plan = plan(source, format=format, columns=columns, roles=roles, template=template)
    tokenizer = load_tokenizer(model, chat_template) if (model or max_length) else None
    result = run_pass(the_plan, tokenizer=tokenizer, train_on=train_on, max_length=max_length,  # type: ignore[arg-type]
                      max_issues=max_issues, on_progress=on_progress, check_cancelled=check_cancelled)
    log = result.log
    kept = sorted(log.kept, key=lambda i: (i.row or 0, i.line or 0))  # length issues come a batch late
    fmt = f"template {the_plan.template.source!r}" if the_plan.template else (
        the_plan.spec.describe() if the_plan.spec else "unknown")
    chosen = format not in (None, "auto") or template
    return ValidationReport(
        file=the_plan.source.spec, kind=the_plan.source.kind, format=fmt,
        detected="chosen" if chosen else the_plan.detection.reason,
        rows=result.rows_in, invalid=result.invalid, too_long=result.dropped["too_long"],
        errors=log.errors, warnings=log.warnings, counts=dict(log.counts), issues=kept,
        repeats={n: log.times_seen(i) for n, i in enumerate(kept) if i.severity == "warning"},
        truncated=log.truncated, tokenizer=getattr(tokenizer, "name_or_path", None) if tokenizer else None,
    )
