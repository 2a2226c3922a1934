"""The distillation card: teacher vs student on the same examples, backend, precision and threads.

Each model is measured in a process of its own by the comparison's measurer
(``compare/measure.py``: decode tokens/s, TTFT, its own peak RSS from ``VmHWM``, greedy answers
to the task examples, and the NLL of the reference answers), with token ids from its own
tokenizer, so a student with another vocabulary is measured on the same text. Speed rounds after
the first visit teacher and student in turn, spreading outside load over both. Answers are scored
by the evaluator's task score (``eval/metrics.py``), and ``accuracy_retained`` carries a paired
bootstrap interval over the examples: the task score is the headline.

Perplexity is the evaluator's (``slmw eval``): of the reference *answers* only, tokenized as each
model's chat template renders the assistant turn (``eval/answerers.reference_ids``), aggregated as
exp(sum NLL / sum tokens) with its bootstrap interval. It is per token of each model's own
vocabulary, so it is labelled with the tokenizer it was counted in, and teacher and student
figures are said to be comparable only when the two tokenizers are the same.

The runtime's fixed memory (the interpreter and ONNX Runtime, before the model loads) is in
both peaks; ``memory_ratio`` keeps it (it is what serving costs), and each side's
``model_rss_mb`` and ``memory_ratio_model_only`` remove it, beside the weights' own sizes and
the variant each model ran as (``card.variant``: ``int4`` shows the memory of a 4-bit deployment,
its embedding table quantized and shared with a tied head where the builder does so).
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
from ..compare.measure import model_rss_mb
from ..compare.report import VariantResult
from ..export.export import folder_bytes, read_variant_info
from ..eval.bootstrap import paired_ratio, perplexity_interval
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
    variant: str = ""
    """What it ran as: the ONNX variant's name (``int4``), or ``torch`` (PyTorch fp32)."""


@dataclass
class CardSide:
    spec: str
    backend: str
    precision: str
    folder: str
    params: int | None = None
    layers: int | None = None
    size_mb: float | None = None
    variant: str = ""
    """What it ran as (``int4``, ``int8``, ``torch``): speed and memory are of this."""
    embeddings: str | None = None
    """``quantized`` or ``fp32`` (the token embedding table of an ONNX variant); None for PyTorch."""
    fp32_matrices: list[str] = field(default_factory=list)
    """Matrices an ONNX variant left in fp32 (its ``slmw_variant.json``)."""
    decode_tok_s: float | None = None
    decode_runs_tok_s: list[float] = field(default_factory=list)
    ttft_s: float | None = None
    load_s: float | None = None
    peak_rss_mb: float | None = None
    """The measuring process's own peak (``VmHWM``) after loading and decoding: what serving it costs."""
    runtime_rss_mb: float | None = None
    """Resident memory of the measuring process before the model loads (interpreter + runtime)."""
    model_rss_mb: float | None = None
    """``peak_rss_mb`` less ``runtime_rss_mb``: what the model itself adds."""
    tokenizer: str = ""
    """Which tokenizer its figures per token are counted in (``SmolLM2-135M-Instruct tokenizer``)."""
    vocab_size: int | None = None
    answer_perplexity: float | None = None
    """Perplexity of the reference answers as ``slmw eval`` computes it, per token of its own tokenizer."""
    answer_ppl_low: float | None = None
    answer_ppl_high: float | None = None
    answer_tokens: int | None = None
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
    side = CardSide(model.spec, model.backend, model.precision, str(model.folder), params, layers, round(size / 1e6, 1),
                    variant=model.variant or model.precision)
    if model.backend != "torch":
        left = read_variant_info(model.folder).get("fp32_matrices")
        side.fp32_matrices = [str(m) for m in left] if isinstance(left, list) else []
        side.embeddings = "fp32" if any("embed" in m for m in side.fp32_matrices) else "quantized" \
            if model.precision in ("int4", "int8") else "fp32"
    if data is None:
        return side
    rates = data.get("decode_runs_tok_s") or []
    side.decode_runs_tok_s = rates
    side.decode_tok_s = round(statistics.median(rates), 2) if rates else None
    ttfts = [t for t in [data.get("ttft_s"), *data.get("ttft_runs_s", [])] if t is not None]
    side.ttft_s = round(statistics.median(ttfts), 4) if ttfts else None
    side.load_s, side.peak_rss_mb, side.runtime_rss_mb = data.get("load_s"), data.get("peak_rss_mb"), data.get(
        "rss_before_load_mb")
    side.model_rss_mb = model_rss_mb(side.peak_rss_mb, side.runtime_rss_mb)
    scored = [pair for pair in data.get("answer_nll") or [] if pair]
    found = perplexity_interval([p[0] for p in scored], [p[1] for p in scored])
    if found is not None:
        side.answer_perplexity, side.answer_ppl_low, side.answer_ppl_high = (
            round(found.mean, 4), round(found.low, 4), round(found.high, 4))
        side.answer_tokens = int(sum(p[1] for p in scored))
    return side


