"""The distillation card: teacher vs student on the same examples, backend, precision and threads.

Each model is measured in a process of its own by the comparison's measurer
(``compare/measure.py``: decode tokens/s, TTFT, its own peak RSS from ``VmHWM``, perplexity of
held-out text, greedy answers to the task examples), with token ids from its own tokenizer, so a
student with another vocabulary is measured on the same text. Speed rounds after the first visit
teacher and student in turn, spreading outside load over both. Answers are scored by the
evaluator's task score (``eval/metrics.py``), and ``accuracy_retained`` carries a paired
bootstrap interval over the examples.

The runtime's fixed memory (the interpreter and ONNX Runtime, before the model loads) is in
both peaks; ``memory_ratio`` keeps it (it is what serving costs), and
``memory_ratio_model_only`` removes it, beside the weights' own sizes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..compare.compare import CompareSettings, Entry, machine_info, run_measure, score_task, weights_bytes
from ..compare.report import VariantResult
from ..export.export import folder_bytes
from ..eval.bootstrap import paired_ratio
from .layout import CARD_JSON, CARD_MD

Progress = Callable[[str, str, float, float], None]
"""(role, phase, done, total)."""


@dataclass(frozen=True)
class CardModel:
    role: str
    """``teacher`` or ``student``."""
    spec: str
    """What the user would type to get it (``RUN:int8``)."""
    backend: str
    """``onnx`` (an ONNX Runtime GenAI folder) or ``torch`` (an HF folder, fp32)."""
    folder: Path
    precision: str
    config_folder: Path | None = None
    """An HF folder with its ``config.json`` (parameters, layers)."""


@dataclass
class CardSide:
    spec: str
    backend: str
    precision: str
    folder: str
    params: int | None = None
    layers: int | None = None
    size_mb: float | None = None
    decode_tok_s: float | None = None
    decode_runs_tok_s: list[float] = field(default_factory=list)
    ttft_s: float | None = None
    load_s: float | None = None
    peak_rss_mb: float | None = None
    runtime_rss_mb: float | None = None
    """Resident memory of the measuring process before the model loads (interpreter + runtime)."""
    perplexity: float | None = None
    ppl_tokens: int | None = None
    task_score: float | None = None
    task_low: float | None = None
    task_high: float | None = None
    task_n: int | None = None
    task_scores: list[float] = field(default_factory=list)
    task_delta: dict[str, float] | None = None
    error: str | None = None


def model_shape(config_folder: Path | None) -> tuple[int | None, int | None]:
    """(parameters, decoder layers) from ``config.json`` and the safetensors headers, without loading weights."""
    if config_folder is None:
        return None, None
    from .student import model_cost

    try:
        cost = model_cost(config_folder)
    except (OSError, ValueError, KeyError):
        return None, None
    return cost.params or None, cost.layers or None


def _ratio(a: float | None, b: float | None, digits: int = 4) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def headline(teacher: CardSide, student: CardSide, *, samples: int = 1000) -> dict[str, Any]:
    """The figures scripts read: speedup, memory_ratio, accuracy_retained (+ the reductions)."""
    speedup = _ratio(student.decode_tok_s, teacher.decode_tok_s)
    memory_ratio = _ratio(student.peak_rss_mb, teacher.peak_rss_mb)
    model_only = None
    if None not in (student.peak_rss_mb, student.runtime_rss_mb, teacher.peak_rss_mb, teacher.runtime_rss_mb):
        model_only = _ratio(student.peak_rss_mb - student.runtime_rss_mb,  # type: ignore[operator]
                            teacher.peak_rss_mb - teacher.runtime_rss_mb)  # type: ignore[operator]
    retained = _ratio(student.task_score, teacher.task_score)
    interval = None
    if teacher.task_scores and len(teacher.task_scores) == len(student.task_scores):
        found = paired_ratio(teacher.task_scores, student.task_scores, samples=samples)
        interval = None if found is None else {"low": round(found.low, 4), "high": round(found.high, 4)}
    return {
        "speedup": speedup,
        "memory_ratio": memory_ratio,
        "accuracy_retained": retained,
        "accuracy_retained_interval": interval,
        "inference_time_reduction": None if not speedup else round(1 - 1 / speedup, 4),
        "memory_reduction": None if memory_ratio is None else round(1 - memory_ratio, 4),
        "memory_ratio_model_only": model_only,
        "size_ratio": _ratio(student.size_mb, teacher.size_mb),
        "params_ratio": _ratio(student.params, teacher.params),
    }


def _side(model: CardModel, data: dict[str, Any] | None) -> CardSide:
    params, layers = model_shape(model.config_folder)
    size = weights_bytes(model.folder) if model.backend == "torch" else folder_bytes(model.folder)
    side = CardSide(model.spec, model.backend, model.precision, str(model.folder), params, layers, round(size / 1e6, 1))
    if data is None:
        return side
    rates = data.get("decode_runs_tok_s") or []
    side.decode_runs_tok_s = rates
    side.decode_tok_s = round(statistics.median(rates), 2) if rates else None
    ttfts = [t for t in [data.get("ttft_s"), *data.get("ttft_runs_s", [])] if t is not None]
    side.ttft_s = round(statistics.median(ttfts), 4) if ttfts else None
    side.load_s, side.peak_rss_mb, side.runtime_rss_mb = data.get("load_s"), data.get("peak_rss_mb"), data.get(
        "rss_before_load_mb")
    side.perplexity = None if data.get("perplexity") is None else round(float(data["perplexity"]), 4)
    side.ppl_tokens = data.get("ppl_tokens")
    return side


def measure_card(teacher: CardModel, student: CardModel, *, eval_data: Path, settings: Any, work_dir: Path,
                 on_progress: Progress = lambda role, phase, done, total: None,
                 check_cancelled: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Measure both (``settings``: the recipe's ``CardSettings``) and return the card (``report.json``'s content)."""
    from transformers import AutoTokenizer

    from ..compare.evalset import build_evalset
    from ..errors import WorkbenchError

    work_dir.mkdir(parents=True, exist_ok=True)
    compare = CompareSettings(threads=settings.threads, new_tokens=settings.new_tokens,
                              decode_runs=settings.decode_runs, task_examples=settings.examples)
    specs: dict[str, dict[str, Any]] = {}
    tokenizers: dict[str, Any] = {}
    evalsets: dict[str, Any] = {}
    for model in (teacher, student):
        on_progress(model.role, "tokenizing the examples", 0, 1)
        evalsets[model.role] = build_evalset(model.folder, eval_data, task_examples=settings.examples)
        if not evalsets[model.role].tasks:
            raise WorkbenchError(f"{eval_data} has no examples with reference answers for the card's task score",
                                 hint="set card.data to a JSONL of chats (the last turn is the reference), "
                                      "a prepared folder, or slmw:demo-eval")
        tokenizers[model.role] = AutoTokenizer.from_pretrained(str(model.folder))
        specs[model.role] = {"evalset": str(evalsets[model.role].save(work_dir / f"evalset-{model.role}.json")),
                             "threads": compare.threads, "new_tokens": compare.new_tokens,
                             "decode_runs": compare.decode_runs, "chunk": compare.chunk,
                             "task_max_tokens": compare.task_max_tokens}
    entries = {m.role: Entry(m.role, m.spec, m.backend, m.folder, m.precision) for m in (teacher, student)}
    raw: dict[str, dict[str, Any]] = {}

    def progress(name: str, phase: str, done: float, total: float) -> None:
        on_progress(name, phase, done, total)

    for role in ("teacher", "student"):
        check_cancelled()
        raw[role] = run_measure(entries[role], specs[role], work_dir, compare, "", progress, check_cancelled)
    for round_no in range(1, settings.rounds):
        for role in ("teacher", "student"):
            check_cancelled()
            on_progress(role, f"speed round {round_no + 1}", round_no, settings.rounds)
            extra = run_measure(entries[role], {**specs[role], "speed_only": True}, work_dir, compare,
                                f"-r{round_no}", progress, check_cancelled)
            raw[role]["decode_runs_tok_s"] += extra.get("decode_runs_tok_s", [])
            raw[role].setdefault("ttft_runs_s", []).append(extra.get("ttft_s"))
    sides: dict[str, CardSide] = {}
    for model in (teacher, student):
        side = _side(model, raw[model.role])
        result = VariantResult(model.role, model.spec, model.backend, str(model.folder))
        reference = sides["teacher"].task_scores if model.role == "student" else None
        score_task(result, tokenizers[model.role], raw[model.role].get("task_answers") or [], evalsets[model.role],
                   reference, compare)
        side.task_score, side.task_low, side.task_high, side.task_n = (result.task_score, result.task_low,
                                                                       result.task_high, result.task_n)
        side.task_scores, side.task_delta = result.task_scores, result.task_delta
        sides[model.role] = side
    notes = ["perplexity is of the held-out conversations as rendered, prompts included: a student trained on "
             "answers only (train_on: completion) is not taught the prompts' text, so its figure can be far above "
             "the teacher's while its answers hold up; the task score is what the answers are judged by"]
    if tokenizers["teacher"].get_vocab() != tokenizers["student"].get_vocab():
        notes.append("teacher and student tokenize differently: their perplexities are per token of their own "
                     "vocabularies and are not comparable")
    card = {
        "teacher": asdict(sides["teacher"]),
        "student": asdict(sides["student"]),
        **headline(sides["teacher"], sides["student"]),
        "examples": sides["student"].task_n,
        "data": str(eval_data),
        "threads": settings.threads,
        "variant": settings.variant,
        "rounds": settings.rounds,
        "machine": machine_info(settings.threads),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "notes": notes,
    }
    return card


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _num(value: Any, spec: str = "") -> str:
    return "n/a" if value is None else format(value, spec)


