"""The demo distillation, end to end, with its card: how much faster, smaller and as accurate the student is.

Runs ``recipes/distill-demo.yaml`` (or RECIPE) as one ``slmw distill`` job in its own SLMW_HOME
(a clean home by default: the teacher's smoke LoRA is trained first, as from a fresh clone; give
--home to reuse one where it is already trained), then prints each phase's wall time and the card:
teacher (the fine-tuned SmolLM2, its int8 variant) vs student (the cut, trained copy, int8), both
measured in processes of their own with the same thread, on the 64 held-out demo examples.
Memory is printed as peak RSS (what serving costs: the runtime's fixed memory included), as RSS
above the runtime, and as the weights' size, because the runtime's overhead moves the ratio.
The figures are from a fine-tuned teacher on its own task (what a user distils), not the base model.
Goals (issue #11): speedup >= 2.5, memory_ratio <= 0.5, accuracy retained >= 90%, all in <= 15 min.

    .venv/bin/python bench/distill.py [--recipe distill-demo] [--home DIR] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"speedup": (">=", 2.5), "memory_ratio": ("<=", 0.5), "accuracy_retained": (">=", 0.90)}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(value: object, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


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
    print(f"SLMW_HOME={home}\nload average before: {load()}  ({os.cpu_count()} cores)", flush=True)
    start = time.monotonic()
    run_dir = start_recipe(recipe, title="bench distill")
    info = wait_for(run_dir, timeout=4 * 3600)
    wall = time.monotonic() - start
    print(f"load average after:  {load()}")
    state = read_state(run_dir)
    print(f"\nrun {run_dir.name}: {info.state} in {wall / 60:.1f} min")
    for phase in state.phases:
        took = f"{phase.ended - phase.started:7.1f} s" if phase.started and phase.ended else "      -  "
        print(f"  {phase.name:<9} {phase.state:<9} {took}  {phase.run or '':<28} {phase.detail[:90]}")
    card = read_card(run_dir)
    if info.state != "done" or card is None:
        sys.exit(f"no card: the run ended {info.state}; see {run_dir / 'worker.log'}")
    t, s = card["teacher"], card["student"]
    print(f"\nteacher {t['spec']}  vs  student {s['spec']}  ({card['variant']}, {card['threads']} thread, "
          f"{card['examples']} held-out examples of {card['data']}; measured at load {card['machine']['load_avg']})")
    rows = (("parameters", "params", ",d"), ("layers", "layers", "d"), ("weights MB", "size_mb", ".1f"),
            ("decode tok/s", "decode_tok_s", ".1f"), ("TTFT s", "ttft_s", ".3f"), ("peak RSS MB", "peak_rss_mb", ".0f"),
            ("runtime RSS MB", "runtime_rss_mb", ".0f"), ("perplexity", "perplexity", ".3f"),
            ("task score", "task_score", ".3f"))
    for label, key, spec in rows:
        print(f"  {label:<15} {_fmt(t.get(key), spec):>12} {_fmt(s.get(key), spec):>12}")
    for one, name in ((t, "teacher"), (s, "student")):
        print(f"  {name} task 95% interval [{_fmt(one.get('task_low'), '.3f')}, {_fmt(one.get('task_high'), '.3f')}]"
              f"  decode runs {one.get('decode_runs_tok_s')}")
    print()
    for line in summary_lines(card):
        print(f"  {line}")
    print(f"  weights: {_fmt(card.get('size_ratio'), '.2f')}x the teacher's")
    print(f"  whole distillation: {wall / 60:.1f} min (goal <= 15)")
    for key, (op, goal) in GOALS.items():
        value = card.get(key)
        met = value is not None and (value >= goal if op == ">=" else value <= goal)
        print(f"  {key:<18} {_fmt(value, '.3f'):>7}  goal {op} {goal}: {'met' if met else 'MISSED'}")
    print(json.dumps({k: card.get(k) for k in ("speedup", "memory_ratio", "accuracy_retained",
                                                "memory_ratio_model_only", "size_ratio")}))


if __name__ == "__main__":
    main()
