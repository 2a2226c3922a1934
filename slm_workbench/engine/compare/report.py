"""The comparison report: ``report.json`` (the contract a pane reads), ``report.md``, ``report.csv``.

``report.json``::

    {"source": {...}, "created": ..., "machine": {...}, "settings": {...},
     "evalset": {"name", "ppl_tokens", "prompt", "tasks"},
     "reference": "torch-fp32", "recommended": "int8" | null,
     "variants": [{"name", "label", "kind", "folder", "precision", "size_mb", "load_s",
                   "peak_rss_mb", "ttft_s", "decode_tok_s", "speedup", "perplexity",
                   "ppl_change", "agreement": {"same_prefix", "token_agreement", "compared"},
                   "task_score", "task_low", "task_high", "task_n", "task_scores", "task_delta",
                   "broken", "broken_reason", "rank", "why_not", "text", "notes", "error"}, ...]}

Ranks go 1, 2, ... by perplexity (then speed) over the variants that are not broken; a
broken one has ``rank: null``. ``recommended`` is the fastest ONNX variant within +5%
perplexity of the reference **and**, where eval examples were scored, keeping at least 98%
of the reference's task score; null when none does. Every other variant says in ``why_not``
why it is not the recommendation.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..runs.run import REPORT_FILES, Run

REPORT_JSON = REPORT_FILES["json"]
REPORT_MD = REPORT_FILES["markdown"]
REPORT_CSV = REPORT_FILES["csv"]
QUALITY_TOLERANCE = 0.05
"""Perplexity may rise this much (relative) for a variant to be recommended."""
TASK_RETAINED = 0.98
"""Share of the reference's task score a recommended variant keeps (where tasks were scored)."""


