"""Load the base model for training and attach adapters (PEFT) when the method asks for them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..errors import WorkbenchError
from .attention import attention_for, register


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    total_params: int
    trainable_params: int


def require_cuda_for_qlora(recipe: TrainRecipe) -> None:
    import torch

    if recipe.method == "qlora" and not torch.cuda.is_available():
        raise WorkbenchError(
            "QLoRA needs a CUDA GPU (bitsandbytes 4-bit); this machine has none",
            hint="use method: lora (same adapters, 16/32-bit base) — `--set method=lora`",
        )


def resolve_dtype(recipe: TrainRecipe) -> Any:
    """``auto``: bf16 on a GPU that has it, fp16 on older GPUs, fp32 on CPU."""
    import torch

    if recipe.precision == "fp32":
        return torch.float32
    if recipe.precision == "bf16":
        return torch.bfloat16
    if recipe.precision == "fp16":
        return torch.float16
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(recipe: TrainRecipe, folder: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=recipe.trust_remote_code)
    if recipe.chat_template:  # saved with the run's adapter or model, so every later stage renders with it
        from ..models.chat_template import apply_template, load_template

        apply_template(tokenizer, load_template(recipe.chat_template))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(recipe: TrainRecipe, folder: Path, tokenizer: Any) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM

    require_cuda_for_qlora(recipe)
    dtype = resolve_dtype(recipe)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": recipe.trust_remote_code}
    if attention_for(recipe) is not None:  # packed rows: per-document attention, several rows per pass
        kwargs["attn_implementation"] = register()
    if recipe.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype if dtype != torch.float32 else torch.bfloat16,
        )
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model.config.use_cache = False
    if recipe.method in ("lora", "qlora"):
        model = attach_lora(model, recipe)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return LoadedModel(model, tokenizer, total, trainable)


def attach_lora(model: Any, recipe: TrainRecipe) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if recipe.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recipe.gradient_checkpointing)
    config = LoraConfig(
        r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules, task_type="CAUSAL_LM", bias="none",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise WorkbenchError(f"lora.target_modules {recipe.lora.target_modules!r}: {str(exc).splitlines()[0]}") from None