def summary_lines(card: dict[str, Any]) -> list[str]:
    """The three headline figures in words (the CLI, the pane, card.md)."""
    interval = card.get("accuracy_retained_interval") or {}
    kept = _pct(card.get("accuracy_retained"))
    if interval:
        kept += f" [{_pct(interval.get('low'))}, {_pct(interval.get('high'))}]"
    return [
        f"speed: {_num(card.get('speedup'), '.2f')}x teacher's decode tokens/s "
        f"({_pct(card.get('inference_time_reduction'))} less inference time)",
        f"memory: {_num(card.get('memory_ratio'), '.2f')}x teacher's peak RSS ({_pct(card.get('memory_reduction'))} less; "
        f"without the runtime's fixed memory {_num(card.get('memory_ratio_model_only'), '.2f')}x)",
        f"accuracy retained: {kept} of the teacher's task score on {card.get('examples')} held-out examples",
    ]


ROWS: tuple[tuple[str, str, str], ...] = (
    ("params", "parameters", ",d"), ("layers", "layers", "d"), ("size_mb", "size MB", ".1f"),
    ("decode_tok_s", "decode tok/s", ".1f"), ("ttft_s", "TTFT s", ".3f"), ("peak_rss_mb", "peak RSS MB", ".0f"),
    ("runtime_rss_mb", "runtime RSS MB", ".0f"), ("perplexity", "perplexity", ".3f"), ("task_score", "task score", ".3f"),
)


def to_markdown(card: dict[str, Any]) -> str:
    t, s = card["teacher"], card["student"]
    lines = [f"# Distillation card: {s['spec']} from {t['spec']}", "",
             f"Same held-out examples ({card.get('data')}), backend and precision ({card.get('variant')}), "
             f"{card.get('threads')} thread(s); load average at the start {card.get('machine', {}).get('load_avg')}.", "",
             *[f"- {line}" for line in summary_lines(card)], "",
             "| | teacher | student |", "|---|---|---|"]
    for key, label, spec in ROWS:
        lines.append(f"| {label} | {_num(t.get(key), spec)} | {_num(s.get(key), spec)} |")
    for side, name in ((t, "teacher"), (s, "student")):
        if side.get("task_low") is not None:
            lines.append(f"\n{name} task score 95% interval: [{side['task_low']:.3f}, {side['task_high']:.3f}] "
                         f"(n={side.get('task_n')})")
    lines += [f"\nNote: {note}" for note in card.get("notes", [])]
    return "\n".join(lines) + "\n"


def write_card(card: dict[str, Any], artifacts: Path) -> Path:
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / CARD_MD).write_text(to_markdown(card), encoding="utf-8")
    path = artifacts / CARD_JSON
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
