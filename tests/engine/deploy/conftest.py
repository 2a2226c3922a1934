"""Adapter fixtures: the tiny model's adapter bases (built once per session) and LoRA runs over it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from slm_workbench.engine.runs.store import RunStore

from .gguf_fixtures import gguf_origin_dir, lora_on_gguf_origin, no_llama_cpp  # noqa: F401

_BASES: dict[tuple[str, str], Path] = {}


def lora_base(model_dir: Path, precision: str) -> Path:
    """The adapter base of ``model_dir`` at ``precision``, built once per session (the builder takes ~10 s)."""
    key = (str(model_dir), precision)
    if key not in _BASES:
        from slm_workbench.engine.adapters.base import export_lora_base

        root = Path(tempfile.mkdtemp(prefix="slmw-lora-base-"))
        _BASES[key] = export_lora_base(model_dir, root / f"lora-{precision}", precision=precision, work_dir=root / "work")
    return _BASES[key]


@pytest.fixture
def fp32_base(tiny_model_dir: Path) -> Path:
    return lora_base(tiny_model_dir, "fp32")


def make_adapter(model_dir: Path, out: Path, *, seed: int, r: int, targets: list[str]) -> Path:
    """A PEFT LoRA with random A and B (B scaled up, so the adapter changes what the tiny model says)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
    model.save_pretrained(out)
    return out


def make_lora_run(model_dir: Path, *, seed: int, r: int, targets: list[str], title: str) -> Path:
    """A finished-looking training run over ``model_dir``: artifacts/adapter and lineage.json."""
    run = RunStore().create("train", "stage: train\nmodel: tiny\n", title=title)
    make_adapter(model_dir, run / "artifacts" / "adapter", seed=seed, r=r, targets=targets)
    lineage = {"base_model": {"spec": "tiny", "folder": str(model_dir)}}
    (run / "artifacts" / "lineage.json").write_text(json.dumps(lineage))
    return run


@pytest.fixture
def two_runs(slmw_home: Path, tiny_model_dir: Path) -> tuple[Path, Path]:
    """Two LoRA runs over the tiny model: attention only at rank 4, and every linear layer at rank 8."""
    first = make_lora_run(tiny_model_dir, seed=1, r=4, targets=["q_proj", "v_proj"], title="lora attention")
    second = make_lora_run(tiny_model_dir, seed=2, r=8, targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                  "up_proj", "down_proj"], title="lora all")
    return first, second
