"""The demo distillation, end to end, with its card: how much faster, smaller and as accurate the student is.

Runs ``recipes/distill-demo.yaml`` (or RECIPE) as one ``slmw distill`` job in its own SLMW_HOME
(a clean home by default: the models are prepared and the teacher is trained first, as from a fresh
clone; give --home to reuse one where they are), then prints each phase's wall time with the load
average during it, and the card: the teacher (Gemma 3 270M fine-tuned with LoRA on the demo task,
its int8 variant) vs the student (SmolLM2-135M-Instruct trained on the teacher's kept answers, int8),
both measured in processes of their own with the same thread, on the 64 held-out demo examples:
task scores with their intervals, each answer perplexity with the tokenizer it is counted in, decode
speed, TTFT, peak and model-only RSS. ``--recipe distill-demo-cut`` measures the same-family demo.
Goals (issue #20): accuracy retained >= 0.90 (interval low >= 0.85), speedup >= 2.0,
memory_ratio <= 0.5, the whole demo <= 20 min. The 2 cores are often shared: the load is printed
with every figure.

    .venv/bin/python bench/distill.py [--recipe distill-demo] [--home DIR] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

GOALS = {"speedup": (">=", 2.0), "memory_ratio": ("<=", 0.5), "accuracy_retained": (">=", 0.90)}
INTERVAL_GOAL = 0.85
MINUTES_GOAL = 20.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(value: object, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


class LoadSampler:
    """The 1-minute load average every ``every`` seconds, to say what load each phase ran at."""

    def __init__(self, every: float = 10.0) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), os.getloadavg()[0]))
            self._stop.wait(every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> str:
        values = [v for t, v in self.samples if start <= t <= end]
        if not values:
            return "   -"
        return f"{sum(values) / len(values):4.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="distill-demo")
    parser.add_argument("--home", default=None, help="SLMW_HOME to use (default: a new, empty one)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="slmw-bench-distill-"))
    os.environ["SLMW_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OLIVE_DISABLE_TELEMETRY", "1")
    from slm_workbench.config.loading import load_recipe
    from slm_workbench.engine.distill.card import summary_lines
    from slm_workbench.engine.distill.layout import read_card, read_state
    from slm_workbench.engine.runs.launcher import start_recipe, wait_for

    recipe = load_recipe(Path(args.recipe), args.overrides)
    print(f"SLMW_HOME={home}  (models folder: {sorted(p.name for p in (home / 'models').glob('*'))})\n"
          f"load average before: {load()}  ({os.cpu_count()} cores)", flush=True)
    sampler = LoadSampler()
    start_wall, start = time.time(), time.monotonic()
    run_dir = start_recipe(recipe, title="bench distill")
    info = wait_for(run_dir, timeout=4 * 3600)
    wall = time.monotonic() - start
    sampler.stop()
    print(f"load average after:  {load()}; during the run (1-min, sampled every 10 s): "
          f"{sampler.between(start_wall, time.time())}")
    state = read_state(run_dir)
    print(f"\nrun {run_dir.name}: {info.state} in {wall / 60:.1f} min (goal <= {MINUTES_GOAL:.0f})")
    print(f"  {'phase':<9} {'state':<9} {'time':>9}  {'load mean (min-max)':<20} detail")
    first = min((p.started for p in state.phases if p.started), default=start_wall)
    print(f"  {'(launch)':<9} {'':<9} {first - start_wall:7.1f} s  {'':<20} job start, models prepared by the phases")
    for phase in state.phases:
        took = f"{phase.ended - phase.started:7.1f} s" if phase.started and phase.ended else "      -  "
        during = sampler.between(phase.started, phase.ended) if phase.started and phase.ended else "   -"
        print(f"  {phase.name:<9} {phase.state:<9} {took}  {during:<20} {phase.detail[:110]}")
    card = read_card(run_dir)
    if info.state != "done" or card is None:
        sys.exit(f"no card: the run ended {info.state}; see {run_dir / 'worker.log'}")
    t, s = card["teacher"], card["student"]
    print(f"\nteacher {t['spec']}  vs  student {s['spec']}  ({card['variant']}, {card['threads']} thread, "
          f"{card['examples']} held-out examples of {card['data']}; card started at load {card['machine']['load_avg']})")
    rows = (("task score", "task_score", ".3f"), ("parameters", "params", ",d"), ("layers", "layers", "d"),
            ("vocabulary", "vocab_size", ",d"), ("weights MB", "size_mb", ".1f"), ("embeddings", "embeddings", ""),
            ("decode tok/s", "decode_tok_s", ".1f"), ("TTFT s", "ttft_s", ".3f"), ("peak RSS MB", "peak_rss_mb", ".0f"),
            ("model RSS MB", "model_rss_mb", ".0f"), ("runtime RSS MB", "runtime_rss_mb", ".0f"),
            ("answer ppl", "answer_perplexity", ".3f"), ("answer tokens", "answer_tokens", "d"))
    for label, key, spec in rows:
        print(f"  {label:<15} {_fmt(t.get(key), spec):>14} {_fmt(s.get(key), spec):>14}")
    for one, name in ((t, "teacher"), (s, "student")):
        print(f"  {name} task 95% interval [{_fmt(one.get('task_low'), '.3f')}, {_fmt(one.get('task_high'), '.3f')}]"
              f"; answer perplexity in the {one.get('tokenizer')}; decode runs {one.get('decode_runs_tok_s')}")
    generation = card.get("generation") or {}
    print(f"  teacher's answers: {generation}")
    print()
    for line in summary_lines(card):
        print(f"  {line}")
    for note in card.get("notes", []):
        print(f"  note: {note}")
    print(f"  weights: {_fmt(card.get('size_ratio'), '.2f')}x the teacher's")
    print(f"  whole distillation: {wall / 60:.1f} min: {'met' if wall / 60 <= MINUTES_GOAL else 'MISSED'} "
          f"(goal <= {MINUTES_GOAL:.0f}; at the load above)")
    for key, (op, goal) in GOALS.items():
        value = card.get(key)
        met = value is not None and (value >= goal if op == ">=" else value <= goal)
        print(f"  {key:<18} {_fmt(value, '.3f'):>7}  goal {op} {goal}: {'met' if met else 'MISSED'}")
    low = (card.get("accuracy_retained_interval") or {}).get("low")
    print(f"  {'retained, low end':<18} {_fmt(low, '.3f'):>7}  goal >= {INTERVAL_GOAL}: "
          f"{'met' if low is not None and low >= INTERVAL_GOAL else 'MISSED'}")
    print(json.dumps({k: card.get(k) for k in ("speedup", "memory_ratio", "accuracy_retained", "accuracy_retained_interval",
                                                "memory_ratio_model_only", "size_ratio", "answer_perplexity_comparable")}))


if __name__ == "__main__":
    main()