def origin_name(folder: Path | None, depth: int = 0) -> str:
    """The model a folder's tokenizer came from, followed through what the workbench made of it: a
    prepared model's upstream, a keep_layers student's teacher, a run's base model; else the folder's name."""
    if folder is None:
        return "?"
    folder = Path(folder)
    if depth < 6:
        from ..models.gguf_convert import PROVENANCE_FILE
        from .student import read_student

        try:
            made = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            made = None
        if isinstance(made, dict) and (made.get("upstream") or made.get("name")):
            return str(made.get("upstream") or made.get("name")).rstrip("/").rsplit("/", 1)[-1]
        student = read_student(folder)
        if student is not None and student.get("teacher_folder"):
            return origin_name(Path(str(student["teacher_folder"])), depth + 1)
        from ..runs.run import Run

        run = Run.holding(folder)
        if run is not None:  # a run's merged or trained model: the run's base model
            try:
                base = run.base_model()
            except Exception:  # noqa: BLE001 - a damaged run: named by its folder below
                base = None
            if base is not None and Path(base).resolve() != folder.resolve():
                return origin_name(base, depth + 1)
    name = folder.name
    return name.removeprefix("hub--").rsplit("--", 1)[-1] if name.startswith("hub--") else name


def answer_pairs(tokenizer: Any, examples: dict[str, Any], tasks: list[Any]) -> list[list[list[int]]]:
    """[prompt ids, reference ids] of each task example, as ``slmw eval`` renders them for perplexity."""
    from ..eval.answerers import reference_ids
    from ..models.chat_template import stop_ids

    # the EOS and the template's end of turn, as the evaluator stops on: Gemma's <end_of_turn> is not its
    # EOS, and scoring the newline the template writes after it (never trained) multiplied its perplexity
    eos_ids = set(stop_ids(tokenizer))
    pairs = []
    for task in tasks:
        example = examples.get(task.id)
        if example is None:
            continue
        prompt, ref = reference_ids(tokenizer, eos_ids, example.messages, example.reference)
        pairs.append([prompt, ref])
    return pairs


