"""The student as a copy of the teacher with fewer decoder layers (``keep_layers: N``).

Kept layers are evenly spaced with the first and the last kept: index ``round(i*(L-1)/(N-1))``
for ``i`` in ``0..N-1`` (``N = 1`` keeps layer 0 alone: the layer next to the embeddings, whose
output the later layers were trained to refine; a one-layer student is a toy either way).
Embeddings, the final norm and the head are copied (a tied head stays tied), per-layer config
lists (``layer_types`` ...) are cut to match, and the folder is written aside and renamed, with
the teacher's tokenizer files copied byte for byte (so data prepared for the teacher is valid
for the student), its chat template, generation config and a ``student.json`` lineage.

Mind the arithmetic: decode cost per token is the layers' linear layers plus the head, and the
head does not shrink (SmolLM2-135M: 30 x 3.54M + 28.3M MACs; 10 layers keep 64M, ~2.1x fewer).
``estimate_student`` says it before anything is cut, from ``config.json`` and safetensors headers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..models.info import numel, safetensors_shapes

STUDENT_JSON = "student.json"
LAYER_KEY = re.compile(r"^model\.layers\.(\d+)\.")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                   "generation_config.json")


@dataclass(frozen=True)
class StudentEstimate:
    """What a keep_layers copy costs, before it is cut (the Distill pane shows it)."""

    teacher_layers: int
    keep_layers: int
    kept: list[int]
    teacher_params: int
    params: int
    teacher_macs_per_token: int
    macs_per_token: int
    """Multiply-adds of one decoded token in the linear layers and the head (attention over the
    context, norms and activations excluded: small at short contexts)."""
    head_macs_per_token: int

    @property
    def speedup_bound(self) -> float:
        """Teacher MACs / student MACs: the decode speedup if time follows multiply-adds."""
        return self.teacher_macs_per_token / max(1, self.macs_per_token)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup_bound": round(self.speedup_bound, 3)}


@dataclass(frozen=True)
class StudentInfo:
    folder: Path
    teacher_folder: Path
    teacher_layers: int
    kept: list[int]
    params: int
    macs_per_token: int

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "teacher_folder": str(self.teacher_folder),
                "teacher_layers": self.teacher_layers, "kept": self.kept, "params": self.params,
                "macs_per_token": self.macs_per_token}


def kept_layers(total: int, keep: int) -> list[int]:
    """Indices of ``keep`` of ``total`` layers, evenly spaced, first and last kept (``keep`` 1: [0])."""
    if keep < 1:
        raise WorkbenchError(f"keep_layers {keep} must be at least 1")
    if keep >= total:
        raise WorkbenchError(f"keep_layers {keep} is not below the teacher's {total} layers",
                             hint=f"keep 1 to {total - 1} layers, or use the teacher itself")
    if keep == 1:
        return [0]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"{folder} is not a model folder (no readable config.json: {exc})") from None
    return config.get("text_config") if isinstance(config.get("text_config"), dict) else config


def check_cuttable(folder: Path) -> int:
    """The teacher's layer count; raises one clear line when its layers are not ``model.layers.N.``."""
    config = _read_config(folder)
    layers = config.get("num_hidden_layers")
    shapes = safetensors_shapes(folder)
    found = {int(m.group(1)) for k in shapes if (m := LAYER_KEY.match(k))}
    if not isinstance(layers, int) or not shapes or found != set(range(layers)):
        raise WorkbenchError(
            f"{folder}: keep_layers needs a causal LM whose decoder layers are model.layers.N. in safetensors and whose "
            "config has num_hidden_layers; this one is not (give the student as model: instead)")
    return layers


def estimate_student(teacher_folder: Path, keep_layers: int) -> StudentEstimate:
    """Parameters and per-token decode multiply-adds of the teacher and of a keep_layers copy."""
    teacher_folder = Path(teacher_folder)
    total = check_cuttable(teacher_folder)
    kept = kept_layers(total, keep_layers)
    per_layer_params, per_layer_macs, other_params, head = _costs(teacher_folder, total)
    return StudentEstimate(
        teacher_layers=total, keep_layers=keep_layers, kept=kept,
        teacher_params=other_params + sum(per_layer_params),
        params=other_params + sum(per_layer_params[i] for i in kept),
        teacher_macs_per_token=sum(per_layer_macs) + head,
        macs_per_token=sum(per_layer_macs[i] for i in kept) + head,
        head_macs_per_token=head,
    )