@dataclass
class VariantResult:
    name: str
    label: str
    kind: str
    """``torch`` (the reference) or ``onnx``."""
    folder: str
    precision: str = ""
    size_mb: float | None = None
    load_s: float | None = None
    peak_rss_mb: float | None = None
    ttft_s: float | None = None
    decode_tok_s: float | None = None
    decode_runs_tok_s: list[float] = field(default_factory=list)
    speedup: float | None = None
    """Decode tokens/s over the reference's."""
    perplexity: float | None = None
    ppl_change: float | None = None
    """Relative to the reference: 0.01 is +1%."""
    agreement: dict[str, Any] | None = None
    task_score: float | None = None
    """Mean task score on the eval examples (the evaluator's: JSON fields, else word F1)."""
    task_low: float | None = None
    task_high: float | None = None
    """Bootstrap 95% interval of ``task_score``."""
    task_n: int | None = None
    task_scores: list[float] = field(default_factory=list)
    task_delta: dict[str, float] | None = None
    """Paired difference from the reference on the same examples: mean, low, high."""
    broken: bool = False
    broken_reason: str | None = None
    rank: int | None = None
    why_not: str | None = None
    """Why this variant is not the recommended one (None for the recommended one)."""
    text: str = ""
    """The start of its greedy answer to the prompt."""
    tokens: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CompareReport:
    source: dict[str, Any]
    created: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    evalset: dict[str, Any]
    variants: list[VariantResult]
    reference: str | None = None
    recommended: str | None = None

    def by_name(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareReport:
        known = set(VariantResult.__dataclass_fields__)
        variants = [VariantResult(**{k: v for k, v in item.items() if k in known}) for item in data.get("variants", [])]
        fields = {k: data.get(k) for k in ("source", "created", "machine", "settings", "evalset", "reference", "recommended")}
        return cls(variants=variants, **fields)  # type: ignore[arg-type]


def rank_variants(report: CompareReport) -> None:
    """Fill speedup, ppl_change, rank and recommended from the measured numbers."""
    ref = next((v for v in report.variants if v.name == report.reference), None)
    for v in report.variants:
        if ref is not None and v is not ref:
            if ref.decode_tok_s and v.decode_tok_s:
                v.speedup = round(v.decode_tok_s / ref.decode_tok_s, 3)
            if ref.perplexity and v.perplexity:
                v.ppl_change = round(v.perplexity / ref.perplexity - 1, 5)
        elif v is ref:
            v.speedup, v.ppl_change = 1.0, 0.0
    ok = [v for v in report.variants if not v.broken and v.perplexity is not None]
    for v in report.variants:
        v.rank = None
    for k, v in enumerate(sorted(ok, key=lambda v: (v.perplexity, -(v.decode_tok_s or 0))), 1):
        v.rank = k
    for v in report.variants:
        v.why_not = quality_shortfall(v, ref)
    keepers = [v for v in report.variants if v.why_not is None]
    best = max(keepers, key=lambda v: v.decode_tok_s or 0) if keepers else None
    report.recommended = best.name if best is not None else None
    for v in keepers:
        if v is not best and best is not None:
            v.why_not = f"slower than {best.name} ({_fmt(v.decode_tok_s, '.1f')} vs {_fmt(best.decode_tok_s, '.1f')} tok/s)"


def verdict_lines(report: CompareReport) -> list[tuple[str, str]]:
    """(text, kind) lines: the recommendation and its rule (kind ``best`` or ``none``), then why
    each other variant is not it (``broken`` or ``other``); the pane styles them, the CLI prints them."""
    rule = f"within +{QUALITY_TOLERANCE * 100:.0f}% perplexity"
    if any(v.task_score is not None for v in report.variants):
        rule += (f" and ≥{TASK_RETAINED * 100:.0f}% of the reference's task score "
                 f"({report.evalset.get('tasks')} eval examples)")
    best = report.recommended
    lines = [(f"★ {best} is the fastest variant {rule}", "best") if best else (f"★ no variant stays {rule}", "none")]
    for v in report.variants:
        if v.name not in (best, report.reference) and v.why_not:
            lines.append((f"{v.name}: {v.why_not}", "broken" if v.broken else "other"))
    return lines


def quality_shortfall(v: VariantResult, ref: VariantResult | None) -> str | None:
    """Why ``v`` cannot be recommended whatever its speed, or None when it keeps quality."""
    if v is ref:
        return "the reference (PyTorch)"
    if v.kind != "onnx":
        return "not an ONNX variant"
    if v.broken:
        return f"broken: {v.broken_reason}"
    if v.perplexity is None or v.decode_tok_s is None:
        return "not measured"
    if v.ppl_change is not None and v.ppl_change > QUALITY_TOLERANCE:
        return f"perplexity {v.ppl_change * 100:+.1f}% (more than +{QUALITY_TOLERANCE * 100:.0f}%)"
    if ref is not None and ref.task_score and v.task_score is not None:
        kept = v.task_score / ref.task_score
        if kept < TASK_RETAINED:
            return (f"task {v.task_score:.3f} is {kept * 100:.0f}% of the reference's {ref.task_score:.3f} "
                    f"(less than {TASK_RETAINED * 100:.0f}%)")
    return None


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


COLUMNS = ("variant", "size MB", "load s", "peak RSS MB", "TTFT s", "decode tok/s", "x ref", "perplexity",
           "ppl change", "same prefix", "agreement", "task (95% CI)", "status")


def task_cell(v: VariantResult) -> str:
    if v.task_score is None:
        return "-"
    if v.task_low is None or v.task_high is None:
        return f"{v.task_score:.3f}"
    return f"{v.task_score:.3f} [{v.task_low:.2f}, {v.task_high:.2f}]"


def rows(report: CompareReport) -> list[list[str]]:
    out = []
    for v in report.variants:
        agree = v.agreement or {}
        status = f"BROKEN: {v.broken_reason}" if v.broken else ("reference" if v.name == report.reference else
                                                                 f"#{v.rank}" if v.rank else "-")
        if v.name == report.recommended and not v.broken:
            status += " (recommended)"
        out.append([
            v.name, _fmt(v.size_mb, ".0f"), _fmt(v.load_s, ".2f"), _fmt(v.peak_rss_mb, ".0f"), _fmt(v.ttft_s, ".3f"),
            _fmt(v.decode_tok_s, ".1f"), _fmt(v.speedup, ".2f"), _fmt(v.perplexity, ".2f"),
            "-" if v.ppl_change is None else f"{v.ppl_change * 100:+.1f}%",
            "-" if not agree else f"{agree['same_prefix']}/{agree['compared']}",
            "-" if not agree else f"{agree['token_agreement'] * 100:.0f}%",
            task_cell(v), status,
        ])
    return out


def to_markdown(report: CompareReport) -> str:
    src = report.source
    lines = [
        f"# Variants of {src.get('name')} compared",
        "",
        f"Perplexity on {report.evalset.get('ppl_tokens')} tokens of {report.evalset.get('name')} (identical token ids "
        f"for every variant); {report.settings.get('new_tokens')} greedy tokens per decode, median of "
        f"{report.settings.get('decode_runs')} runs, {report.machine.get('threads')} thread(s); "
        f"load average at start {report.machine.get('load_avg')}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(report)]
    tasks = report.evalset.get("tasks")
    prompts = report.evalset.get("agreement_prompts") or []
    lines += ["", f"Task score: the evaluator's (per-field accuracy of JSON answers, word F1 otherwise) on {tasks} "
                  f"eval examples, mean with its bootstrap 95% interval. Agreement: greedy tokens against the "
                  f"reference's on {len(prompts) or 1} prompts. Recommended: the fastest ONNX variant within "
                  f"+{QUALITY_TOLERANCE * 100:.0f}% perplexity and at least {TASK_RETAINED * 100:.0f}% of the "
                  f"reference's task score."]
    why = [f"- {v.name}: {v.why_not}" for v in report.variants if v.why_not and v.name != report.reference]
    if why:
        lines += ["", "Why not the others:", *why]
    notes = [f"- {v.name}: {n}" for v in report.variants for n in v.notes + ([v.error] if v.error else [])]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def to_csv(report: CompareReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["variant", "kind", "precision", "size_mb", "load_s", "peak_rss_mb", "ttft_s", "decode_tok_s",
                     "speedup", "perplexity", "ppl_change", "same_prefix", "token_agreement", "task_score", "task_low",
                     "task_high", "task_n", "broken", "broken_reason", "rank", "why_not", "folder"])
    for v in report.variants:
        agree = v.agreement or {}
        writer.writerow([v.name, v.kind, v.precision, v.size_mb, v.load_s, v.peak_rss_mb, v.ttft_s, v.decode_tok_s,
                         v.speedup, v.perplexity, v.ppl_change, agree.get("same_prefix"), agree.get("token_agreement"),
                         v.task_score, v.task_low, v.task_high, v.task_n, v.broken, v.broken_reason or "", v.rank,
                         v.why_not or "", v.folder])
    return buf.getvalue()


def write_report(report: CompareReport, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / REPORT_JSON, "markdown": folder / REPORT_MD, "csv": folder / REPORT_CSV}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.as_dict(), indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(paths["json"])
    paths["markdown"].write_text(to_markdown(report), encoding="utf-8")
    paths["csv"].write_text(to_csv(report), encoding="utf-8")
    return paths


def load_report(path: Path) -> CompareReport:
    """A report from ``report.json`` or from a run directory holding ``artifacts/report.json``."""
    path = Path(path)
    if path.is_dir():
        path = Run(path).report() or path / REPORT_JSON
    return CompareReport.from_dict(json.loads(path.read_text(encoding="utf-8")))


def summary_json(report: CompareReport) -> dict[str, Any]:
    """What ``slmw compare --json`` prints: the report, variants first."""
    data = report.as_dict()
    for v in data["variants"]:
        v.pop("tokens", None)
    return {"variants": data.pop("variants"), **data}
