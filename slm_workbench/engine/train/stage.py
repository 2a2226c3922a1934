"""The ``train`` job: data, model, TRL's SFTTrainer, checkpoints, artifacts.

Resuming is the same job started again on the same run directory (``slmw runs resume``):
it finds the newest complete checkpoint and hands it to the Trainer, which restores the
weights, optimizer, scheduler and RNG state, so the learning-rate schedule goes on where
it stopped.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..errors import Cancelled, WorkbenchError
from ..first_use import prepare_in_job
from ..models.resolve import parse_model
from ..preflight.disk import DiskNeed
from ..preflight.needs import LaunchNeeds, raw_data_need
from ..runs import stopping, store
from ..runs.context import RunContext
from .artifacts import write_artifacts
from .checkpoints import latest_checkpoint, remove_incomplete
from .data import is_prepared, load_training_data, prepare_raw
from .memory import available_memory, estimate_memory


def run(recipe: TrainRecipe, ctx: RunContext) -> None:
    if recipe.world_size > 1 and os.environ.get("SLMW_RANK_CHILD") != "1":
        from .distributed import run_distributed

        if recipe.num_nodes > 1 and latest_checkpoint(ctx.checkpoints_dir) is not None:
            raise WorkbenchError(
                f"a multi-node run does not resume: the other nodes keep no optimizer state "
                f"({ctx.checkpoints_dir} has node 0's checkpoints)",
                hint="start a new run on every node",
            )
        model_folder(recipe, ctx)  # prepared once by the driver (each machine's own), before any rank starts
        training_data_folder(recipe, ctx)
        if recipe.distill is not None:
            from .kd import teacher_folder

            teacher_folder(recipe, ctx)  # a LoRA teacher merged once, before the ranks load it
        run_distributed(recipe, ctx)
        return
    train(recipe, ctx)


def model_folder(recipe: TrainRecipe, ctx: RunContext) -> Path:
    prepare_in_job(recipe.model, ctx)
    return parse_model(recipe.model).require_prepared()


def training_data_folder(recipe: TrainRecipe, ctx: RunContext) -> Path:
    source = Path(recipe.data).expanduser()
    if is_prepared(source):
        return source.resolve()
    prepared = ctx.run_dir / "data"
    if not is_prepared(prepared):  # a resumed run reuses what it prepared the first time
        if not ctx.writes:
            raise WorkbenchError("rank > 0 started before the dataset was prepared")
        prepare_raw(recipe, prepared, lambda phase, done, total, unit="": ctx.progress(f"data: {phase}", done, total, unit),
                    ctx.check_cancelled)
    return prepared


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(recipe: TrainRecipe, ctx: RunContext) -> None:
    import torch

    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    seed_everything(recipe.seed)
    folder = model_folder(recipe, ctx)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    estimate = estimate_memory(recipe, folder, device=device, available=available_memory(device))
    for line in estimate.lines():
        print(f"[train] memory {line}", flush=True)
    if estimate.fits is False:
        ctx.warn(f"the memory estimate ({estimate.total / 2**30:.1f} GiB) exceeds what is free on {device} "
                 f"({(estimate.available or 0) / 2**30:.1f} GiB); " + "; ".join(estimate.hints))
    data_folder = training_data_folder(recipe, ctx)
    ctx.check_cancelled()

    from .model import load_model, load_tokenizer

    tokenizer = load_tokenizer(recipe, folder)
    data = load_training_data(data_folder, tokenizer, recipe.max_length)  # refuses a mismatch before the weights load
    teacher = None
    if recipe.distill is not None:
        from .kd import check_teacher, load_teacher, teacher_folder

        teacher_dir = teacher_folder(recipe, ctx)
        check_teacher(recipe, folder, teacher_dir)  # vocabularies, before any weight loads
        ctx.progress("loading the teacher", 0, None)
        teacher = load_teacher(recipe, teacher_dir)
    ctx.progress("loading the model", 0, None)
    loaded = load_model(recipe, folder, tokenizer)
    print(f"[train] {loaded.trainable_params:,} of {loaded.total_params:,} parameters trainable; "
          f"{len(data.train)} train / {len(data.eval) if data.eval is not None else 0} eval rows", flush=True)
    ctx.check_cancelled()
    if teacher is not None:
        from .kd import build_kd_trainer

        trainer, guards = build_kd_trainer(recipe, ctx, loaded, data, teacher, student_folder=folder,
                                           teacher_folder=teacher_dir)
    else:
        trainer, guards = build_trainer(recipe, ctx, loaded, data)
    if recipe.num_nodes > 1:
        from .distributed import check_nodes_agree

        check_nodes_agree(recipe, len(data.train), data.train_tokens)
    checkpoints = ctx.checkpoints_dir
    for name in remove_incomplete(checkpoints):
        ctx.warn(f"removed {name}: it was being written when the job stopped")
    resume = latest_checkpoint(checkpoints)
    if resume is not None:
        ctx.progress(f"resuming from {resume.name}", 0, None)
        print(f"[train] resuming from {resume}", flush=True)
    with stopping.grace(stopping.STOP_GRACE_S):  # StopOnRequest widens it once steps are timed
        run_trainer(trainer, resume, estimate, recipe)
    stop, nan = guards
    if nan.bad_step is not None:
        raise WorkbenchError(
            f"the training loss became NaN or infinite at step {nan.bad_step}",
            hint=f"lower learning_rate (now {recipe.learning_rate:g}), check the data, or use precision fp32/bf16",
        )
    if stop.stopped:
        if stop.by_peer and ctx.emits:  # this node's driver ends its run cancelled, not done
            store.update_status(ctx.run_dir, stop_requested=time.time())
        raise Cancelled()
    if ctx.writes:
        write_artifacts(recipe, ctx, trainer, loaded, data, folder)


def build_trainer(recipe: TrainRecipe, ctx: RunContext, loaded: Any, data: Any) -> tuple[Any, tuple[Any, Any]]:
    from trl import SFTTrainer

    from .arguments import sft_config
    from .callbacks import trainer_callbacks

    steps, has_eval, callbacks, stop, nan = trainer_callbacks(recipe, ctx, data)
    trainer = SFTTrainer(
        model=loaded.model,
        args=sft_config(recipe, ctx.run_dir, steps=steps, has_eval=has_eval,
                        attn_implementation=getattr(loaded.model.config, "_attn_implementation", None)),
        train_dataset=data.train.remove_columns(["n_tokens"]),
        eval_dataset=data.eval.remove_columns(["n_tokens"]) if has_eval else None,
        processing_class=loaded.tokenizer,
        callbacks=callbacks,
    )
    return trainer, (stop, nan)


def run_trainer(trainer: Any, resume: Path | None, estimate: Any, recipe: TrainRecipe) -> None:
    import torch

    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except torch.OutOfMemoryError as exc:
        raise out_of_memory("GPU", estimate) from exc
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            raise out_of_memory("RAM", estimate) from exc
        if recipe.num_nodes > 1:
            from .distributed import lost_peer

            if (lost := lost_peer(exc, recipe)) is not None:
                raise lost from exc
        raise


def out_of_memory(where: str, estimate: Any) -> WorkbenchError:
    hints = estimate.hints or ["gradient_checkpointing: true", "a smaller batch_size or max_length"]
    return WorkbenchError(
        f"out of {where} memory while training (estimated {estimate.total / 2**30:.1f} GiB"
        + (f" of {estimate.available / 2**30:.1f} GiB free)" if estimate.available else ")"),
        hint="; ".join(hints),
    )


def check(recipe: TrainRecipe) -> LaunchNeeds:
    """The launch check: what no flag fixes (QLoRA without CUDA, a context too short, missing data),
    the memory estimate against what is free, and the disk the checkpoints and artifacts take."""
    from .. import system
    from ..models.stage import prepare_model_needs
    from . import memory
    from .preflight import preflight

    checks = preflight(recipe)
    if checks.errors:
        raise WorkbenchError(checks.errors[0], hint="; ".join(checks.errors[1:]) or None)
    ref = parse_model(recipe.model)
    device = "cuda" if system.gpus() else "cpu"
    if not ref.prepared:  # prepared by the job: its memory and context are checked there
        return LaunchNeeds(prepare_model_needs(recipe.model, False) + train_needs(recipe, None, device),
                           warnings=checks.warnings)
    needs = LaunchNeeds(train_needs(recipe, ref.folder, device), warnings=checks.warnings)
    estimate = memory.estimate_memory(recipe, ref.folder, device=device, available=memory.available_memory(device))
    if estimate.fits is False:
        needs.refusals.append((
            f"this train job needs about {_gib(estimate.total)} of memory by the estimate, "
            f"{_gib(estimate.available or 0)} is free on {device} (`slmw train RECIPE --estimate` shows the terms)",
            "change " + "; ".join(estimate.hints) if estimate.hints else "use a smaller model, batch or max_length",
        ))
    return needs


def _gib(value: float) -> str:
    gib = value / 2**30
    return f"{gib:.1f} GiB" if gib < 1e5 else f"{gib:.2g} GiB"


def train_needs(recipe: TrainRecipe, model_folder: Path | None, device: str) -> list[DiskNeed]:
    """The prepared copy of raw data, ``save_total_limit`` + 1 checkpoints (weights and two AdamW
    states) and the artifacts (adapter or model, and the merged model when asked for)."""
    from .. import paths
    from ..models.info import safetensors_parameters
    from .memory import lora_parameters

    runs = paths.runs_dir()
    needs = raw_data_need(Path(recipe.data).expanduser(), runs, "the prepared copy of the data")
    if model_folder is None:
        return needs
    params = safetensors_parameters(model_folder)
    weight = 2.0 if recipe.precision in ("bf16", "fp16") or (recipe.precision == "auto" and device == "cuda") else 4.0
    if recipe.method == "full":
        checkpoint = params * (weight + 8.0)  # weights + two fp32 AdamW states
        artifacts = params * weight
    else:
        config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
        adapter = lora_parameters(config, recipe.lora.r, recipe.lora.target_modules)
        checkpoint = adapter * (4.0 + 8.0)
        artifacts = adapter * 4.0 + (params * weight if recipe.merge else 0.0)
    kept = recipe.save_total_limit + 1  # the next is written before the oldest goes
    needs.append(DiskNeed(runs, checkpoint * kept + artifacts, f"{kept} checkpoints + artifacts"))
    return needs
