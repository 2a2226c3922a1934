"""Rows of the Quantize & Compare table, from a finished report or from a job still running.

One shape for both, so the table and the bar charts draw the same way while the job fills
the numbers in (``CompareProgress``) and after ``report.json`` replaces them with the ranked,
judged figures. Sorting keeps broken variants last whatever the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from ..engine.compare.progress import CompareProgress
from ..engine.compare.report import CompareReport, short_status, verdict_lines


def _num(spec: str) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else format(v, spec)


def _pct(digits: int, sign: bool) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else format(v * 100, f"{'+' if sign else ''}.{digits}f") + "%"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    show: Callable[[Any], str]
    higher_is_better: bool = False


STATUS_WIDTH = 18
"""The status column stays narrow (it sits second); the full activity and broken reasons are shown
above and below the table."""
SETTINGS_WIDTH = 22
"""The settings column: "gptq b32 a4 asym c32 …" (the whole of it is in report.md)."""


def _short(text: str, width: int = STATUS_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


COLUMNS: tuple[Column, ...] = (
    Column("name", "variant", str),
    Column("status", "status", _short),
    Column("settings", "settings", lambda v: "-" if not v else _short(str(v), SETTINGS_WIDTH)),
    Column("size_mb", "MB", _num(".0f")),
    Column("peak_rss_mb", "RSS MB", _num(".0f")),
    Column("model_rss_mb", "model MB", _num(".0f")),
    Column("decode_tok_s", "tok/s", _num(".1f"), True),
    Column("speedup", "×ref", _num(".2f"), True),
    Column("ppl_change", "Δppl", _pct(1, True)),
    Column("task_score", "task ±95%", _num(".2f"), True),
    Column("task_n", "n", lambda v: "-" if v is None else str(v)),
    Column("task_kept", "task/ref", _pct(0, False), True),
    Column("perplexity", "ppl", _num(".2f")),
    Column("same_prefix", "prefix", lambda v: "-" if v is None else v),
    Column("agreement", "agree", _pct(0, False), True),
    Column("ttft_s", "TTFT s", _num(".3f")),
    Column("load_s", "load s", _num(".2f")),
)
"""RSS MB: the measuring process's peak while loading and decoding; model MB: that peak minus what the
process held before loading the model (interpreter and runtime). task ±95%: the mean and half its bootstrap
95% interval (report.md has both ends); task/ref: the mean ratio to the reference's and its paired 95%
interval, what the 98% rule reads ("98% 91–103": kept when the mean is ≥98% and the interval reaches 100%)."""
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


@dataclass
class VariantRow:
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    broken: bool = False
    recommended: bool = False
    reference: bool = False
    fraction: float | None = None
    """How far the job's current phase on this variant has come, while it works on it."""
    finished: bool = False
    """The job is done with this variant (what a progress bar counts): built in an export job,
    measured or judged in a comparison; every row of a report."""
    ready: bool = False
    """Its model exists and can be opened (chat): built or measured, not broken."""
    texts: dict[str, str] = field(default_factory=dict)
    """Cells shown otherwise than their value (a score with its interval); sorting reads ``values``."""

    def cell(self, column: Column) -> str:
        if column.key == "name":
            return self.name
        if column.key == "status":
            return column.show(self.status)
        if column.key in self.texts:
            return self.texts[column.key]
        return column.show(self.values.get(column.key))


def rows_from_report(report: CompareReport) -> list[VariantRow]:
    out = []
    for v in report.variants:
        agree = v.agreement or {}
        reference = v.name == report.reference
        recommended = v.name == report.recommended and not v.broken and report.quality_checked
        ratio = v.task_ratio or {}
        values = {
            "settings": v.settings, "size_mb": v.size_mb, "decode_tok_s": v.decode_tok_s, "speedup": v.speedup,
            "perplexity": v.perplexity, "ppl_change": v.ppl_change, "ttft_s": v.ttft_s, "load_s": v.load_s,
            "peak_rss_mb": v.peak_rss_mb, "model_rss_mb": v.model_rss_mb, "task_score": v.task_score,
            "task_n": v.task_n, "task_kept": ratio.get("mean"), "agreement": agree.get("token_agreement"),
            "same_prefix": f"{agree['same_prefix']}/{agree['compared']}" if agree else None,
        }
        texts = {}
        if v.task_score is not None and v.task_low is not None and v.task_high is not None:
            texts["task_score"] = f"{v.task_score:.2f} ±{(v.task_high - v.task_low) / 2:.2f}"
        if ratio:
            texts["task_kept"] = f"{ratio['mean'] * 100:.0f}% {ratio['low'] * 100:.0f}–{ratio['high'] * 100:.0f}"
        out.append(VariantRow(v.name, values, short_status(v, report), v.broken, recommended, reference, 1.0,
                              finished=True, ready=not v.broken, texts=texts))
    return out


def rows_from_progress(progress: CompareProgress, reference: str = "torch-fp32") -> list[VariantRow]:
    out = []
    ref = progress.variants.get(reference)
    ref_numbers = ref.numbers if ref else {}
    for name in progress.order:
        state = progress.variants[name]
        values: dict[str, Any] = dict(state.numbers)
        if name != reference and ref_numbers:
            if ref_numbers.get("decode_tok_s") and values.get("decode_tok_s"):
                values["speedup"] = values["decode_tok_s"] / ref_numbers["decode_tok_s"]
            if ref_numbers.get("perplexity") and values.get("perplexity"):
                values["ppl_change"] = values["perplexity"] / ref_numbers["perplexity"] - 1
        elif name == reference and state.measured:
            values.update(speedup=1.0, ppl_change=0.0)
        status = state.activity
        if state.phase and state.fraction is not None and state.fraction < 1.0:
            status += f" {state.fraction * 100:.0f}%"
        if state.broken:
            status = "BROKEN"
        out.append(VariantRow(name, values, status, state.broken, False, name == reference, state.fraction,
                              finished=state.finished, ready=state.built and not state.broken))
    return out


def sort_rows(rows: list[VariantRow], key: str | None, reverse: bool = False) -> list[VariantRow]:
    """Rows sorted by ``key`` (None keeps the job's order); broken ones and missing values last."""
    if key is None or key not in COLUMN_KEYS:
        return sorted(rows, key=lambda r: r.broken)
    if key in ("name", "status", "settings"):
        ordered = sorted(rows, key=lambda r: r.cell(COLUMNS[COLUMN_KEYS.index(key)]), reverse=reverse)
        return sorted(ordered, key=lambda r: r.broken)
    present = [r for r in rows if not r.broken and isinstance(r.values.get(key), (int, float))]
    rest = [r for r in rows if r not in present]
    present.sort(key=lambda r: r.values[key], reverse=reverse)
    return present + sorted(rest, key=lambda r: r.broken)


def best_first(key: str) -> bool:
    """Whether a first click on the column sorts descending (higher is better there)."""
    for column in COLUMNS:
        if column.key == key:
            return column.higher_is_better
    return False


VERDICT_STYLES = {"best": "bold green", "none": "bold", "unchecked": "bold yellow", "broken": "red", "other": "dim"}


def verdict_text(report: CompareReport) -> Text:
    """The recommendation and, for every other variant, why it is not the one."""
    text = Text()
    for k, (line, kind) in enumerate(verdict_lines(report)):
        text.append(("\n" if k else "") + line, style=VERDICT_STYLES[kind])
    return text
