"""The comparison report: ``report.json`` (the contract a pane reads), ``report.md``, ``report.csv``.

``report.json``::

    {"source": {...}, "created": ..., "machine": {...}, "settings": {...},
     "evalset": {"name", "ppl_tokens", "prompt", "tasks"},
     "reference": "torch-fp32", "recommended": "int8" | null,
     "variants": [{"name", "label", "kind", "folder", "precision", "size_mb", "load_s",
                   "peak_rss_mb", "runtime_rss_mb", "model_rss_mb", "peak_rss_all_mb",
                   "ttft_s", "decode_tok_s", "speedup", "perplexity",
                   "ppl_change", "agreement": {"same_prefix", "token_agreement", "compared"},
                   "task_score", "task_low", "task_high", "task_n", "task_scores", "task_delta",
                   "task_ratio", "settings", "broken", "broken_reason", "rank", "why_not", "text", "notes",
                   "error"}, ...],
     "quality_checked": true, "fastest": "int4" | null}

The rule (``quality_shortfall``): a variant **keeps quality** when it is an ONNX variant, not
broken, its perplexity is at most +5% over the reference's, and, where eval examples were
scored, it **keeps the task**: the lower end of the paired 95% bootstrap interval of its task
score over the reference's (``task_ratio``: the same examples resampled together, 1000 times)
is at least 98%. ``recommended`` is the fastest variant that keeps quality; the variants that
keep quality are ranked 1, 2, ... by decode speed (so #1 is the recommendation); a variant that
does not keep quality (broken, over +5%, losing the task, the reference itself) has
``rank: null`` and says why in ``why_not``. Without a reference (``--no-reference``, or the
reference failed) no quality check is possible: ``quality_checked`` is false, nothing is
recommended or ranked, and ``fastest`` names the fastest variant, unchecked. With fewer than
``MIN_TASK_EXAMPLES`` (64) eval examples the verdict says "judged on N examples (±X points)".
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
"""Share of the reference's task score a recommended variant keeps (where tasks were scored), on average
over the same examples; and the paired 95% interval of that ratio must reach 100% (no loss beyond chance).

