"""Trainer callbacks that connect a training run to its run directory.

- ``MetricsWriter``: one ``metrics.jsonl`` line per logging step (loss, eval_loss, lr, grad
  norm, tokens/s, elapsed, ETA, RSS, GPU memory) and a ``progress`` event.
- ``CheckpointEvents``: a ``checkpoint`` event once the Trainer has written one.
- ``StopOnRequest``: a stop request (SIGTERM) ends training at the next step, after saving; with
  several processes, a stop on any of them (on any machine) stops all at the same step.
- ``NanGuard``: a NaN or infinite loss stops the run with a message instead of wasting it.

``trainer_callbacks`` hands every trainer of the stage (SFT in ``stage.py``, logit distillation in
``kd.py``) the same set.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ...config.train import TrainRecipe
from ..runs import stopping
from ..runs.context import RunContext


class MetricsWriter(TrainerCallback):
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._start = time.monotonic()
        self._last_time = self._start
        self._last_tokens = 0
        self._last_step = 0
        self._first_step: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = self._last_time = time.monotonic()
        self._last_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._last_step = self._first_step = state.global_step  # > 0 when resuming

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not logs:
            return
        if not state.is_world_process_zero:  # another machine of a multi-node run: its progress only
            if self.ctx.emits and "loss" in logs:
                self.ctx.progress("training", state.global_step, state.max_steps or None, "steps",
                                  "metrics are written on node 0")
            return
        now = time.monotonic()
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        step = state.global_step
        row: dict[str, Any] = {"step": step, "epoch": round(state.epoch or 0.0, 4)}
        for key in ("loss", "eval_loss", "learning_rate", "grad_norm"):
            if key in logs:
                row[key] = float(logs[key])
        if "loss" in logs:
            span = now - self._last_time
            if span > 0 and tokens > self._last_tokens:
                row["tokens_per_s"] = round((tokens - self._last_tokens) / span, 1)
            self._last_time, self._last_tokens = now, tokens
        elapsed = now - self._start
        done = step - (self._first_step or 0)
        row["tokens_seen"] = tokens
        row["elapsed_s"] = round(elapsed, 2)
        if done > 0 and state.max_steps:
            row["eta_s"] = round(elapsed / done * (state.max_steps - step), 1)
        row.update(memory_now())
        if len(row) > 4:  # not just bookkeeping (e.g. the final train_runtime log)
            self.ctx.metrics(row)
        self.ctx.progress("training", step, state.max_steps or None, "steps", _summary(row))


def _summary(row: dict[str, Any]) -> str:
    parts = []
    if "loss" in row:
        parts.append(f"loss {row['loss']:.4f}")
    if "eval_loss" in row:
        parts.append(f"eval {row['eval_loss']:.4f}")
    if "tokens_per_s" in row:
        parts.append(f"{row['tokens_per_s']:.0f} tok/s")
    return ", ".join(parts)


def memory_now() -> dict[str, float]:
    import psutil
    import torch

    out = {"rss_mb": round(psutil.Process(os.getpid()).memory_info().rss / 1e6, 1)}
    if torch.cuda.is_available():
        out["gpu_mem_mb"] = round(torch.cuda.max_memory_allocated() / 1e6, 1)
    return out


class CheckpointEvents(TrainerCallback):
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            self.ctx.checkpoint(folder, state.global_step)


class StopOnRequest(TrainerCallback):
    """Stop at the end of the step, after a checkpoint. The step loop's safe points are a step
    apart, so the worker waits a few step durations for one before it stops the job itself."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.stopped = False
        self.by_peer = False
        """The stop was asked for on another process (another machine of a multi-node run)."""
        self._step_start = time.monotonic()
        self._longest_step = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_start = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._longest_step = max(self._longest_step, time.monotonic() - self._step_start)
        stopping.set_grace(stopping.STOP_GRACE_S + 3 * self._longest_step)
        if self.stopped:
            return
        asked_here = self.ctx.cancel_requested.is_set()
        if any_rank(asked_here, args.device):
            stopping.acknowledge()  # saving the stop checkpoint: let it finish
            self.stopped, self.by_peer = True, not asked_here
            control.should_save = True
            control.should_training_stop = True


def any_rank(flag: bool, device: Any) -> bool:
    """``flag`` of any training process (one all-reduce when there are several): every rank stops at
    the same step, so they save one checkpoint together, and a stop on one machine reaches the others."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class NanGuard(TrainerCallback):
    def __init__(self) -> None:
        self.bad_step: int | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.bad_step = state.global_step
            control.should_training_stop = True
            control.should_save = False


def trainer_callbacks(recipe: TrainRecipe, ctx: RunContext, data: Any) -> tuple[int, bool, list[Any], Any, Any]:
    """(planned steps, has an eval split, the callbacks, the stop callback, the NaN guard): what every
    trainer of this stage gets, SFT or logit distillation, so their metrics, stops and resumes agree."""
    from transformers import EarlyStoppingCallback

    from .arguments import planned_steps

    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps = planned_steps(recipe, len(data.train), world)
    has_eval = data.eval is not None
    if recipe.report_to == "tensorboard":
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(ctx.artifacts_dir / "tensorboard"))
    stop, nan = StopOnRequest(ctx), NanGuard()
    callbacks = [MetricsWriter(ctx), CheckpointEvents(ctx), stop, nan]
    if recipe.early_stopping_patience and has_eval:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
    return steps, has_eval, callbacks, stop, nan
