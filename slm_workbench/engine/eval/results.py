"""Reading an eval run's files (docs/eval.md): its scored examples and its report.

Pure functions over ``artifacts/predictions.jsonl`` and ``artifacts/eval_report.json``, for
the Eval pane and ``slmw eval`` alike: nothing here runs a model or imports one. Two runs
compared is ``diff.py``.

- ``read_predictions`` / ``EvalRunReader`` / ``read_report``: the files as typed rows. A
  damaged line never breaks a reader (it becomes a ``CorruptLine``); a truncated last line (a
  job killed mid-write, or one still writing) is left out, as the stage itself resumes; an
  example scored again (an error retried on resume) counts by its last row, as in the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptRunFileError
from ..events import CorruptLine, Progress
from ..runs.run import EVAL_REPORT, PREDICTIONS, Run
from ..runs.tail import FileTail

TASK = "task"
PERPLEXITY = "perplexity"
LOWER_IS_BETTER = frozenset({PERPLEXITY})
"""Metrics where a smaller number is the better one (every other one: larger is better)."""

def predictions_path(run_dir: Path) -> Path:
    return Run(Path(run_dir)).artifact(PREDICTIONS)


def report_path(run_dir: Path) -> Path:
    return Run(Path(run_dir)).artifact(EVAL_REPORT)


# -- one scored example -------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    """One row of ``predictions.jsonl``: an example, the target's answer and its scores."""

    index: int
    id: str
    messages: list[dict[str, Any]]
    reference: str
    prediction: str
    task: float | None
    passed: bool
    scores: dict[str, float | None] = field(default_factory=dict)
    fields: dict[str, bool] | None = None
    nll: float | None = None
    ref_tokens: int | None = None
    seconds: float | None = None
    error: str | None = None

    @property
    def prompt(self) -> str:
        """The conversation the target answered, one ``role: content`` paragraph per turn."""
        if len(self.messages) == 1:
            return str(self.messages[0].get("content", ""))
        return "\n\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in self.messages)

    def score(self, metric: str) -> float | None:
        return self.task if metric == TASK else self.scores.get(metric)


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is {value!r}, not a number")
    return float(value)


