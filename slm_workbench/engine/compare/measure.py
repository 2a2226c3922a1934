"""Measure one model in a fresh process: ``python -m slm_workbench.engine.compare.measure SPEC OUT``.

One process per variant, so peak RSS is that variant's alone (not the sum of everything
loaded before it) and a crash in one runtime cannot take the comparison down. The peak is the
kernel's ``VmHWM`` of this process: ``getrusage``'s ``ru_maxrss`` is no use here, because Linux
carries the forking process's high-water mark across ``fork`` and ``exec`` (every variant would
report the compare job's own peak). SPEC is a
JSON object (``backend``, ``folder``, ``evalset``, ``threads``, ``new_tokens``,
``decode_runs``, ``chunk``, ``task_max_tokens``; optionally ``answers``, a JSON file of
``[prompt ids, reference ids]`` pairs whose reference NLL is scored as ``slmw eval`` scores it,
and ``text_perplexity: false`` to skip the held-out text); OUT receives the measurements. Progress
lines go to stdout as ``PROGRESS <phase> <done> <total>``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .evalset import EvalSet


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_rss_mb(status: str = "/proc/self/status") -> float:
    """This process's own peak resident set (``VmHWM``, kB), NaN where /proc has none."""
    try:
        with open(status) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e3
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def model_rss_mb(peak: float | None, before_load: float | None) -> float | None:
    """What the model itself adds to the measuring process: its peak minus what it held before loading
    (interpreter and runtime). The distill card's "model only" memory is the same difference."""
    if peak is None or before_load is None or not (math.isfinite(peak) and math.isfinite(before_load)):
        return None
    return round(max(0.0, peak - before_load), 1)


def say(phase: str, done: int, total: int) -> None:
    print(f"PROGRESS {phase} {done} {total}", flush=True)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    from ..measure.backends import import_runtime, open_backend

    evalset = EvalSet.load(Path(spec["evalset"]))
    threads = int(spec.get("threads", 1))
    new_tokens = int(spec.get("new_tokens", 64))
    runs = max(1, int(spec.get("decode_runs", 3)))
    import_runtime(spec["backend"])
    out: dict[str, Any] = {"rss_before_load_mb": round(rss_mb(), 1)}
    say("loading", 0, 1)
    t0 = time.perf_counter()
    backend = open_backend(spec["backend"], Path(spec["folder"]), threads, spec.get("execution_provider", "cpu"))
    out["load_s"] = round(time.perf_counter() - t0, 3)
    out["rss_after_load_mb"] = round(rss_mb(), 1)

    decodes = []
    for run in range(runs):
        say("decoding", run, runs)
        decodes.append(backend.greedy(evalset.prompt_ids, new_tokens, stop_at_eos=False))
    out["tokens"] = decodes[0].tokens
    out["ttft_s"] = round(statistics.median(d.ttft_s for d in decodes), 4)
    rates = [d.tok_s for d in decodes if d.tok_s]
    out["decode_runs_tok_s"] = [round(r, 2) for r in rates]
    out["decode_tok_s"] = round(statistics.median(rates), 2) if rates else None

    out["peak_rss_mb"] = round(peak_rss_mb(), 1)  # loading + decoding: what serving it costs
    speed_only = bool(spec.get("speed_only"))
    if not speed_only and spec.get("answers"):  # the evaluator's answer perplexity (the distill card)
        from ..eval.answerers import reference_nll

        pairs = json.loads(Path(spec["answers"]).read_text(encoding="utf-8"))
        scored = []
        for k, (prompt, ref) in enumerate(pairs):
            say("answer-perplexity", k, len(pairs))
            scored.append(reference_nll(backend, prompt, ref))
        out["answer_nll"] = scored  # per example: [summed NLL, reference tokens] or None
    if not speed_only and spec.get("text_perplexity", True):
        ids = evalset.ppl_ids[: max(2, backend.context_length - 1)]
        say("perplexity", 0, 1)
        t0 = time.perf_counter()
        nll = backend.nll(ids, int(spec.get("chunk", 256)))
        mean = float(nll.mean())
        out["perplexity"] = math.exp(mean) if math.isfinite(mean) and mean < 700 else None  # None: NaN or overflow
        out["ppl_tokens"] = int(len(nll))
        out["ppl_s"] = round(time.perf_counter() - t0, 3)

    if not speed_only:  # the other prompts of the agreement set, decoded once each
        others = evalset.agreement_prompts[1:]
        out["agreement_tokens"] = [out["tokens"]]
        for k, prompt_ids in enumerate(others):
            say("agreement", k, len(others))
            out["agreement_tokens"].append(backend.greedy(prompt_ids, new_tokens, stop_at_eos=False).tokens)

    if evalset.tasks and not speed_only:
        answers = []
        eos = set(evalset.eos_token_ids)
        for k, task in enumerate(evalset.tasks):
            say("task", k, len(evalset.tasks))
            decode = backend.greedy(task.prompt_ids, int(spec.get("task_max_tokens", 128)), stop_at_eos=True)
            answers.append([t for t in decode.tokens if t not in eos])
        out["task_answers"] = answers  # token ids: the parent decodes and scores them
    out["peak_rss_all_mb"] = round(peak_rss_mb(), 1)  # including the perplexity pass (logit buffers)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m slm_workbench.engine.compare.measure SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = measure(spec)
    Path(args[1]).write_text(json.dumps(result) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
