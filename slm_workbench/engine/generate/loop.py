"""The generation loop: a teacher answers every prompt, one row at a time, resumable.

``rows.jsonl`` is the state: each answer is appended (flushed and synced) with its verdict as
soon as it is judged, so a stopped or killed generation resumes from its last complete row:
a torn last line is cut off (the evaluator's ``read_rows(repair=True)``), the ids already
answered (``p{prompt}-s{sample}``) are skipped, and nothing is asked twice. A row whose
answer failed (an endpoint error) is asked again on resume; the newest row of an id counts.

``data.jsonl`` (the kept rows as a chat dataset) and ``manifest.json`` are derived from
``rows.jsonl``: rewritten atomically when the loop starts and when it ends, and ``data.jsonl``
appended per kept row in between, so a kill between the two appends loses nothing.

A resume with other generation settings than the manifest's is refused (the rows would mix
two teachers or two temperatures); limits (``max_prompts``, ``max_requests``, ``retries``,
timeouts, threads) may change. An endpoint's request budget is counted from the rows, so it
holds across resumes. The API key is never written: only the name of its variable.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config.generate import GenerationSettings
from ..errors import WorkbenchError
from ..eval.answerers import Answerer, RequestBudgetSpent
from ..eval.evaluate import append_row, read_rows
from .filters import Checker, verdict
from .layout import ERROR, GENERATED_DATA, GENERATED_MANIFEST, GENERATED_ROWS, Verdict, read_verdict
from .prompts import PromptSet

MAX_ERRORS_IN_A_ROW = 3
"""Consecutive failed answers that stop the generation (an endpoint that is down)."""
MUST_MATCH = ("prompts", "samples_per_prompt", "temperature", "top_p", "max_new_tokens", "seed", "endpoint_model",
              "filters")
"""Settings a resume must share with the rows already written (the others are limits)."""


@dataclass(frozen=True)
class Teacher:
    spec: str
    """As given (``RUN:int8``, a path, a URL)."""
    label: str
    """What answered (the resolved variant folder, the endpoint's model)."""
    kind: str
    """``transformers``, ``onnx`` or ``http``."""


def row_id(prompt: int, sample: int) -> str:
    return f"p{prompt}-s{sample}"


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out_dir / GENERATED_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_resume(out_dir: Path, settings: GenerationSettings, teacher_spec: str, prompts_sha: str | None) -> None:
    """Refuse (one line naming the fields) to add rows made with other settings than those already there."""
    manifest = read_manifest(out_dir)
    if manifest is None or not (out_dir / GENERATED_ROWS).is_file():
        return
    before = manifest.get("settings") or {}
    now = settings.model_dump(mode="json")
    differing = [name for name in MUST_MATCH if before.get(name) != now.get(name)]
    if (manifest.get("teacher") or {}).get("spec") != teacher_spec:
        differing.insert(0, "teacher")
    if prompts_sha and (manifest.get("prompts") or {}).get("sha256") not in (None, prompts_sha):
        differing.append("the prompts' content (sha256)")
    if differing:
        raise WorkbenchError(f"{out_dir} holds rows generated with other settings ({', '.join(differing)} differ)",
                             hint="resume with the same settings, or write to another output folder")


def latest_rows(rows: list[dict[str, Any]], wanted: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The newest row of each id (a retried error: its answer), in the order ids were first written."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if wanted is None or row.get("id") in wanted:
            latest[row["id"]] = row
    return latest


def data_record(row: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [*row["messages"], {"role": "assistant", "content": row["answer"]}]}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_data(out_dir: Path, latest: dict[str, dict[str, Any]]) -> int:
    kept = [r for r in latest.values() if r.get("kept")]
    _write_atomic(out_dir / GENERATED_DATA, "".join(json.dumps(data_record(r), ensure_ascii=False) + "\n" for r in kept))
    return len(kept)


def counts(latest: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dropped: Counter[str] = Counter()
    errors = 0
    for row in latest.values():
        judged = read_verdict(row)
        if judged.kind == ERROR:
            errors += 1
        elif not judged.kept:
            dropped[judged.kind] += 1
    answered = len(latest) - errors
    kept = sum(1 for r in latest.values() if r.get("kept"))
    return {"attempted": answered, "kept": kept, "dropped": dict(sorted(dropped.items())), "errors": errors,
            "kept_fraction": round(kept / answered, 4) if answered else None}


def build_manifest(out_dir: Path, rows: list[dict[str, Any]], latest: dict[str, dict[str, Any]],
                   settings: GenerationSettings, teacher: Teacher, prompts: PromptSet, *,
                   wall_seconds: float) -> dict[str, Any]:
    """``rows``: every row written (the requests spent); ``latest``: the newest row of each wanted id."""
    previous = read_manifest(out_dir) or {}
    now = time.time()
    return {
        "teacher": {"spec": teacher.spec, "label": teacher.label, "kind": teacher.kind},
        "settings": settings.model_dump(mode="json"),
        "prompts": {"source": prompts.source, "sha256": prompts.sha256, "count": len(prompts.prompts),
                    "without_user_turn": prompts.skipped, "unreadable": prompts.invalid},
        "expected_answers": len(prompts.prompts) * settings.samples_per_prompt,
        "counts": counts(latest),
        "requests": sum(int(r.get("requests") or 0) for r in rows) if teacher.kind == "http" else None,
        "seconds": round(sum(float(r.get("seconds") or 0.0) for r in latest.values()), 2),
        "wall_seconds": round(float(previous.get("wall_seconds") or 0.0) + wall_seconds, 2),
        "created": previous.get("created") or now,
        "updated": now,
        "files": {"rows": GENERATED_ROWS, "data": GENERATED_DATA},
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    _write_atomic(out_dir / GENERATED_MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def generate(
    answerer: Answerer,
    prompts: PromptSet,
    out_dir: Path,
    settings: GenerationSettings,
    teacher: Teacher,
    *,
    checker: Checker | None = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    on_row: Callable[[dict[str, Any], dict[str, int]], None] = lambda _row, _tally: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Answer every (prompt, sample) not answered yet into ``out_dir``; write and return the manifest.

    ``on_row(row, tally)`` sees each row as written, with ``tally``: ``done`` and ``total`` answers,
    ``attempted`` (answered, errors aside) and ``kept`` so far (resumed rows included)."""
    from ..measure.backends import Sampling

    out_dir.mkdir(parents=True, exist_ok=True)
    check_resume(out_dir, settings, teacher.spec, prompts.sha256)
    rows_path, data_path = out_dir / GENERATED_ROWS, out_dir / GENERATED_DATA
    samples = settings.samples_per_prompt
    wanted = {row_id(p.index, k) for p in prompts.prompts for k in range(samples)}
    rows = read_rows(rows_path, repair=True)
    latest = latest_rows(rows, wanted)
    done = {rid for rid, r in latest.items() if read_verdict(r).kind != ERROR}
    kept_answers: dict[int, set[str]] = {}
    for r in latest.values():
        if r.get("kept"):
            kept_answers.setdefault(r["prompt_index"], set()).add(r["answer"].strip())
    if hasattr(answerer, "requests"):  # the budget holds across resumes: every request a row records
        answerer.requests = sum(int(r.get("requests") or 0) for r in rows)  # type: ignore[attr-defined]
    started = time.perf_counter()
    write_data(out_dir, latest)
    write_manifest(out_dir, build_manifest(out_dir, rows, latest, settings, teacher, prompts, wall_seconds=0.0))
    total = len(wanted)
    now = counts(latest)
    tally = {"done": len(done), "total": total, "attempted": now["attempted"], "kept": now["kept"]}
    errors_in_a_row = 0
    on_progress(len(done), total)
    try:
        for prompt in prompts.prompts:
            for k in range(samples):
                rid = row_id(prompt.index, k)
                if rid in done:
                    continue
                check_cancelled()
                sampling = (Sampling(settings.temperature, settings.top_p, settings.seed + prompt.index * samples + k)
                            if settings.temperature > 0 else None)
                spent_before = getattr(answerer, "requests", 0)
                row: dict[str, Any] = {"id": rid, "prompt_index": prompt.index, "sample": k,
                                       "messages": prompt.messages, "reference": prompt.reference}
                try:
                    reply = answerer.answer(prompt.messages, settings.max_new_tokens, sampling)
                except WorkbenchError as exc:
                    row |= {"answer": "", "tokens": 0, "seconds": 0.0, "finished": False, "kept": False,
                            **Verdict(ERROR, exc.message).fields()}
                    if hasattr(answerer, "requests"):
                        row["requests"] = answerer.requests - spent_before  # type: ignore[attr-defined]
                    append_row(rows_path, row)
                    rows.append(row)
                    on_row(row, tally)
                    errors_in_a_row += 1
                    if isinstance(exc, RequestBudgetSpent):
                        raise
                    if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                        raise WorkbenchError(f"{errors_in_a_row} answers in a row failed, the last on prompt "
                                             f"{prompt.index + 1}: {exc.message}",
                                             hint=exc.hint or "the rows so far are kept; resume when it is fixed") from None
                    continue
                errors_in_a_row = 0
                seen = kept_answers.setdefault(prompt.index, set())
                judged = verdict(reply.text, finished=reply.finished, messages=prompt.messages,
                                 reference=prompt.reference, kept_before=seen, settings=settings.filters,
                                 checker=checker)
                row |= {"answer": reply.text, "tokens": reply.tokens, "seconds": round(reply.seconds, 4),
                        "finished": reply.finished, "kept": judged.kept, **judged.fields()}
                if hasattr(answerer, "requests"):
                    row["requests"] = answerer.requests - spent_before  # type: ignore[attr-defined]
                append_row(rows_path, row)
                rows.append(row)
                if judged.kept:
                    seen.add(reply.text.strip())
                    append_row(data_path, data_record(row))
                done.add(rid)
                tally = {**tally, "done": len(done), "attempted": tally["attempted"] + 1,
                         "kept": tally["kept"] + judged.kept}
                on_row(row, tally)
                on_progress(len(done), total)
    finally:
        latest = latest_rows(rows, wanted)
        write_data(out_dir, latest)
        manifest = build_manifest(out_dir, rows, latest, settings, teacher, prompts,
                                  wall_seconds=time.perf_counter() - started)
        write_manifest(out_dir, manifest)
    return manifest
