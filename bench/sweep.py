"""What a sweep costs a trial: a sweep trial against the same `slmw train` job, measured in one run.

The same LoRA training (SmolLM2, the demo data prepared once, batch 4, <=256 tokens, fp32, 1 thread)
as a plain training job and as the only trial of a one-trial sweep (the sweep job beside it: Optuna,
its journal, following the trial's metrics.jsonl twice a second). Non-pad tokens/s of the training
run from the end of step 2 to the end; runs interleaved; medians; the load average is printed before
and after, because on a shared machine it moves the figure more than the sweep does.
Goal: trial / plain >= 0.95. Measured (quiet machine, load average 1.09 before and 1.05 after, 12 steps, 2
repeats): plain job 99.8, 104.0; trial 98.5, 105.4 non-pad tok/s -> medians 101.9, 102.0: 1.001.

    .venv/bin/python bench/sweep.py [--steps 12] [--repeats 3] [--model smollm2-135m-instruct]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