def _costs(folder: Path, layers: int) -> tuple[list[int], list[int], int, int]:
    """(parameters per layer, multiply-adds per token per layer, parameters outside the layers, the head's
    multiply-adds per token), from the safetensors headers and the config."""
    config = _read_config(folder)
    per_layer_params = [0] * layers
    per_layer_macs = [0] * layers
    other_params = 0
    for key, shape in safetensors_shapes(folder).items():
        m = LAYER_KEY.match(key)
        if m and int(m.group(1)) < layers:
            i = int(m.group(1))
            per_layer_params[i] += numel(shape)
            if key.endswith(".weight") and len(shape) == 2:
                per_layer_macs[i] += numel(shape)
        else:
            other_params += numel(shape)
    head = int(config["vocab_size"]) * int(config["hidden_size"])  # tied or not: V x h per token
    return per_layer_params, per_layer_macs, other_params, head


@dataclass(frozen=True)
class ModelCost:
    layers: int
    params: int
    macs_per_token: int


def model_cost(folder: Path) -> ModelCost:
    """Any decoder's layers, parameters and per-token multiply-adds (a teacher, or a student model)."""
    layers = int(_read_config(Path(folder)).get("num_hidden_layers") or 0)
    per_layer_params, per_layer_macs, other_params, head = _costs(Path(folder), layers)
    return ModelCost(layers, other_params + sum(per_layer_params), sum(per_layer_macs) + head)


def _cut_config(config: Any, total: int, kept: list[int]) -> None:
    """``num_hidden_layers`` and every per-layer list (``layer_types`` ...) to the kept layers."""
    config.num_hidden_layers = len(kept)
    for key, value in list(config.to_dict().items()):
        if isinstance(value, list) and len(value) == total and not key.endswith(("token_id", "token_ids")):
            setattr(config, key, [value[i] for i in kept])


def read_student(folder: Path) -> dict[str, Any] | None:
    """The ``student.json`` lineage of a keep_layers copy, or None."""
    try:
        data = json.loads((Path(folder) / STUDENT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cut_layers(teacher_folder: Path, keep_layers: int, out: Path, *,
               on_progress: Callable[[str], None] = lambda message: None) -> StudentInfo:
    """Write a copy of the teacher keeping ``keep_layers`` decoder layers into ``out`` (atomic).

    An ``out`` already holding the same cut of the same teacher is reused (a resumed phase)."""
    teacher_folder, out = Path(teacher_folder).resolve(), Path(out)
    estimate = estimate_student(teacher_folder, keep_layers)  # refuses what cannot be cut, before torch loads
    kept = estimate.kept
    done = read_student(out)
    if done and done.get("teacher_folder") == str(teacher_folder) and done.get("kept") == kept \
            and (out / "config.json").is_file():
        on_progress(f"student already cut: {out}")
        return StudentInfo(out, teacher_folder, estimate.teacher_layers, kept, int(done.get("params") or estimate.params),
                           estimate.macs_per_token)

    import torch
    from transformers import AutoModelForCausalLM

    on_progress(f"loading the teacher ({estimate.teacher_layers} layers)")
    model = AutoModelForCausalLM.from_pretrained(teacher_folder, dtype="auto")
    decoder = getattr(model, "model", None)
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList) or len(layers) != estimate.teacher_layers:
        raise WorkbenchError(f"{teacher_folder}: its model has no model.layers list of {estimate.teacher_layers} "
                             "decoder layers to cut (give the student as model: instead)")
    on_progress(f"keeping layers {kept}")
    decoder.layers = torch.nn.ModuleList(layers[i] for i in kept)
    for new_index, layer in enumerate(decoder.layers):
        for module in layer.modules():  # the KV cache is indexed by each attention's layer_idx
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    _cut_config(model.config, estimate.teacher_layers, kept)
    if getattr(decoder, "config", None) is not None and decoder.config is not model.config:
        _cut_config(decoder.config, estimate.teacher_layers, kept)
    params = sum(p.numel() for p in model.parameters())  # a tied head is one parameter, counted once

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        on_progress(f"saving the student ({params / 1e6:.1f}M parameters)")
        model.save_pretrained(partial, safe_serialization=True)
        for name in TOKENIZER_FILES:
            if (teacher_folder / name).is_file() and (name != "generation_config.json" or not (partial / name).is_file()):
                shutil.copy2(teacher_folder / name, partial / name)
        lineage = {"teacher_folder": str(teacher_folder), "teacher_layers": estimate.teacher_layers, "kept": kept,
                   "params": params, "teacher_params": estimate.teacher_params,
                   "macs_per_token": estimate.macs_per_token, "teacher_macs_per_token": estimate.teacher_macs_per_token}
        (partial / STUDENT_JSON).write_text(json.dumps(lineage, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return StudentInfo(out, teacher_folder, estimate.teacher_layers, kept, params, estimate.macs_per_token)
