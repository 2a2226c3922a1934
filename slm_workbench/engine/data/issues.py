"""Dataset problems, each naming the file, the line (or row), the field and a fix.

The most repeated complaint about the tools our users come from is a dataset error that
says nothing ("Cannot find valid samples"). Here every problem is an ``Issue`` that a
reader can act on::

    train.jsonl:7: messages[1].role: unknown role 'human' (hint: map it with --role human=user)

Row problems are collected (``IssueLog``), never raised, so one pass reports them all.
A file that cannot be read at all raises ``DataFileError`` (CLI exit code 2); settings
that cannot apply to the file (an unknown column in a template) raise ``DataFormatError``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import WorkbenchError

Severity = Literal["error", "warning"]


class DataFileError(WorkbenchError):
    """The file cannot be read at all (missing, compressed, binary, not UTF-8 text...)."""

    exit_code = 2


class DataFormatError(WorkbenchError):
    """The settings do not fit the data (unknown format, a mapped column that is not there...)."""


class DataValidationError(WorkbenchError):
    """A row failed validation under the ``abort`` policy; the message is the first issue."""


@dataclass(frozen=True)
class Issue:
    file: str
    code: str
    """A stable id for the kind of problem (``invalid_json``, ``unknown_role``...)."""
    message: str
    hint: str | None = None
    line: int | None = None
    """1-based line in the file, when the source has lines (JSONL, JSON, CSV)."""
    row: int | None = None
    """1-based data row (the Nth example), for every source."""
    field: str | None = None
    """Dotted path of the field, e.g. ``messages[1].role``."""
    severity: Severity = "error"

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.row is not None:
            return f"{self.file}: row {self.row}"
        return self.file

    @property
    def headline(self) -> str:
        """``file:line: field: message``, without the hint."""
        field = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field} {self.message}"

    def __str__(self) -> str:
        return self.headline + (f" (hint: {self.hint})" if self.hint else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Loc:
    """Where a row came from: its 1-based row number and, for text files, its first line."""

    row: int
    line: int | None = None

    def issue(self, file: str, code: str, message: str, *, field: str | None = None,
              hint: str | None = None, severity: Severity = "error") -> Issue:
        return Issue(file=file, code=code, message=message, hint=hint, line=self.line, row=self.row,
                     field=field, severity=severity)


class IssueLog:
    """Every issue counted; the first ``limit`` errors kept, and each kind of warning kept once.

    Warnings such as an ignored extra column repeat on every row; keeping the first of each
    (code, field) and a count says as much in one line.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.kept: list[Issue] = []
        self.counts: Counter[str] = Counter()
        self.warning_counts: Counter[tuple[str, str | None]] = Counter()
        self.errors = 0
        self.warnings = 0

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        if issue.severity == "warning":
            self.warnings += 1
            key = (issue.code, issue.field)
            if not self.warning_counts[key]:
                self.kept.append(issue)
            self.warning_counts[key] += 1
            return
        self.errors += 1
        if self.errors <= self.limit:
            self.kept.append(issue)

    def extend(self, issues: list[Issue]) -> None:
        for issue in issues:
            self.add(issue)

    def times_seen(self, issue: Issue) -> int:
        """How many times a kept warning occurred in all (1 for errors)."""
        if issue.severity == "warning":
            return self.warning_counts[(issue.code, issue.field)]
        return 1

    @property
    def truncated(self) -> int:
        """Errors counted but not kept."""
        return max(0, self.errors - self.limit)
