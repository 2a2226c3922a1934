"""The comparison report: ``report.json`` (the contract a pane reads), ``report.md``, ``report.csv``.

``report.json``::

    {"source": {...}, "created": ..., "machine": {...}, "settings": {...},
     "evalset": {"name", "ppl_tokens", "prompt", "tasks"},
     "reference": "torch-fp32", "recommended": "int8" | null,
     "variants": [{"name", "label", "kind", "folder", "precision", "size_mb", "load_s",
                   "peak_rss_mb", "ttft_s", "decode_tok_s", "speedup", "perplexity",
                   "ppl_change", "agreement": {"same_prefix", "token_agreement", "compared"},
                   "task_score", "broken", "broken_reason", "rank", "text", "notes", "error"}, ...]}

Ranks go 1, 2, ... by perplexity (then speed) over the variants that are not broken; a
broken one has ``rank: null``. ``recommended`` is the fastest ONNX variant within +5%
perplexity of the reference (else the best-perplexity ONNX variant that is not broken).
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
    broken: bool = False
    broken_reason: str | None = None
    rank: int | None = None
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
    onnx = [v for v in ok if v.kind == "onnx"]
    close = [v for v in onnx if v.ppl_change is not None and v.ppl_change <= QUALITY_TOLERANCE]
    if close:
        report.recommended = max(close, key=lambda v: v.decode_tok_s or 0).name
    elif onnx:
        report.recommended = min(onnx, key=lambda v: v.perplexity or float("inf")).name
    else:
        report.recommended = None


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


COLUMNS = ("variant", "size MB", "load s", "peak RSS MB", "TTFT s", "decode tok/s", "x ref", "perplexity",
           "ppl change", "same prefix", "agreement", "task", "status")


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
            _fmt(v.task_score, ".3f"), status,
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
    notes = [f"- {v.name}: {n}" for v in report.variants for n in v.notes + ([v.error] if v.error else [])]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def to_csv(report: CompareReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["variant", "kind", "precision", "size_mb", "load_s", "peak_rss_mb", "ttft_s", "decode_tok_s",
                     "speedup", "perplexity", "ppl_change", "same_prefix", "token_agreement", "task_score", "broken",
                     "broken_reason", "rank", "folder"])
    for v in report.variants:
        agree = v.agreement or {}
        writer.writerow([v.name, v.kind, v.precision, v.size_mb, v.load_s, v.peak_rss_mb, v.ttft_s, v.decode_tok_s,
                         v.speedup, v.perplexity, v.ppl_change, agree.get("same_prefix"), agree.get("token_agreement"),
                         v.task_score, v.broken, v.broken_reason or "", v.rank, v.folder])
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
