"""The recipe as SFTConfig: packed batches without a varlen attention kernel run a row at a time."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.train.arguments import micro_batches, sft_config


def recipe(**fields) -> TrainRecipe:
    return TrainRecipe(model="m", data="d", **{"batch_size": 4, "grad_accum": 2, **fields})


def test_packed_rows_are_micro_batches_unless_attention_is_varlen() -> None:
    assert micro_batches(recipe(packing=True), "sdpa") == (1, 8)  # same 8 rows per optimizer step
    assert micro_batches(recipe(packing=True), "eager") == (1, 8)
    assert micro_batches(recipe(packing=True), "flash_attention_2") == (4, 2)
    assert micro_batches(recipe(packing=False), "sdpa") == (4, 2)
    assert micro_batches(recipe(packing=True, batch_size=1), "sdpa") == (1, 2)


def test_sft_config_carries_the_micro_batches_and_cpu_safe_defaults(tmp_path: Path) -> None:
    args = sft_config(recipe(packing=True), tmp_path, steps=10, has_eval=False, attn_implementation="sdpa")
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (1, 8)
    assert args.packing and args.packing_strategy == "bfd"
    assert not args.bf16 and not args.gradient_checkpointing  # TRL's GPU defaults overridden on CPU
    plain = sft_config(recipe(), tmp_path, steps=10, has_eval=False, attn_implementation="sdpa")
    assert (plain.per_device_train_batch_size, plain.gradient_accumulation_steps) == (4, 2)