def prediction_from_dict(data: Any, line_no: int = 0) -> Prediction:
    """A row as the stage writes it; ``ValueError`` naming the field that is wrong."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    for key in ("id", "reference", "prediction"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"{key!r} is missing or not a string")
    scores = data.get("scores") or {}
    messages = data.get("messages") or []
    fields = data.get("fields")
    if not isinstance(scores, dict) or not isinstance(messages, list) or not (fields is None or isinstance(fields, dict)):
        raise ValueError("'scores', 'messages' or 'fields' has the wrong type")
    index = data.get("index", line_no - 1)
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError(f"'index' is {index!r}, not an integer")
    task = _number(data.get("task"), "task")
    return Prediction(
        index=index, id=data["id"], messages=[m for m in messages if isinstance(m, dict)],
        reference=data["reference"], prediction=data["prediction"], task=task,
        passed=bool(data.get("passed", False)), scores={str(k): _number(v, f"scores.{k}") for k, v in scores.items()},
        fields={str(k): bool(v) for k, v in fields.items()} if fields is not None else None,
        nll=_number(data.get("nll"), "nll"), ref_tokens=data.get("ref_tokens") if isinstance(data.get("ref_tokens"), int) else None,
        seconds=_number(data.get("seconds"), "seconds"), error=data.get("error") if isinstance(data.get("error"), str) else None,
    )


def decode_prediction(text: str, *, path: str, line_no: int) -> Prediction | CorruptLine:
    try:
        return prediction_from_dict(json.loads(text), line_no)
    except ValueError as exc:  # json.JSONDecodeError is one
        return CorruptLine(path, line_no, str(exc))


@dataclass
class Predictions:
    rows: list[Prediction] = field(default_factory=list)
    """The last row of each example, in data order."""
    problems: list[CorruptLine] = field(default_factory=list)
    """Lines that could not be read (each names the file and its line)."""


def latest(rows: Iterable[Prediction]) -> list[Prediction]:
    """The last row of each example id (a retried error replaces its row), in data order."""
    by_id: dict[str, Prediction] = {}
    for row in rows:
        by_id[row.id] = row
    return sorted(by_id.values(), key=lambda r: r.index)


def read_predictions(path: Path) -> Predictions:
    """Every row of a ``predictions.jsonl`` (empty when there is none yet). A last line that
    does not parse is the one a stopped or running job was writing: it is left out silently."""
    out = Predictions()
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").split("\n")
    except FileNotFoundError:
        return out
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        row = decode_prediction(line, path=str(path), line_no=i + 1)
        if isinstance(row, CorruptLine):
            if i != last:
                out.problems.append(row)
        else:
            out.rows.append(row)
    out.rows = latest(out.rows)
    return out


class PredictionsTail:
    """The rows a running eval appended since the last call (the first call replays them all);
    a partial last line waits until its writer finishes it."""

    def __init__(self, run_dir: Path) -> None:
        path = predictions_path(run_dir)
        self._tail: FileTail[Prediction | CorruptLine] = FileTail(
            path, lambda text, n: decode_prediction(text, path=str(path), line_no=n))

    def read_new(self) -> Predictions:
        out = Predictions()
        for row in self._tail.read_new():
            (out.problems if isinstance(row, CorruptLine) else out.rows).append(row)  # type: ignore[arg-type]
        return out


class EvalRunReader:
    """An eval run read as it grows: its rows so far, its last progress event, and its report
    once written (read again only when the file changes). Each ``read`` costs what was appended."""

    def __init__(self, run_dir: Path) -> None:
        from ..events import decode_event

        self.run_dir = Path(run_dir)
        self._by_id: dict[str, Prediction] = {}
        self.problems: list[CorruptLine] = []
        self.report: EvalReport | None = None
        self.report_error = ""
        self.progress: Progress | None = None
        self._rows = PredictionsTail(self.run_dir)
        events = Run(self.run_dir).events_path
        self._events: FileTail[Any] = FileTail(events, lambda t, n: decode_event(t, path=str(events), line_no=n))
        self._report_stamp: tuple[int, int] | None = None

    def read(self) -> bool:
        """Read what is new; whether anything was."""
        new = self._rows.read_new()
        self._by_id.update((row.id, row) for row in new.rows)
        self.problems += new.problems
        progress = [e for e in self._events.read_new() if isinstance(e, Progress)]
        if progress:
            self.progress = progress[-1]
        return bool(new.rows or new.problems or progress) | self._read_report()

    @property
    def rows(self) -> list[Prediction]:
        """The last row of each example read so far, in data order."""
        return sorted(self._by_id.values(), key=lambda r: r.index)

    def _read_report(self) -> bool:
        path = report_path(self.run_dir)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if (st.st_mtime_ns, st.st_size) == self._report_stamp:
            return False
        self._report_stamp = (st.st_mtime_ns, st.st_size)
        try:
            self.report, self.report_error = read_report(path), ""
        except CorruptRunFileError as exc:
            self.report, self.report_error = None, exc.message
        return True


# -- the report ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Aggregate:
    mean: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class EvalReport:
    target: str
    target_kind: str
    data: str
    examples: int
    passed: int
    failed: int
    seconds: float | None
    metrics: dict[str, Aggregate]
    fields: dict[str, tuple[float | None, int]]
    """Per JSON field of the references: (accuracy, examples it appears in)."""
    settings: dict[str, Any]


def report_from_dict(data: Any) -> EvalReport:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    metrics = {}
    for name, agg in (data.get("metrics") or {}).items():
        if not isinstance(agg, dict):
            raise ValueError(f"metrics.{name} is not an object")
        metrics[str(name)] = Aggregate(_number(agg.get("mean"), f"metrics.{name}.mean"),
                                       _number(agg.get("low"), f"metrics.{name}.low"),
                                       _number(agg.get("high"), f"metrics.{name}.high"), int(agg.get("n") or 0))
    fields = {}
    for name, acc in (data.get("fields") or {}).items():
        if not isinstance(acc, dict):
            raise ValueError(f"fields.{name} is not an object")
        fields[str(name)] = (_number(acc.get("accuracy"), f"fields.{name}.accuracy"), int(acc.get("n") or 0))
    return EvalReport(
        target=str(data.get("target", "")), target_kind=str(data.get("target_kind", "")), data=str(data.get("data", "")),
        examples=int(data.get("examples") or 0), passed=int(data.get("passed") or 0), failed=int(data.get("failed") or 0),
        seconds=_number(data.get("seconds"), "seconds"), metrics=metrics, fields=fields,
        settings=dict(data.get("settings") or {}),
    )


def read_report(path: Path) -> EvalReport | None:
    """``eval_report.json`` (None before the run wrote it); ``CorruptRunFileError`` naming the
    file when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return report_from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise CorruptRunFileError(f"cannot read the eval report {path}: {exc}") from None


def worst_first(rows: Iterable[Prediction]) -> list[Prediction]:
    """Failures first, then by task score (no score counts as 0), then in data order."""
    return sorted(rows, key=lambda r: (r.passed, r.task if r.task is not None else 0.0, r.index))
