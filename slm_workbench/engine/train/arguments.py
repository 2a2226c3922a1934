"""The recipe as TRL's ``SFTConfig``, with every default that is wrong for us set explicitly.

TRL's own defaults assume a modern GPU: ``bf16=True`` and gradient checkpointing on. On a CPU
bf16 training is ~3x slower than fp32 and checkpointing only costs time, so both follow the
recipe (``precision: auto`` -> fp32 on CPU). Datasets arrive tokenized with ``labels``, so TRL
neither re-templates nor re-masks them.

Packing: TRL's best-fit-decreasing packing trains padding-free, flattening the packed rows of a
pass into ONE sequence whose documents are told apart by ``position_ids`` (and the boundaries
``cu_seq_lens_q``). A packing job loads ``sdpa_packed`` (engine/train/attention.py): SDPA once
per document, so each document attends only to itself at the cost of its own length squared,
on every device (plain SDPA or eager would mask the whole flattened sequence densely). How many
packed rows go in one pass (``micro_batches``): on a GPU (or with flash-attention) the recipe's
whole batch, for large matrix products; on a CPU one row per pass, accumulated up to the
recipe's batch (the same rows per optimizer step, the same loss), because there 4 rows of 512
flattened into 2048 tokens ran ~25% slower per token than the rows one at a time (activations
spill the caches; SmolLM2-135M, 1 thread, CPU time). bench/train_overhead.py measures packing
on vs off.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..runs.run import Run
from .attention import PACKED_ATTENTION
from .model import resolve_dtype


def planned_steps(recipe: TrainRecipe, train_rows: int, processes: int = 1) -> int:
    if recipe.max_steps:
        return recipe.max_steps
    per_step = recipe.batch_size * recipe.grad_accum * processes
    return max(1, math.ceil(train_rows / per_step * recipe.epochs))


def micro_batches(recipe: TrainRecipe, attn_implementation: str | None, on_gpu: bool = False) -> tuple[int, int]:
    """(rows per forward pass, gradient accumulation steps) for the recipe's batch on this attention."""
    flash = bool(attn_implementation) and "flash" in str(attn_implementation)
    whole_batch = flash or (attn_implementation == PACKED_ATTENTION and on_gpu)
    if recipe.packing and recipe.batch_size > 1 and not whole_batch:
        return 1, recipe.grad_accum * recipe.batch_size
    return recipe.batch_size, recipe.grad_accum


def cadence(every: int | None, steps: int, times: int) -> int:
    """``every`` when set, else about ``times`` times over the run."""
    return every or max(1, steps // times)


def sft_config(recipe: TrainRecipe, run_dir: Path, *, steps: int, has_eval: bool,
               attn_implementation: str | None = None) -> Any:
    from trl import SFTConfig

    return SFTConfig(**sft_arguments(recipe, run_dir, steps=steps, has_eval=has_eval,
                                     attn_implementation=attn_implementation))


def sft_arguments(recipe: TrainRecipe, run_dir: Path, *, steps: int, has_eval: bool,
                  attn_implementation: str | None = None) -> dict[str, Any]:
    """``SFTConfig``'s keyword arguments (the logit-distillation configs start from them: engine/train/kd.py)."""
    import torch

    on_gpu = torch.cuda.is_available()
    rows_per_pass, accumulation = micro_batches(recipe, attn_implementation, on_gpu)
    dtype = resolve_dtype(recipe)
    eval_every = cadence(recipe.eval_steps, steps, 10)
    save_every = cadence(recipe.save_steps, steps, 5)
    if recipe.early_stopping_patience and has_eval:
        save_every = eval_every  # best-model tracking needs a checkpoint at every evaluation
    return dict(
        output_dir=str(Run(run_dir).checkpoints_dir),
        seed=recipe.seed,
        data_seed=recipe.seed,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a share of the steps
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1,
        per_device_train_batch_size=rows_per_pass,
        per_device_eval_batch_size=rows_per_pass,
        gradient_accumulation_steps=accumulation,
        max_length=recipe.max_length,
        packing=recipe.packing,
        packing_strategy="bfd",
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_every if has_eval else None,
        save_strategy="steps",
        save_steps=save_every,
        save_total_limit=recipe.save_total_limit,
        load_best_model_at_end=bool(recipe.early_stopping_patience and has_eval),
        metric_for_best_model="eval_loss" if recipe.early_stopping_patience and has_eval else None,
        greater_is_better=False if recipe.early_stopping_patience and has_eval else None,
        logging_steps=recipe.logging_steps,
        logging_first_step=True,
        report_to=[] if recipe.report_to == "none" else [recipe.report_to],
        bf16=on_gpu and dtype == torch.bfloat16,
        fp16=on_gpu and dtype == torch.float16,
        use_cpu=not on_gpu,
        gradient_checkpointing=recipe.gradient_checkpointing,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        dataset_num_proc=None,
        disable_tqdm=True,
        ddp_backend=("nccl" if on_gpu else "gloo") if recipe.world_size > 1 else None,
        ddp_find_unused_parameters=False if recipe.world_size > 1 else None,
        save_only_model=recipe.node_rank > 0,  # another machine's ranks keep no checkpoint files (RNG states)
        remove_unused_columns=False,
        completion_only_loss=False,
        assistant_only_loss=False,
    )