def measure_card(teacher: CardModel, student: CardModel, *, eval_data: Path, settings: Any, work_dir: Path,
                 on_progress: Progress = lambda role, phase, done, total: None,
                 check_cancelled: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Measure both (``settings``: the recipe's ``CardSettings``) and return the card (``report.json``'s content)."""
    from transformers import AutoTokenizer

    from ..compare.evalset import build_evalset
    from ..compare.evalset import data_path as eval_path
    from ..errors import WorkbenchError
    from ..eval.examples import load_examples

    work_dir.mkdir(parents=True, exist_ok=True)
    compare = CompareSettings(threads=settings.threads, new_tokens=settings.new_tokens,
                              decode_runs=settings.decode_runs, task_examples=settings.examples)
    specs: dict[str, dict[str, Any]] = {}
    tokenizers: dict[str, Any] = {}
    evalsets: dict[str, Any] = {}
    examples: dict[str, Any] | None = None
    for model in (teacher, student):
        on_progress(model.role, "tokenizing the examples", 0, 1)
        evalsets[model.role] = build_evalset(model.folder, eval_data, task_examples=settings.examples)
        if not evalsets[model.role].tasks:
            raise WorkbenchError(f"{eval_data} has no examples with reference answers for the card's task score",
                                 hint="set card.data to a JSONL of chats (the last turn is the reference), "
                                      "a prepared folder, or slmw:demo-eval")
        tokenizers[model.role] = AutoTokenizer.from_pretrained(str(model.folder))
        if examples is None:
            examples = {e.id: e for e in load_examples(eval_path(eval_data), settings.examples).examples}
        answers = work_dir / f"answers-{model.role}.json"
        answers.write_text(json.dumps(answer_pairs(tokenizers[model.role], examples, evalsets[model.role].tasks)),
                           encoding="utf-8")
        specs[model.role] = {"evalset": str(evalsets[model.role].save(work_dir / f"evalset-{model.role}.json")),
                             "threads": compare.threads, "new_tokens": compare.new_tokens,
                             "decode_runs": compare.decode_runs, "chunk": compare.chunk,
                             "task_max_tokens": compare.task_max_tokens, "answers": str(answers),
                             "text_perplexity": False}
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
    same_tokenizer = tokenizers["teacher"].get_vocab() == tokenizers["student"].get_vocab()
    for model in (teacher, student):
        side = sides[model.role]
        side.vocab_size = len(tokenizers[model.role])
        side.tokenizer = f"{origin_name(model.config_folder or model.folder)} tokenizer"
    if same_tokenizer:
        sides["student"].tokenizer = sides["teacher"].tokenizer  # one tokenizer, one name (a cut copies it)
    notes = card_notes(sides["teacher"], sides["student"], same_tokenizer)
    card = {
        "teacher": asdict(sides["teacher"]),
        "student": asdict(sides["student"]),
        **headline(sides["teacher"], sides["student"]),
        "answer_perplexity_comparable": same_tokenizer,
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


def card_notes(teacher: CardSide, student: CardSide, same_tokenizer: bool) -> list[str]:
    """What a reader of the figures must know: perplexities that do not compare, a student that is not smaller."""
    notes = []
    if not same_tokenizer:
        notes.append(f"teacher and student tokenize differently ({teacher.tokenizer}, {_num(teacher.vocab_size, ',d')} "
                     f"tokens; {student.tokenizer}, {_num(student.vocab_size, ',d')} tokens): each answer perplexity "
                     "is per token of its own vocabulary, so the two are not comparable: compare the task scores")
    if student.params and teacher.params and student.params > teacher.params:
        notes.append(f"the student ({student.params / 1e6:.1f}M parameters) is larger than the teacher "
                     f"({teacher.params / 1e6:.1f}M): it is not expected to be faster or smaller")
    return notes


def larger_student(teacher_params: int | None, student_params: int | None) -> str | None:
    """The warning for a student with more parameters than its teacher (not a refusal), else None."""
    if not teacher_params or not student_params or student_params <= teacher_params:
        return None
    return (f"the student has {student_params / 1e6:.1f}M parameters, more than the teacher's "
            f"{teacher_params / 1e6:.1f}M: it will not be faster or smaller than the teacher (distilling goes on)")


def _mb(value: Any) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def perplexity_line(card: dict[str, Any]) -> str:
    """Each model's answer perplexity with the tokenizer it is counted in, and whether they compare."""
    t, s = card.get("teacher") or {}, card.get("student") or {}
    same = card.get("answer_perplexity_comparable")
    verdict = ("the same tokenizer: comparable" if same else
               "different tokenizers: not comparable, judge by the task score" if same is False else "")
    return (f"answer perplexity: teacher {_num(t.get('answer_perplexity'), '.2f')} ({t.get('tokenizer') or '?'}), "
            f"student {_num(s.get('answer_perplexity'), '.2f')} ({s.get('tokenizer') or '?'})"
            + (f"; {verdict}" if verdict else ""))


def summary_lines(card: dict[str, Any]) -> list[str]:
    """The headline figures in words, the task score first (the CLI, the pane, card.md)."""
    t, s = card.get("teacher") or {}, card.get("student") or {}
    interval = card.get("accuracy_retained_interval") or {}
    kept = _pct(card.get("accuracy_retained"))
    if interval:
        kept += f" [{_pct(interval.get('low'))}, {_pct(interval.get('high'))}]"
    ran = t.get("variant") if t.get("variant") == s.get("variant") else f"{t.get('variant')} / {s.get('variant')}"
    return [
        f"accuracy retained: {kept} of the teacher's task score ({_num(t.get('task_score'), '.3f')} -> "
        f"{_num(s.get('task_score'), '.3f')}) on {card.get('examples')} held-out examples",
        f"speed: {_num(card.get('speedup'), '.2f')}x teacher's decode tokens/s "
        f"({_pct(card.get('inference_time_reduction'))} less inference time), as {ran or card.get('variant')}",
        f"memory: {_num(card.get('memory_ratio'), '.2f')}x teacher's peak RSS ({_mb(t.get('peak_rss_mb'))} -> "
        f"{_mb(s.get('peak_rss_mb'))}, {_pct(card.get('memory_reduction'))} less); model only "
        f"{_num(card.get('memory_ratio_model_only'), '.2f')}x ({_mb(t.get('model_rss_mb'))} -> "
        f"{_mb(s.get('model_rss_mb'))}), as {ran or card.get('variant')}",
        perplexity_line(card),
    ]


ROWS: tuple[tuple[str, str, str], ...] = (
    ("task_score", "task score", ".3f"), ("params", "parameters", ",d"), ("layers", "layers", "d"),
    ("variant", "ran as", ""), ("embeddings", "embedding table", ""), ("size_mb", "size MB", ".1f"),
    ("decode_tok_s", "decode tok/s", ".1f"), ("ttft_s", "TTFT s", ".3f"), ("peak_rss_mb", "peak RSS MB", ".0f"),
    ("model_rss_mb", "model-only RSS MB", ".0f"), ("runtime_rss_mb", "runtime RSS MB", ".0f"),
    ("answer_perplexity", "answer perplexity", ".3f"), ("tokenizer", "counted in", ""),
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
        if side.get("answer_ppl_low") is not None:
            lines.append(f"\n{name} answer perplexity 95% interval: [{side['answer_ppl_low']:.3f}, "
                         f"{side['answer_ppl_high']:.3f}] ({side.get('answer_tokens')} tokens of the "
                         f"{side.get('tokenizer') or '?'})")
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
