"""The memory-fit estimate: sensible magnitudes, and hints that name the knob that helps."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.train.memory import GIB, estimate_memory, lora_parameters


def test_lora_counts_adapter_parameters_exactly(tiny_model_dir: Path) -> None:
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    config = json.loads((tiny_model_dir / "config.json").read_text())
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert lora_parameters(config, 8, "all-linear") == trainable
    assert lora_parameters(config, 8, ["q_proj", "v_proj"]) < trainable


def test_full_fine_tune_costs_more_than_lora_and_fits_a_big_machine(tiny_model_dir: Path) -> None:
    full = estimate_memory(TrainRecipe(model="x", data="y", method="full"), tiny_model_dir, available=64 * GIB)
    lora = estimate_memory(TrainRecipe(model="x", data="y", method="lora"), tiny_model_dir, available=64 * GIB)
    assert full.optimizer > 50 * lora.optimizer  # the tiny model is mostly embedding
    assert full.fits and lora.fits and not full.hints


def test_not_fitting_gives_hints_that_name_the_knobs(tiny_model_dir: Path) -> None:
    recipe = TrainRecipe(model="x", data="y", method="full", batch_size=64, max_length=4096)
    estimate = estimate_memory(recipe, tiny_model_dir, available=1 * GIB)
    assert estimate.fits is False
    text = " ".join(estimate.hints)
    assert "batch_size: 32 with grad_accum: 2" in text and "max_length: 2048" in text and "method: lora" in text
    assert any("does NOT fit" in line for line in estimate.lines())
    checkpointed = estimate_memory(recipe.model_copy(update={"gradient_checkpointing": True}), tiny_model_dir)
    assert checkpointed.activations < 0.6 * estimate.activations  # 2 layers: one is still kept whole
