"""One pass over a dataset: read, check, map, dedupe, tokenize, measure.

``validate``, ``stats`` and ``prepare`` all run this pass, so a row that validation
accepts is a row that preparation keeps (or drops for a reason it counts). Rows are
tokenized in batches of ``BATCH``; ``check_cancelled`` is called between batches, and
progress comes from the reader (bytes of a file, rows of a dataset).
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .checks import normalise
from .clean import Dedupe, Deduper
from .encode import Encoder, TokenRange, TrainOn, encoder_for
from .formats import Detection, FormatSpec, check_columns, detect_format, make_spec
from .issues import DataFormatError, DataValidationError, Issue, IssueLog, Loc
from .readers import ProgressFn, RawRow
from .sources import Source, open_source
from .template import TextTemplate

BATCH = 1000
DETECT_ROWS = 50


@dataclass
class Plan:
    """What a pass will do: the source, the format (confirmed or detected), the template."""

    source: Source
    detection: Detection
    spec: FormatSpec | None
    template: TextTemplate | None
    head: list[RawRow]


@dataclass
class KeptRow:
    row: int
    """1-based row in the source: the lineage of every prepared example."""
    record: dict[str, Any]
    input_ids: array
    ranges: list[TokenRange]


@dataclass
class PassResult:
    plan: Plan
    rows_in: int = 0
    invalid: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    log: IssueLog = field(default_factory=IssueLog)
    lengths: list[int] = field(default_factory=list)
    trained: list[int] = field(default_factory=list)
    kept: list[KeptRow] = field(default_factory=list)


def iter_rows(source: Source, progress: ProgressFn | None = None, limit: int | None = None) -> Iterator[RawRow]:
    """Every row of the source, each with its location; ``limit`` stops early (previews)."""
    # from the child modules, not through the package: its __init__ imports this module
    from .readers import read_csv, read_json_array, read_jsonl

    if source.kind in ("parquet", "hf_disk", "hub"):
        from .hf import read_hf, read_parquet

        rows = read_parquet(source, progress, limit) if source.kind == "parquet" else read_hf(source, progress, limit)
    else:
        reader = {"jsonl": read_jsonl, "json": read_json_array}.get(source.kind, read_csv)
        rows = reader(source, progress)
    for n, raw in enumerate(rows, start=1):
        yield raw
        if limit and n >= limit:
            return


def plan(source: Source | str, *, format: str | FormatSpec | None = None, columns: dict[str, str] | None = None,
         roles: dict[str, str] | None = None, template: str | None = None) -> Plan:
    """Open the source, read its first rows, and settle the format; fails early and clearly."""
    if not isinstance(source, Source):
        source = open_source(source)
    head = list(iter_rows(source, limit=DETECT_ROWS))
    values = [r.value for r in head if r.issue is None]
    detection = detect_format(values, columns)
    names = detection.columns
    text_template = TextTemplate.parse(template) if template else None
    if text_template:
        text_template.check_columns(names, source.spec)
        return Plan(source, detection, None, text_template, head)
    if isinstance(format, FormatSpec):
        spec: FormatSpec | None = format
    elif format and format != "auto":
        spec = make_spec(format, columns, roles)
    elif detection.spec is not None:
        spec = make_spec(detection.spec.name, {**detection.spec.columns, **(columns or {})},
                         {**detection.spec.roles, **(roles or {})})
    elif not values:
        spec = None  # nothing readable in the first rows: every row will say why
    else:
        raise DataFormatError(f"{source.spec}: cannot tell the format: {detection.reason}",
                              hint="choose one with --format (messages, prompt_completion, alpaca, text) "
                                   "and map columns with --map FIELD=COLUMN")
    if spec is not None:
        check_columns(spec, names, source.spec)
    return Plan(source, detection, spec, None, head)


def _special_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    tokens = [t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if getattr(t, "special", False)]
    tokens = [t for t in tokens if len(t) > 1] or list(getattr(tokenizer, "all_special_tokens", []))
    return re.compile("|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))) if tokens else None


def _texts(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "messages" in record:
        for i, m in enumerate(record["messages"]):
            yield f"messages[{i}].content", m["content"]
    for key in ("prompt", "completion", "text"):
        if key in record:
            yield key, record[key]


def run_pass(
    the_plan: Plan,
    *,
    tokenizer: Any = None,
    train_on: TrainOn = "completion",
    max_length: int | None = None,
    min_tokens: int = 0,
    dedupe: Dedupe = "none",
    keep: bool = False,
    abort_on_error: bool = False,
    max_issues: int = 1000,
    on_progress: ProgressFn | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> PassResult:
    result = PassResult(the_plan, log=IssueLog(max_issues))
    file = the_plan.source.spec
    encoder: Encoder | None = encoder_for(tokenizer, train_on) if tokenizer is not None else None
    specials = _special_pattern(tokenizer) if tokenizer is not None else None
    deduper = Deduper(dedupe)
    pending: list[tuple[Loc, dict[str, Any]]] = []

    def fail(issues: list[Issue]) -> None:
        result.invalid += 1
        result.dropped["invalid"] += 1
        if abort_on_error:
            first = next(i for i in issues if i.severity == "error")
            raise DataValidationError(first.headline, hint=(first.hint + "; " if first.hint else "") + "or skip bad rows: on_error=skip")

    def flush() -> None:
        if check_cancelled:
            check_cancelled()
        encoded = encoder.encode_ranges([r for _, r in pending]) if encoder else [None] * len(pending)
        for (loc, record), enc in zip(pending, encoded):
            if enc is None:
                continue
            ids, ranges, _ = enc
            n, n_trained = len(ids), sum(j - i for i, j in ranges)
            if max_length and n > max_length:
                issue = loc.issue(file, "too_long", f"{n} tokens after templating, over the limit of {max_length}",
                                  hint="raise --max-length, or shorten the row; prepare drops rows like this")
                result.log.add(issue)
                result.dropped["too_long"] += 1
                if abort_on_error:
                    raise DataValidationError(issue.headline, hint=issue.hint)
                continue
            if n < min_tokens:
                result.dropped["too_short"] += 1
                continue
            if n_trained == 0:
                result.log.add(loc.issue(file, "no_trained_tokens", "no token of this row is trained",
                                         hint="the answer is empty after templating", severity="warning"))
                result.dropped["no_trained_tokens"] += 1
                continue
            result.lengths.append(n)
            result.trained.append(n_trained)
            if keep:
                result.kept.append(KeptRow(loc.row, record, array("i", ids), ranges))
        pending.clear()

    for raw in iter_rows(the_plan.source, on_progress):
        result.rows_in += 1
        if check_cancelled and result.rows_in % BATCH == 0:
            check_cancelled()  # also between batches of rows that never reach the tokenizer
        if raw.issue is not None:
            result.log.add(raw.issue)
            fail([raw.issue])
            continue
        if the_plan.template is not None:
            record, issues = the_plan.template.render(raw.value, raw.loc, file)
        elif the_plan.spec is not None:
            record, issues = normalise(raw.value, the_plan.spec, raw.loc, file)
        else:
            record, issues = None, [raw.loc.issue(file, "unknown_format", "no format fits this row")]
        if issues:
            result.log.extend(issues)
        if record is None:
            fail(issues)
            continue
        if specials is not None:
            for where, text in _texts(record):
                found = specials.search(text)
                if found:
                    result.log.add(raw.loc.issue(file, "special_token", f"contains the control token {found.group()!r}, "
                                                 "which the tokenizer reads as markup, not text", field=where,
                                                 hint="remove it from the text", severity="warning"))
        if deduper.first_row(record, raw.loc.row) is not None:
            result.dropped["duplicate"] += 1
            continue
        pending.append((raw.loc, record))
        if len(pending) >= BATCH:
            flush()
    flush()
    if result.rows_in == 0:
        result.log.add(Issue(file, "empty", "has no rows", hint="the file holds no data rows (empty, blank lines, or a CSV header alone)"))
    return result
