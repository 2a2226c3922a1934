"""Training as a job on the tiny model: loss falls, artifacts land, stop/kill/resume keep the schedule."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from slm_workbench.engine.runs.launcher import resume_job, start_recipe, stop_job
from slm_workbench.engine.runs.store import RunStore, read_events
from tests.helpers import read_jsonl, wait_for_state, wait_until


def metrics_by_step(run_dir: Path) -> dict[int, dict]:
    rows: dict[int, dict] = {}
    for row in read_jsonl(run_dir / "metrics.jsonl"):
        rows.setdefault(row["step"], {}).update(row)
    return rows


def test_full_run_learns_and_leaves_artifacts(tiny_recipe) -> None:
    run_dir = start_recipe(tiny_recipe(method="full", learning_rate=3e-3), title="tiny full")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=240)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-2000:]
    steps = metrics_by_step(run_dir)
    losses = [steps[s]["loss"] for s in sorted(steps) if "loss" in steps[s]]
    assert len(losses) >= 20
    assert sum(losses[-4:]) / 4 < 0.75 * sum(losses[:4]) / 4, losses  # ln(vocab) = 10.8 at the start
    assert any("eval_loss" in row for row in steps.values())
    last = steps[max(steps)]
    assert {"learning_rate", "tokens_per_s", "elapsed_s", "rss_mb"} <= set(steps[5]) and last["step"] == 24
    model = run_dir / "artifacts" / "model"
    assert (model / "model.safetensors").is_file() and (model / "tokenizer.json").is_file()
    assert not list((run_dir / "artifacts").rglob("*.bin")), "artifacts must be safetensors, not pickle"
    lineage = json.loads((run_dir / "artifacts" / "lineage.json").read_text())
    assert lineage["data"]["source"]["sha256"] and lineage["steps"] == 24
    assert "sha256" in (model / "README.md").read_text()
    kinds = [e.kind for e in read_events(run_dir)]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "checkpoint" in kinds and "artifact" in kinds


def test_kill_after_checkpoint_then_resume_keeps_the_lr_schedule(tiny_recipe) -> None:
    recipe = tiny_recipe(max_steps=60, save_steps=20, eval_fraction=0.0, lr_scheduler="cosine", merge=True)
    reference = start_recipe(recipe, title="reference")
    victim = start_recipe(recipe, title="killed")
    wait_until(lambda: any(e.kind == "checkpoint" for e in read_events(victim)), timeout=240, what="a checkpoint")
    info = RunStore().info(victim)
    os.killpg(info.status.pgid, signal.SIGKILL)
    assert wait_for_state(victim, {"interrupted"}).state == "interrupted"
    resume_job(RunStore().info(victim))
    assert wait_for_state(victim, {"done", "failed"}, timeout=300).state == "done"
    assert wait_for_state(reference, {"done", "failed"}, timeout=300).state == "done"
    ref, got = metrics_by_step(reference), metrics_by_step(victim)
    assert max(got) == 60
    for step in range(21, 61):  # every step after the first checkpoint, as the resumed run logged it
        if step in got and "learning_rate" in got[step]:
            assert got[step]["learning_rate"] == pytest.approx(ref[step]["learning_rate"], rel=1e-6), step
    started = [e for e in read_events(victim) if e.kind == "started"]
    assert len(started) == 2  # the first attempt and the resume, both in one history
    artifacts = victim / "artifacts"
    assert (artifacts / "adapter" / "adapter_model.safetensors").is_file()
    assert (artifacts / "merged" / "model.safetensors").is_file()


def test_stop_saves_a_checkpoint_and_ends_cancelled(tiny_recipe) -> None:
    run_dir = start_recipe(tiny_recipe(max_steps=5000, save_steps=2000, eval_fraction=0.0), title="to stop")
    wait_until(lambda: (run_dir / "metrics.jsonl").exists() and len(read_jsonl(run_dir / "metrics.jsonl")) >= 3,
               timeout=240, what="training to log")
    stop_job(RunStore().info(run_dir))
    assert wait_for_state(run_dir, {"cancelled", "failed", "interrupted"}, timeout=120).state == "cancelled"
    checkpoints = [e for e in read_events(run_dir) if e.kind == "checkpoint"]
    assert checkpoints, "a stop must checkpoint before leaving"
    assert (Path(checkpoints[-1].path) / "trainer_state.json").is_file()


def test_qlora_without_cuda_fails_clearly(tiny_recipe) -> None:
    from slm_workbench.config.loading import dump_recipe
    from slm_workbench.engine.errors import WorkbenchError
    from slm_workbench.engine.runs.launcher import start_job

    with pytest.raises(WorkbenchError, match="QLoRA needs a CUDA GPU"):  # refused before a job starts
        start_recipe(tiny_recipe(method="qlora"), title="qlora on cpu", force=True)
    assert RunStore().list() == []
    run_dir = start_job("train", dump_recipe(tiny_recipe(method="qlora")), title="qlora on cpu")  # the job checks too
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=120)
    assert info.state == "failed"
    errors = [e for e in read_events(run_dir) if e.kind == "error"]
    assert "QLoRA needs a CUDA GPU" in errors[0].message and "lora" in errors[0].hint


def test_two_processes_train_together_and_only_rank0_writes(tiny_recipe) -> None:
    run_dir = start_recipe(tiny_recipe(num_processes=2, max_steps=6, save_steps=6, eval_fraction=0.0), title="ddp")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=300)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]
    steps = [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "loss" in row]
    assert steps == sorted(set(steps)) and max(steps) == 6, steps  # one line per step: rank 0 only
    log = (run_dir / "worker.log").read_text()
    assert "launching 2 processes" in log
    assert (run_dir / "artifacts" / "adapter" / "adapter_model.safetensors").is_file()


def test_packed_training_fills_rows_and_learns(tiny_recipe) -> None:
    """Packing (best-fit, padding-free) on CPU: a packed row per micro-batch, several examples per row."""
    run_dir = start_recipe(tiny_recipe(packing=True, method="full", learning_rate=3e-3, max_steps=16, eval_fraction=0.0,
                                       save_steps=100), title="packed")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=240)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-2000:]
    steps = metrics_by_step(run_dir)
    losses = [steps[s]["loss"] for s in sorted(steps) if "loss" in steps[s]]
    assert sum(losses[-3:]) < 0.85 * sum(losses[:3]), losses
    # each example is ~25 tokens, a packed row holds up to 64: 4 rows carry far more than 4 examples
    per_step = steps[16]["tokens_seen"] / 16
    assert per_step > 4 * 40, per_step
