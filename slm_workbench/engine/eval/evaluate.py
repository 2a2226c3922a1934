"""The evaluation loop: answer, score, append; then aggregate with bootstrap intervals.

Rows go to ``predictions.jsonl`` one at a time (flushed and synced), so a stopped or killed
evaluation resumes from its last complete row: a torn last line is cut off, the examples
already scored are skipped by id, and nothing is scored twice. An example whose answer failed
(an endpoint error) is asked again on resume; its newest row is the one that counts. The report is computed from
the file, never from memory, so a resumed run reports exactly what a straight one would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..runs.run import EVAL_REPORT, PREDICTIONS
from . import metrics as m
from .answerers import Answerer
from .bootstrap import mean_interval, perplexity_interval
from .examples import ExampleSet

MAX_ERRORS_IN_A_ROW = 3
"""Consecutive failed answers that stop the evaluation (an endpoint that is down)."""


@dataclass(frozen=True)
class EvalSettings:
    metrics: tuple[str, ...] | None = None
    """None: every metric that applies."""
    max_new_tokens: int = 256
    bootstrap_samples: int = 1000
    seed: int = 0


def choose_metrics(asked: tuple[str, ...] | list[str] | None, answerer: Answerer) -> tuple[str, ...]:
    if asked is None:
        return tuple(name for name in m.ALL_METRICS if name != "perplexity" or answerer.scores_perplexity)
    unknown = [name for name in asked if name not in m.ALL_METRICS]
    if unknown:
        raise WorkbenchError(f"unknown metric {unknown[0]!r}", hint=f"metrics: {', '.join(m.ALL_METRICS)}")
    if "perplexity" in asked and not answerer.scores_perplexity:
        raise WorkbenchError(f"perplexity needs token probabilities, which {answerer.label} does not give here",
                             hint="leave perplexity out for an endpoint, or evaluate the local model")
    return tuple(asked)


def read_rows(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The complete rows of a predictions file; ``repair`` cuts a torn last line off the file."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    rows, good_end = [], 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
        good_end += len(line)
    if repair and good_end < len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    """One JSON line, flushed and fsync'd: a reader or a resume after kill -9 sees it whole or not at all
    (a torn last line is repaired by ``read_rows(repair=True)``)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def score_row(index: int, example_id: str, messages: list[dict[str, str]], reference: str, prediction: str,
              chosen: tuple[str, ...], *, nll: tuple[float, int] | None = None, tokens: int = 0, seconds: float = 0.0,
              error: str | None = None) -> dict[str, Any]:
    """One row of ``predictions.jsonl`` (docs/eval.md)."""
    scored = m.score_example(prediction, reference, chosen, nll=nll[0] if nll else None, ref_tokens=nll[1] if nll else None)
    return {
        "index": index, "id": example_id, "messages": messages, "reference": reference, "prediction": prediction,
        "task": round(scored.task, 6), "passed": scored.passed,
        "scores": {k: (round(v, 6) if v is not None else None) for k, v in scored.scores.items()},
        "fields": scored.fields, "nll": round(nll[0], 6) if nll else None, "ref_tokens": nll[1] if nll else None,
        "tokens": tokens, "seconds": round(seconds, 4), "error": error,
    }


def aggregate(rows: list[dict[str, Any]], chosen: tuple[str, ...], *, samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Means over the rows each metric applies to, with bootstrap 95% intervals."""
    out: dict[str, Any] = {}
    task = mean_interval([r["task"] for r in rows], samples=samples, seed=seed)
    if task is not None:
        out[m.TASK] = task.as_dict()
    for name in chosen:
        if name == "perplexity":
            scored = [r for r in rows if r.get("nll") is not None and r.get("ref_tokens")]
            interval = perplexity_interval([r["nll"] for r in scored], [r["ref_tokens"] for r in scored],
                                           samples=samples, seed=seed)
        else:
            interval = mean_interval([r["scores"][name] for r in rows if r["scores"].get(name) is not None],
                                     samples=samples, seed=seed)
        out[name] = interval.as_dict() if interval is not None else {"mean": None, "low": None, "high": None, "n": 0}
    return out


def field_accuracy(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    totals: dict[str, list[int]] = {}
    for row in rows:
        for key, ok in (row.get("fields") or {}).items():
            totals.setdefault(key, [0, 0])
            totals[key][0] += int(bool(ok))
            totals[key][1] += 1
    return {k: {"accuracy": round(ok / n, 4), "n": n} for k, (ok, n) in totals.items()}


def build_report(rows: list[dict[str, Any]], chosen: tuple[str, ...], *, target: str, target_kind: str,
                 examples: ExampleSet, settings: EvalSettings, seconds: float) -> dict[str, Any]:
    passed = sum(1 for r in rows if r["passed"])
    return {
        "target": target, "target_kind": target_kind, "data": examples.data, "examples": len(rows),
        "passed": passed, "failed": len(rows) - passed, "errors": sum(1 for r in rows if r.get("error")),
        "without_reference": examples.without_reference, "invalid_rows": examples.invalid,
        "seconds": round(sum(r.get("seconds") or 0.0 for r in rows), 2),
        "wall_seconds": round(seconds, 2),
        "metrics": aggregate(rows, chosen, samples=settings.bootstrap_samples, seed=settings.seed),
        "fields": field_accuracy(rows),
        "settings": {"metrics": list(chosen), "max_new_tokens": settings.max_new_tokens,
                     "bootstrap_samples": settings.bootstrap_samples, "seed": settings.seed},
    }


def evaluate(
    answerer: Answerer,
    examples: ExampleSet,
    out_dir: Path,
    settings: EvalSettings = EvalSettings(),
    *,
    target: str | None = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    on_row: Callable[[dict[str, Any]], None] = lambda _row: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Score every example not scored yet into ``out_dir/predictions.jsonl``; write and return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions = out_dir / PREDICTIONS
    chosen = choose_metrics(settings.metrics, answerer)
    wanted = {ex.id for ex in examples.examples}
    done = {r["id"] for r in read_rows(predictions, repair=True) if r.get("id") in wanted and not r.get("error")}
    total = len(examples.examples)
    started = time.perf_counter()
    errors_in_a_row = 0
    on_progress(len(done), total)
    for example in examples.examples:
        if example.id in done:
            continue
        check_cancelled()
        try:
            reply = answerer.answer(example.messages, settings.max_new_tokens)
            nll = answerer.reference_nll(example.messages, example.reference) if "perplexity" in chosen else None
            row = score_row(example.index, example.id, example.messages, example.reference, reply.text, chosen,
                            nll=nll, tokens=reply.tokens, seconds=reply.seconds)
            errors_in_a_row = 0
        except WorkbenchError as exc:
            errors_in_a_row += 1
            if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                raise WorkbenchError(f"{errors_in_a_row} answers in a row failed, the last on example "
                                     f"{example.index + 1}: {exc.message}", hint=exc.hint) from None
            row = score_row(example.index, example.id, example.messages, example.reference, "", chosen,
                            error=exc.message)
        append_row(predictions, row)
        done.add(example.id)
        on_row(row)
        on_progress(len(done), total)
    latest = {r["id"]: r for r in read_rows(predictions) if r.get("id") in wanted}  # a retried error: its last row
    rows = sorted(latest.values(), key=lambda r: r["index"])
    report = build_report(rows, chosen, target=target or answerer.label, target_kind=answerer.kind,
                          examples=examples, settings=settings, seconds=time.perf_counter() - started)
    tmp = out_dir / (EVAL_REPORT + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out_dir / EVAL_REPORT)
    return report
