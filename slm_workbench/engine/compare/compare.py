"""Compare variants of one source with its PyTorch reference: the ``compare`` job's work.

Each model is measured in its own process (``measure.py``), one after the other, with the
same token ids (``evalset.json``) and the same thread count. With ``rounds`` > 1, the decode
speed is measured again in later rounds that visit every model in turn, so a burst of load
from something else on the machine is spread over all of them rather than landing on one;
the reported speed is the median over every run of every round.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import WorkbenchError
from ..events import BROKEN, MEASURED, NOT_MEASURED
from ..export.export import folder_bytes, read_variant_info
from ..model_source import ModelSource
from ..export.subproc import child_env, run_logged
from .evalset import EvalSet
from ..eval.bootstrap import mean_interval, paired_difference
from ..eval.metrics import score_example
from ..measure.backends import cuda_measurable
from .judge import agreement_over, broken_reason
from .measure import model_rss_mb
from .report import CompareReport, VariantResult, rank_variants, settings_label

MeasureProgress = Callable[[str, str, float, float], None]
"""(variant, phase, done, total)."""
VariantVerdict = Callable[[str, str, bool, str], None]
"""(variant, state, finished, detail): ``measured``, ``not measured`` or ``broken`` as each is known."""
REFERENCE_NAME = "torch-fp32"


@dataclass
class CompareSettings:
    threads: int = 1
    new_tokens: int = 64
    decode_runs: int = 3
    rounds: int = 1
    perplexity_tokens: int = 2048
    chunk: int = 256
    task_examples: int = 64
    task_max_tokens: int = 96
    bootstrap_samples: int = 1000
    ppl_ratio: float = 2.0
    reference: bool = True
    timeout_s: float = 1800.0


@dataclass(frozen=True)
class Entry:
    name: str
    label: str
    backend: str
    folder: Path
    precision: str
    execution_provider: str = "cpu"


def weights_bytes(folder: Path) -> int:
    files = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()]
    return sum(p.stat().st_size for p in files) if files else folder_bytes(folder)


def machine_info(threads: int) -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"threads": threads, "cpu": cpu or platform.processor(), "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()}


def entries_for(source: ModelSource, variants: dict[str, Path], reference: bool) -> list[Entry]:
    out = []
    if reference and source.hf_folder is not None:
        out.append(Entry(REFERENCE_NAME, f"{source.name} (PyTorch fp32)", "torch", source.hf_folder, "fp32"))
    for name, folder in variants.items():
        info = read_variant_info(folder)
        out.append(Entry(name, source.label(name), "onnx", folder, str(info.get("precision", "")),
                         str(info.get("execution_provider", "cpu"))))
    return out


def run_measure(entry: Entry, spec: dict, work_dir: Path, settings: CompareSettings, tag: str,
                 on_progress: MeasureProgress, check_cancelled: Callable[[], None]) -> dict:
    spec_path = work_dir / f"measure-{entry.name}{tag}.json"
    out_path = work_dir / f"result-{entry.name}{tag}.json"
    out_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({"backend": entry.backend, "folder": str(entry.folder),
                                     "execution_provider": entry.execution_provider, **spec}), encoding="utf-8")

    def on_line(line: str) -> None:
        if line.startswith("PROGRESS "):
            parts = line.split()
            if len(parts) == 4:
                on_progress(entry.name, parts[1], float(parts[2]), float(parts[3]))

    run_logged([sys.executable, "-m", "slm_workbench.engine.compare.measure", str(spec_path), str(out_path)],
               work_dir / f"measure-{entry.name}.log", what=f"measuring {entry.name}",
               env=child_env(settings.threads), check_cancelled=check_cancelled, on_line=on_line,
               timeout=settings.timeout_s)
    return json.loads(out_path.read_text(encoding="utf-8"))


def score_task(result: VariantResult, tokenizer: object, answers: list[list[int]], evalset: EvalSet,
               reference_scores: list[float] | None, settings: CompareSettings) -> None:
    """The evaluator's task score of each answer, their mean with its bootstrap interval, and the
    paired interval of the difference from the reference (the same examples)."""
    scores = [score_example(tokenizer.decode(a, skip_special_tokens=True), t.reference, ()).task  # type: ignore[attr-defined]
              for a, t in zip(answers, evalset.tasks)]
    result.task_scores = [round(x, 4) for x in scores]
    interval = mean_interval(scores, samples=settings.bootstrap_samples)
    if interval is not None:
        result.task_score, result.task_low, result.task_high = (round(interval.mean, 4), round(interval.low, 4),
                                                                round(interval.high, 4))
        result.task_n = interval.n
    if reference_scores and len(reference_scores) == len(scores):
        delta = paired_difference(reference_scores, scores, samples=settings.bootstrap_samples)
        if delta is not None:
            result.task_delta = {"mean": round(delta.mean, 4), "low": round(delta.low, 4), "high": round(delta.high, 4)}


def compare_variants(
    source: ModelSource,
    variants: dict[str, Path],
    *,
    evalset: EvalSet,
    work_dir: Path,
    settings: CompareSettings | None = None,
    on_progress: MeasureProgress = lambda variant, phase, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
    extra_entries: list[Entry] | None = None,
    on_measured: Callable[[str, dict], None] = lambda variant, measured: None,
    on_verdict: VariantVerdict = lambda variant, state, finished, detail: None,
) -> CompareReport:
    """Measure the reference and ``variants`` (name -> GenAI folder); returns the ranked report.

    ``extra_entries`` adds models run another way (``torch-dynamic-int8``), for benchmarks;
    ``on_measured(name, numbers)`` is called as each model's first measurement ends (a pane can
    fill its row before the report exists); ``on_verdict`` says where each model stands as soon
    as that is known: measured (finished once its last speed round is done), not measured, broken.
    """
    from transformers import AutoTokenizer

    settings = settings or CompareSettings()
    work_dir.mkdir(parents=True, exist_ok=True)
    evalset_path = evalset.save(work_dir / "evalset.json")
    tokenizer = AutoTokenizer.from_pretrained(str(source.hf_folder or next(iter(variants.values()))))
    machine = machine_info(settings.threads)
    spec = {"evalset": str(evalset_path), "threads": settings.threads, "new_tokens": settings.new_tokens,
            "decode_runs": settings.decode_runs, "chunk": settings.chunk, "task_max_tokens": settings.task_max_tokens}
    entries = entries_for(source, variants, settings.reference) + list(extra_entries or [])
    cuda_ok = any(e.execution_provider == "cuda" for e in entries) and cuda_measurable()
    raw: dict[str, dict] = {}
    results: list[VariantResult] = []
    for entry in entries:
        check_cancelled()
        size = weights_bytes(entry.folder) if entry.backend.startswith("torch") else folder_bytes(entry.folder)
        kind = "torch" if entry.backend.startswith("torch") else "onnx"
        info = read_variant_info(entry.folder) if kind == "onnx" else {}
        result = VariantResult(entry.name, entry.label, kind, str(entry.folder), entry.precision,
                               size_mb=round(size / 1e6, 1), notes=list(info.get("notes", [])),
                               settings=settings_label(info) if info else f"{entry.backend} {entry.precision}".strip())
        results.append(result)
        if entry.execution_provider != "cpu" and not (entry.execution_provider == "cuda" and cuda_ok):
            result.notes.append(f"built for {entry.execution_provider}: not measured (ONNX Runtime GenAI here has no "
                                f"{entry.execution_provider} build or sees no GPU; see the README's GPU notes)")
            on_verdict(entry.name, NOT_MEASURED, True, f"built for {entry.execution_provider}")
            continue
        if entry.execution_provider != "cpu":
            result.notes.append(f"measured on {entry.execution_provider}: its speed is not comparable with the CPU rows")
        try:
            raw[entry.name] = run_measure(entry, spec, work_dir, settings, "", on_progress, check_cancelled)
            measured = raw[entry.name]
            on_measured(entry.name, {k: v for k, v in measured.items()
                                     if k in ("perplexity", "decode_tok_s", "ttft_s", "load_s", "peak_rss_mb")}
                        | {"size_mb": result.size_mb}
                        | {"model_rss_mb": model_rss_mb(measured.get("peak_rss_mb"),
                                                      measured.get("rss_before_load_mb"))})
            on_verdict(entry.name, MEASURED, settings.rounds <= 1, "")
        except WorkbenchError as exc:
            result.broken, result.broken_reason, result.error = True, "failed to load or run", exc.message
            on_verdict(entry.name, BROKEN, True, result.broken_reason)
    for round_no in range(1, settings.rounds):
        for entry in entries:
            if entry.name not in raw:
                continue
            check_cancelled()
            on_progress(entry.name, f"speed round {round_no + 1}", round_no, settings.rounds)
            extra = run_measure(entry, {**spec, "speed_only": True}, work_dir, settings, f"-r{round_no}",
                                 on_progress, check_cancelled)
            raw[entry.name]["decode_runs_tok_s"] += extra.get("decode_runs_tok_s", [])
            raw[entry.name].setdefault("ttft_runs_s", []).append(extra.get("ttft_s"))
            if round_no == settings.rounds - 1:
                on_verdict(entry.name, MEASURED, True, "")
    ref_raw = raw.get(REFERENCE_NAME)
    for result in results:
        data = raw.get(result.name)
        if data is None:
            continue
        rates = data.get("decode_runs_tok_s") or []
        result.decode_runs_tok_s = rates
        result.decode_tok_s = round(statistics.median(rates), 2) if rates else None
        ttfts = [t for t in [data.get("ttft_s"), *data.get("ttft_runs_s", [])] if t is not None]
        result.ttft_s = round(statistics.median(ttfts), 4) if ttfts else None
        result.load_s, result.peak_rss_mb = data.get("load_s"), data.get("peak_rss_mb")
        result.runtime_rss_mb, result.peak_rss_all_mb = data.get("rss_before_load_mb"), data.get("peak_rss_all_mb")
        result.model_rss_mb = model_rss_mb(result.peak_rss_mb, result.runtime_rss_mb)
        result.perplexity = None if data.get("perplexity") is None else round(float(data["perplexity"]), 4)
        result.tokens = data.get("tokens", [])
        result.text = tokenizer.decode(result.tokens, skip_special_tokens=True)[:400]
        prompts_out = data.get("agreement_tokens") or [result.tokens]
        if ref_raw is not None:
            result.agreement = agreement_over(ref_raw.get("agreement_tokens") or [ref_raw.get("tokens", [])], prompts_out)
        answers = data.get("task_answers")
        if answers:
            score_task(result, tokenizer, answers, evalset, raw.get(REFERENCE_NAME, {}).get("task_scores"), settings)
            data["task_scores"] = result.task_scores
        if result.name != REFERENCE_NAME:
            judged, on = (answers, "eval examples") if answers else (prompts_out, "prompts")
            ref_judged = None
            if ref_raw is not None:
                ref_judged = ref_raw.get("task_answers") if answers else (ref_raw.get("agreement_tokens")
                                                                          or [ref_raw.get("tokens", [])])
            reason = broken_reason(result.perplexity, ref_raw.get("perplexity") if ref_raw else None, judged,
                                   ref_judged, ppl_ratio=settings.ppl_ratio, judged_on=on)
            result.broken, result.broken_reason = reason is not None, reason
            if reason is not None:
                on_verdict(result.name, BROKEN, True, reason)
    report = CompareReport(
        source={"spec": source.spec, "kind": source.kind, "name": source.name, "folder": str(source.hf_folder)},
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        machine=machine,
        settings=asdict(settings),
        evalset={"name": evalset.name, "ppl_tokens": len(evalset.ppl_ids), "prompt": evalset.prompt,
                 "tasks": len(evalset.tasks), "agreement_prompts": evalset.agreement_texts,
                 "task_source": evalset.task_source or (evalset.name if evalset.tasks else None),
                 "task_note": evalset.task_note or None},
        variants=results,
        reference=REFERENCE_NAME if REFERENCE_NAME in raw else None,
    )
    rank_variants(report)
    return report
