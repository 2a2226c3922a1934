"""What a sweep costs a trial: a sweep trial against the same `slmw train` job, measured in one run.

The same LoRA training (SmolLM2, the demo data prepared once, batch 4, <=256 tokens, fp32, 1 thread)
as a plain training job and as the only trial of a one-trial sweep (the sweep job beside it: Optuna,
its journal, following the trial's metrics.jsonl twice a second). Non-pad tokens/s of the training
run from the end of step 2 to the end; runs interleaved; medians; the load average is printed before
and after, because on a shared machine it moves the figure more than the sweep does.
Goal: trial / plain >= 0.95. Measured (quiet machine, load average 1.09 before and 1.05 after, 12 steps, 2
repeats): plain job 99.8, 104.0; trial 98.5, 105.4 non-pad tok/s -> medians 101.9, 102.0: 1.001.

    .venv/bin/python bench/sweep.py [--steps 12] [--repeats 3] [--model smollm2-135m-instruct]

`--search` measures what a sweep finds instead: the shipped recipe (recipes/smoke-lora.yaml) trained and
scored as a user would (`slmw train`, then `slmw eval` on the held-out examples), then a 12-trial sweep of
the same recipe over learning rate, LoRA rank and warmup on `--metric task`, every trial scored on the same
examples. Printed: both task scores and eval losses, the sweep's wall time, the load.

    .venv/bin/python bench/sweep.py --search [--trials 12] [--parallel 2] [--examples 64]

Measured (2026-12-07, load average 4.7 before, 4.2 after: other jobs on the 2 cores): shipped recipe task
0.850, eval loss 0.271 (4.1 min); sweep 17.8 min, 8 complete + 4 pruned, best trial 2 task 0.912 (lr 6.2e-4,
r 16, warmup 0.060; eval loss 0.278).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_overhead import job_tokens_per_s  # noqa: E402 - the same measure as the training benchmark


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_plain(recipe) -> float:
    from slm_workbench.engine.runs.launcher import start_recipe, wait_for

    run_dir = start_recipe(recipe, title="bench plain")
    info = wait_for(run_dir, timeout=3600)
    if info.state != "done":
        raise SystemExit(f"bench job {run_dir} ended {info.state}: see {run_dir / 'worker.log'}")
    return job_tokens_per_s(run_dir)


def run_trial(recipe) -> float:
    from slm_workbench.config.sweep import SweepRecipe
    from slm_workbench.engine.runs.launcher import start_recipe, wait_for
    from slm_workbench.engine.runs.store import RunStore
    from slm_workbench.engine.sweep.summary import read_trials

    sweep = SweepRecipe(train=recipe.model_dump(mode="json"), params={"learning_rate": f"choice:{recipe.learning_rate}"},
                        trials=1, metric="loss", task_examples=0, pruner={"enabled": False})
    run_dir = start_recipe(sweep, title="bench sweep")
    info = wait_for(run_dir, timeout=3600)
    if info.state != "done":
        raise SystemExit(f"bench sweep {run_dir} ended {info.state}: see {run_dir / 'worker.log'}")
    (trial,) = read_trials(run_dir / "artifacts")
    return job_tokens_per_s(RunStore().root / trial["run_id"])


def last_eval_loss(run_dir: Path) -> float | None:
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    losses = [r["eval_loss"] for r in rows if "eval_loss" in r]
    return losses[-1] if losses else None


def search(args: argparse.Namespace) -> None:
    """The shipped recipe against the best of a task-scored sweep of it, in one run (one home)."""
    import time

    from slm_workbench.config.loading import load_recipe
    from slm_workbench.config.sweep import SweepRecipe
    from slm_workbench.engine.runs.launcher import start_recipe, wait_for
    from slm_workbench.engine.runs.store import RunStore
    from slm_workbench.engine.sweep.summary import best_trial, read_trials
    from slm_workbench.engine.sweep.task import task_score

    from slm_workbench.shipped import shipped_recipe

    shipped = load_recipe(shipped_recipe("smoke-lora"))
    print(f"load average before: {load()}  ({os.cpu_count()} cores); home {os.environ.get('SLMW_HOME', '~/.slmw')}",
          flush=True)
    started = time.monotonic()
    run_dir = start_recipe(shipped, title="bench shipped smoke-lora")
    info = wait_for(run_dir, timeout=3600)
    if info.state != "done":
        raise SystemExit(f"shipped recipe run {run_dir} ended {info.state}: see {run_dir / 'worker.log'}")
    score, _ = task_score(run_dir.name, args.examples, run_store=RunStore(), title="bench shipped task",
                          stop_requested=lambda: False)
    shipped_s = time.monotonic() - started
    print(f"shipped recipe: run {run_dir.name}, task {score:.3f} on {args.examples} examples, eval loss "
          f"{last_eval_loss(run_dir):.4f}, {shipped_s / 60:.1f} min (train + score); load {load()}", flush=True)

    params = {"learning_rate": "loguniform:1e-4:1e-2", "lora.r": "choice:8,16,32", "warmup_ratio": "uniform:0:0.1"}
    sweep = SweepRecipe(train="smoke-lora", params=params, trials=args.trials, metric="task",
                        task_examples=args.examples, parallel=args.parallel, seed=0)
    started = time.monotonic()
    sweep_dir = start_recipe(sweep, title="bench sweep search")
    info = wait_for(sweep_dir, timeout=4 * 3600)
    wall = time.monotonic() - started
    if info.state != "done":
        raise SystemExit(f"sweep {sweep_dir} ended {info.state}: see {sweep_dir / 'worker.log'}")
    rows = read_trials(sweep_dir / "artifacts")
    best = best_trial(rows, "maximize")
    states = {}
    for row in rows:
        states[row.get("state")] = states.get(row.get("state"), 0) + 1
    print(f"sweep {sweep_dir.name}: {args.trials} trials on --metric task ({args.examples} examples), parallel "
          f"{args.parallel}: wall {wall / 60:.1f} min; trial states {states}")
    for row in sorted(rows, key=lambda r: r.get("number", 0)):
        print(f"  trial {row.get('number')}: {row.get('state')}, params {row.get('params')}, task {row.get('task')}, "
              f"eval loss {row.get('eval_loss')}")
    if best:
        print(f"best trial {best.get('number')}: task {best.get('task')}, eval loss {best.get('eval_loss')}, "
              f"params {best.get('params')}")
    print(f"shipped recipe: task {score:.3f}, eval loss {last_eval_loss(run_dir):.4f}")
    print(f"load average after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", action="store_true", help="the shipped recipe against a task-scored sweep of it")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.search:
        return search(args)
    from slm_workbench.config.recipes import PrepareDataRecipe
    from slm_workbench.config.train import TrainRecipe
    from slm_workbench.engine.data import prepare_dataset

    work = Path(tempfile.mkdtemp(prefix="slmw-bench-sweep-"))
    demo = prepare_dataset(PrepareDataRecipe(source="slmw:demo", output=str(work / "demo"), model=args.model,
                                             eval_fraction=0.0, max_length=256)).output
    recipe = TrainRecipe(data=str(demo), model=args.model, method="lora", lora={"r": 16, "alpha": 32, "dropout": 0.0},
                         learning_rate=1e-3, max_steps=args.steps, batch_size=4, max_length=256, threads=1,
                         save_steps=10_000, logging_steps=1, eval_fraction=0.0, warmup_ratio=0.0)
    print(f"load average before: {load()}  ({os.cpu_count()} cores)", flush=True)
    plain, trial = [], []
    for _ in range(args.repeats):
        plain.append(run_plain(recipe))
        trial.append(run_trial(recipe))
    print(f"sweep trial vs slmw train: LoRA r=16 on {args.model}, batch 4, <=256 tokens, {args.steps} steps, 1 thread, "
          f"{args.repeats} interleaved repeats")
    print(f"  slmw train job : {statistics.median(plain):7.1f} non-pad tok/s  (all: {', '.join(f'{x:.1f}' for x in plain)})")
    print(f"  sweep trial    : {statistics.median(trial):7.1f} non-pad tok/s  (all: {', '.join(f'{x:.1f}' for x in trial)})")
    print(f"  ratio trial/job: {statistics.median(trial) / statistics.median(plain):.3f}  (goal >= 0.95)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