Why not "the interval's lower end ≥ 98%": on 64 examples that bar fails a variant that answers exactly as
well as the reference (measured on the smoke LoRA: int4-hq-cal 0.901 vs 0.901, paired [97%, 103%]), so it
recommends by noise; a variant that loses two answers in 64 is caught by the mean (97%), and one that
is worse on every resample is caught by the interval."""
MIN_TASK_EXAMPLES = 64
"""Eval examples a task verdict needs before it is stated without its margin of error: with 64, one
answer moves the mean by at most ~1.6 points."""


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
    """Peak resident memory of the whole measuring process (interpreter, runtime and model) while it
    loaded the model and decoded: what serving it costs."""
    runtime_rss_mb: float | None = None
    """Resident memory of the measuring process before it loaded the model (interpreter + runtime)."""
    model_rss_mb: float | None = None
    """``peak_rss_mb - runtime_rss_mb``: what the model itself adds (the distill card's "model only")."""
    peak_rss_all_mb: float | None = None
    """Peak over the whole measurement, perplexity pass and task answers included (logit buffers)."""
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
    task_ratio: dict[str, float] | None = None
    """Its task score over the reference's on the same examples, with the paired 95% bootstrap
    interval: mean, low, high (what the 98% rule reads: ``low``)."""
    settings: str = ""
    """Its build settings in brief (``settings_label`` of ``slmw_variant.json``): "b32 a4 sym"."""
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
    quality_checked: bool = True
    """False when no reference was measured: nothing was checked, nothing is recommended."""
    fastest: str | None = None
    """The fastest variant that is not broken (what ``--no-reference`` can still say)."""

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
        fields = {k: data.get(k) for k in ("source", "created", "machine", "settings", "evalset", "reference",
                                           "recommended", "fastest")}
        checked = bool(data.get("quality_checked", True))
        return cls(variants=variants, quality_checked=checked, **fields)  # type: ignore[arg-type]


def paired_task_ratio(ref: VariantResult, v: VariantResult, samples: int = 1000) -> dict[str, float] | None:
    """``v``'s task score over ``ref``'s on the same examples, with the paired 95% bootstrap interval."""
    if not ref.task_scores or len(ref.task_scores) != len(v.task_scores):
        return None
    from ..eval.bootstrap import paired_ratio  # numpy: only where a report is judged, never in a pane

    found = paired_ratio(ref.task_scores, v.task_scores, samples=samples)
    return None if found is None else {"mean": round(found.mean, 4), "low": round(found.low, 4),
                                       "high": round(found.high, 4)}


def rank_variants(report: CompareReport) -> None:
    """Fill speedup, ppl_change, task_ratio, why_not, rank, recommended and fastest from the measured numbers."""
    ref = next((v for v in report.variants if v.name == report.reference), None)
    for v in report.variants:
        if ref is not None and v is not ref:
            if ref.decode_tok_s and v.decode_tok_s:
                v.speedup = round(v.decode_tok_s / ref.decode_tok_s, 3)
            if ref.perplexity and v.perplexity:
                v.ppl_change = round(v.perplexity / ref.perplexity - 1, 5)
            if v.task_ratio is None and v.task_scores:
                v.task_ratio = paired_task_ratio(ref, v)
        elif v is ref:
            v.speedup, v.ppl_change = 1.0, 0.0
        v.rank = None
    runnable = [v for v in report.variants if v.kind == "onnx" and not v.broken and v.decode_tok_s is not None]
    fastest = max(runnable, key=lambda v: v.decode_tok_s or 0) if runnable else None
    report.fastest = fastest.name if fastest is not None else None
    report.quality_checked = ref is not None
    if ref is None:  # --no-reference, or the reference failed: nothing to check quality against
        report.recommended = None
        for v in report.variants:
            v.why_not = f"broken: {v.broken_reason}" if v.broken else "not checked: no reference was measured"
        return
    for v in report.variants:
        v.why_not = quality_shortfall(v, ref)
    keepers = sorted((v for v in report.variants if v.why_not is None),
                     key=lambda v: (-(v.decode_tok_s or 0), v.perplexity or 0))
    for k, v in enumerate(keepers, 1):
        v.rank = k
    best = keepers[0] if keepers else None
    report.recommended = best.name if best is not None else None
    for v in keepers[1:]:
        v.why_not = f"slower than {best.name} ({_fmt(v.decode_tok_s, '.1f')} vs {_fmt(best.decode_tok_s, '.1f')} tok/s)"


def task_examples(report: CompareReport) -> int | None:
    """How many eval examples the task verdict rests on (None when no task was scored)."""
    n = next((v.task_n for v in report.variants if v.task_n), None)
    if n is None and any(v.task_score is not None for v in report.variants):
        n = report.evalset.get("tasks")
    return n if isinstance(n, int) else None


def task_margin(report: CompareReport) -> float | None:
    """Half the width of the reference's 95% task interval, in points (score x 100)."""
    ref = next((v for v in report.variants if v.name == report.reference), None)
    judged = [ref] if ref is not None else [v for v in report.variants if v.task_low is not None]
    for v in judged:
        if v is not None and v.task_low is not None and v.task_high is not None:
            return (v.task_high - v.task_low) / 2 * 100
    return None


def sample_caveat(report: CompareReport) -> str:
    """"judged on N examples (±X points)" when the task rests on fewer than ``MIN_TASK_EXAMPLES``, else ""."""
    n = task_examples(report)
    if n is None or n >= MIN_TASK_EXAMPLES:
        return ""
    margin = task_margin(report)
    return f"judged on {n} examples" + (f" (±{margin:.0f} points)" if margin is not None else "")


def task_rule() -> str:
    return (f"its task score is ≥{TASK_RETAINED * 100:.0f}% of the reference's on the same examples and the paired "
            f"95% interval of that ratio reaches 100%")


def verdict_lines(report: CompareReport) -> list[tuple[str, str]]:
    """(text, kind) lines: the recommendation and its rule (kind ``best`` or ``none``; ``unchecked``
    without a reference), then why each other variant is not it (``broken`` or ``other``); the pane
    styles them, the CLI prints them."""
    if not report.quality_checked:
        why = ("--no-reference" if report.settings.get("reference") is False
               else "the PyTorch reference could not be measured")
        fastest = report.by_name(report.fastest) if report.fastest else None
        head = (f"fastest: {fastest.name} ({_fmt(fastest.decode_tok_s, '.1f')} tok/s) — " if fastest else "")
        lines = [(f"{head}no quality check was made ({why}): perplexity and task score were not compared with "
                  f"a reference, so no variant is recommended", "unchecked")]
        lines += [(f"{v.name}: broken: {v.broken_reason}", "broken") for v in report.variants if v.broken]
        return lines
    rule = f"within +{QUALITY_TOLERANCE * 100:.0f}% perplexity"
    n = task_examples(report)
    if n is not None:
        data = report.evalset.get("task_source") or report.evalset.get("name")
        rule += (f" and keeping the task ({task_rule()}; {n} eval examples"
                 + (f" of {data}" if data else "") + ")")
        caveat = sample_caveat(report)
        if caveat:
            rule += f", {caveat}"
    best = report.recommended
    lines = [(f"★ {best} is the fastest variant {rule}", "best") if best else (f"★ no variant stays {rule}", "none")]
    note = report.evalset.get("task_note")
    if note:
        lines.append((str(note), "other"))
    for v in report.variants:
        if v.name not in (best, report.reference) and v.why_not:
            lines.append((f"{v.name}: {v.why_not}", "broken" if v.broken else "other"))
    return lines


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


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
        ratio = v.task_ratio
        if ratio is not None:
            interval = f"paired 95% interval [{_pct(ratio['low'])}, {_pct(ratio['high'])}]"
            if ratio["mean"] < TASK_RETAINED:
                return (f"task {v.task_score:.3f} is {_pct(ratio['mean'])} of the reference's {ref.task_score:.3f} "
                        f"(less than {TASK_RETAINED * 100:.0f}%; {interval})")
            if ratio["high"] < 1.0:
                return (f"task {v.task_score:.3f} is {_pct(ratio['mean'])} of the reference's {ref.task_score:.3f}, "
                        f"{interval}: the whole interval under 100%, a loss beyond chance")
        elif v.task_score / ref.task_score < TASK_RETAINED:  # a report without per-example scores: the means
            return (f"task {v.task_score:.3f} is {v.task_score / ref.task_score * 100:.0f}% of the reference's "
                    f"{ref.task_score:.3f} (less than {TASK_RETAINED * 100:.0f}%)")
    return None


def short_status(v: VariantResult, report: CompareReport) -> str:
    """A row's status in a few characters: reference, #k, ★ recommended, BROKEN, or why it is not ranked."""
    if v.broken:
        return "BROKEN"
    if v.name == report.reference:
        return "reference"
    if not report.quality_checked:
        return "fastest, unchecked" if v.name == report.fastest else "unchecked"
    if v.name == report.recommended:
        return "★ recommended"
    if v.rank:
        return f"#{v.rank}"
    why = v.why_not or ""
    if why.startswith("perplexity"):
        return f"✗ ppl {v.ppl_change * 100:+.1f}%" if v.ppl_change is not None else "✗ perplexity"
    if why.startswith("task"):
        return "✗ task"
    return f"✗ {why.split(':')[0]}" if why else "-"


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def settings_label(info: dict[str, Any]) -> str:
    """A variant's build settings in brief, from its ``slmw_variant.json``: "b32 a4 sym",
    "gptq b32 a4 asym c32 data:3f2a9c", "gptq b32 a4 asym offsets:gate+up head4 c32 data:3f2a9c" (int4-mix-cal),
    "hq b32 a4 asym", "olive b128 a0 sym q87%". The export records them
    under ``settings`` (with ``calibration_data_sha256``) and ``quantized_share`` beside it; a variant built
    before that holds the knobs at the top level. A missing field is left out, an unknown one ignored."""
    recorded = info.get("settings") if isinstance(info.get("settings"), dict) else {}
    knobs = {**info, **recorded}
    parts: list[str] = []
    path = knobs.get("path")
    if path and path != "builder":
        parts.append({"offset4": "hq"}.get(str(path), str(path)))
    if knobs.get("precision") in ("int4", "int8") or "block_size" in knobs:
        if knobs.get("block_size") is not None:
            parts.append(f"b{knobs['block_size']}")
        if knobs.get("accuracy_level") is not None:
            parts.append(f"a{knobs['accuracy_level']}")
        if knobs.get("symmetric") is not None:
            parts.append("sym" if knobs["symmetric"] else "asym")
    if path == "gptq" and knobs.get("offsets"):
        parts.append("offsets")
    elif path == "gptq" and knobs.get("offsets_in"):
        parts.append("offsets:" + "+".join(str(p).removesuffix("_proj") for p in knobs["offsets_in"]))
    if knobs.get("head_bits") not in (None, 8):
        parts.append(f"head{knobs['head_bits']}")
    data_hash = knobs.get("calibration_data_sha256")
    if knobs.get("calibration_samples") is not None and (path == "gptq" or data_hash or knobs.get("calibration_data")):
        parts.append(f"c{knobs['calibration_samples']}")
    if data_hash:
        parts.append(f"data:{str(data_hash)[:6]}")
    elif knobs.get("calibration_data"):
        parts.append(f"data:{Path(str(knobs['calibration_data'])).name[:16]}")
    share = info.get("quantized_share")
    if knobs.get("precision") in ("int4", "int8") and isinstance(share, (int, float)) and share < 0.9995:
        parts.append(f"q{share * 100:.0f}%")
    return " ".join(parts)


COLUMNS = ("variant", "settings", "size MB", "load s", "peak RSS MB", "model RSS MB", "TTFT s", "decode tok/s",
           "x ref", "perplexity", "ppl change", "same prefix", "agreement", "task (95% CI)", "task / ref (paired)",
           "status")


def task_cell(v: VariantResult) -> str:
    if v.task_score is None:
        return "-"
    if v.task_low is None or v.task_high is None:
        return f"{v.task_score:.3f}"
    return f"{v.task_score:.3f} [{v.task_low:.2f}, {v.task_high:.2f}]"


def ratio_cell(v: VariantResult) -> str:
    r = v.task_ratio
    if not r:
        return "-"
    return f"{_pct(r['mean'])} [{_pct(r['low'])}, {_pct(r['high'])}]"


def rows(report: CompareReport) -> list[list[str]]:
    out = []
    for v in report.variants:
        agree = v.agreement or {}
        if v.broken:
            status = f"BROKEN: {v.broken_reason}"
        elif v.name == report.reference:
            status = "reference"
        elif not report.quality_checked:
            status = "fastest, no quality check" if v.name == report.fastest else "no quality check"
        elif v.rank:
            status = f"#{v.rank}" + (" (recommended)" if v.name == report.recommended else "")
        else:
            status = f"not ranked: {v.why_not}" if v.why_not else "-"
        out.append([
            v.name, v.settings or "-", _fmt(v.size_mb, ".0f"), _fmt(v.load_s, ".2f"), _fmt(v.peak_rss_mb, ".0f"),
            _fmt(v.model_rss_mb, ".0f"), _fmt(v.ttft_s, ".3f"),
            _fmt(v.decode_tok_s, ".1f"), _fmt(v.speedup, ".2f"), _fmt(v.perplexity, ".2f"),
            "-" if v.ppl_change is None else f"{v.ppl_change * 100:+.1f}%",
            "-" if not agree else f"{agree['same_prefix']}/{agree['compared']}",
            "-" if not agree else f"{agree['token_agreement'] * 100:.0f}%",
            task_cell(v), ratio_cell(v), status,
        ])
    return out


BRIEF_COLUMNS = ("variant", "settings", "size MB", "peak RSS MB", "model RSS MB", "decode tok/s", "x ref",
                 "ppl change", "task (95% CI)", "task / ref (paired)", "status")
"""What ``slmw compare`` prints (a terminal's width); report.md has every column."""


def brief_rows(report: CompareReport) -> list[list[str]]:
    """``BRIEF_COLUMNS`` of every row, the status short (the verdict lines below say why)."""
    keep = [COLUMNS.index(c) for c in BRIEF_COLUMNS[:-1]]
    return [[row[k] for k in keep] + [short_status(v, report)] for row, v in zip(rows(report), report.variants)]


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
    lines += ["", *(line for line, _kind in verdict_lines(report)[:1])]
    n = task_examples(report)
    prompts = report.evalset.get("agreement_prompts") or []
    task_data = report.evalset.get("task_source") or report.evalset.get("name")
    lines += ["", f"Task score: the evaluator's (per-field accuracy of JSON answers, word F1 otherwise) on {n} "
                  f"eval examples of {task_data}, mean with its bootstrap 95% interval; task / ref: the variant's "
                  f"mean over the reference's on the same examples, with the paired bootstrap 95% interval "
                  f"(the examples resampled together). Agreement: greedy tokens against the reference's on "
                  f"{len(prompts) or 1} prompts. Peak RSS: the measuring process's peak while loading and "
                  f"decoding (interpreter, runtime and model); model RSS: that peak minus what the process held "
                  f"before loading the model."]
    if report.evalset.get("task_note"):
        lines += ["", str(report.evalset["task_note"])]
    if report.quality_checked:
        lines += ["", f"Recommended: the fastest ONNX variant within +{QUALITY_TOLERANCE * 100:.0f}% perplexity "
                      f"that keeps the task: {task_rule()}. Only the variants that pass both are ranked (#1 the "
                      f"fastest); the others say why not."]
    else:
        lines += ["", "No quality check was made: without the PyTorch reference nothing was compared, so no "
                      "variant is recommended or ranked."]
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
    writer.writerow(["variant", "kind", "precision", "settings", "size_mb", "load_s", "peak_rss_mb", "runtime_rss_mb",
                     "model_rss_mb", "ttft_s", "decode_tok_s",
                     "speedup", "perplexity", "ppl_change", "same_prefix", "token_agreement", "task_score", "task_low",
                     "task_high", "task_n", "task_ratio", "task_ratio_low", "task_ratio_high", "broken",
                     "broken_reason", "rank", "why_not", "folder"])
    for v in report.variants:
        agree = v.agreement or {}
        ratio = v.task_ratio or {}
        writer.writerow([v.name, v.kind, v.precision, v.settings, v.size_mb, v.load_s, v.peak_rss_mb, v.runtime_rss_mb,
                         v.model_rss_mb, v.ttft_s, v.decode_tok_s,
                         v.speedup, v.perplexity, v.ppl_change, agree.get("same_prefix"), agree.get("token_agreement"),
                         v.task_score, v.task_low, v.task_high, v.task_n, ratio.get("mean"), ratio.get("low"),
                         ratio.get("high"), v.broken, v.broken_reason or "", v.rank, v.why_not or "", v.folder])
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
