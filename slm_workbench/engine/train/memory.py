"""Will it fit? A memory estimate for a training recipe, before anything is loaded.

Read from the model's ``config.json`` and safetensors headers (no torch), so the Train
pane can show it as the user edits the form. The figures are the usual first-order terms:
weights, gradients and AdamW state for the trainable parameters, activations per layer
(Korthikanti et al. 2022: ``s*b*h*(34 + 5*a*s/h)`` bytes at 16 bits, ``2*s*b*h`` per layer
with checkpointing) and the logits the loss is computed on (``b*s*V`` fp32, twice).
It is an estimate: the verdict leaves a 10% margin and the hints say which knob helps.

With logit distillation (``distill:``) the teacher runs beside the student: its weights, one
layer's forward activations at a time (no gradients are kept) and its logits, plus the
divergence's buffers (log-probabilities of both, their mixture, the pointwise KL: ~4 x ``b*s*V``
fp32) are the ``teacher`` term.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..models.info import safetensors_parameters
from .arguments import micro_batches
from .attention import attention_for

GIB = 1024**3
FRAMEWORK_OVERHEAD = {"cpu": 0.6 * GIB, "cuda": 1.0 * GIB}
"""Python + torch + allocator slack (CPU), CUDA context + workspace (GPU)."""


@dataclass(frozen=True)
class MemoryEstimate:
    device: str
    weights: float
    trainable_params: int
    total_params: int
    gradients: float
    optimizer: float
    activations: float
    logits: float
    overhead: float
    available: float | None
    processes: int = 1
    hints: list[str] = field(default_factory=list)
    teacher: float = 0.0
    """Logit distillation's teacher: weights + a forward pass + the divergence's buffers (0 without ``distill``)."""
    teacher_params: int = 0

    @property
    def per_process(self) -> float:
        return (self.weights + self.gradients + self.optimizer + self.activations + self.logits + self.overhead
                + self.teacher)

    @property
    def total(self) -> float:
        return self.per_process * (self.processes if self.device == "cpu" else 1)

    @property
    def fits(self) -> bool | None:
        return None if self.available is None else self.total * 1.1 <= self.available

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_process": self.per_process, "total": self.total, "fits": self.fits}

    def lines(self) -> list[str]:
        def g(x: float) -> str:
            return f"{x / GIB:6.2f} GiB"

        rows = [
            f"weights      {g(self.weights)}  ({self.total_params / 1e6:.1f}M params)",
            f"gradients    {g(self.gradients)}  ({self.trainable_params / 1e6:.2f}M trainable)",
            f"optimizer    {g(self.optimizer)}  (AdamW, 2 states)",
            f"activations  {g(self.activations)}",
            f"logits       {g(self.logits)}",
            *([f"teacher      {g(self.teacher)}  ({self.teacher_params / 1e6:.1f}M params, forward only)"]
              if self.teacher else []),
            f"overhead     {g(self.overhead)}",
            f"total        {g(self.total)}" + (f" x{self.processes} processes" if self.processes > 1 and self.device == "cpu" else ""),
        ]
        if self.available is not None:
            verdict = "fits" if self.fits else "does NOT fit"
            rows.append(f"available    {g(self.available)}  on {self.device}: {verdict}")
        return rows + [f"hint: {h}" for h in self.hints]


def _linear_shapes(config: dict[str, Any]) -> list[tuple[int, int]]:
    """(in, out) of every linear layer in one decoder block of a Llama-like model."""
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or h // heads
    inter = config.get("intermediate_size") or 4 * h
    return [(h, heads * head_dim), (h, kv * head_dim), (h, kv * head_dim), (heads * head_dim, h),
            (h, inter), (h, inter), (inter, h)]


_MODULE_ORDER = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def lora_parameters(config: dict[str, Any], r: int, targets: str | list[str]) -> int:
    shapes = dict(zip(_MODULE_ORDER, _linear_shapes(config)))
    chosen = _MODULE_ORDER if targets == "all-linear" else [t for t in targets if t in shapes]
    per_layer = sum((shapes[name][0] + shapes[name][1]) * r for name in chosen)
    return per_layer * config["num_hidden_layers"]


def estimate_memory(recipe: TrainRecipe, model_folder: Path, *, device: str | None = None,
                    available: float | None = None) -> MemoryEstimate:
    config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    total_params = safetensors_parameters(model_folder) or 0
    teacher = _teacher_shape(recipe)
    estimate = _estimate(recipe, config, total_params, device == "cuda", available, teacher)
    fitting = None
    if estimate.fits is False:
        fitting = _fitting_max_length(recipe, config, total_params, device == "cuda", available, teacher)
    return _with_hints(estimate, recipe, device == "cuda", fitting)


def estimate_for_config(recipe: TrainRecipe, config: dict[str, Any], total_params: int, *, device: str = "cpu",
                        available: float | None = None) -> MemoryEstimate:
    """``estimate_memory`` for a model not written yet (a distillation's student: its config and size
    known from the teacher's); the recipe's ``distill`` teacher counted as there."""
    return _estimate(recipe, config, total_params, device == "cuda", available, _teacher_shape(recipe))


def _teacher_shape(recipe: TrainRecipe) -> tuple[dict[str, Any], int] | None:
    """The distillation teacher's config and parameter count (a run's merged model has its base's), if found."""
    if recipe.distill is None:
        return None
    from ..errors import WorkbenchError
    from ..model_source import resolve_source

    try:
        source = resolve_source(recipe.distill.teacher, prepared=False)
        folder = source.hf_folder
        if folder is None and source.run is not None and source.run.has_model:
            folder = source.run.base_model()
        if folder is None:
            return None
        return json.loads((folder / "config.json").read_text(encoding="utf-8")), safetensors_parameters(folder) or 0
    except (WorkbenchError, OSError, ValueError):
        return None


def _teacher_bytes(recipe: TrainRecipe, teacher: tuple[dict[str, Any], int], bits: int) -> float:
    config, params = teacher
    config = config.get("text_config", config)
    b, s = micro_batches(recipe, attention_for(recipe))[0], recipe.max_length
    h, heads, vocab = config["hidden_size"], config["num_attention_heads"], config["vocab_size"]
    one_layer = s * b * h * (34 + 5 * heads * s / h) * bits / 16
    return params * bits / 8 + one_layer + b * s * vocab * 4 * (1 + 4)


def _fitting_max_length(recipe: TrainRecipe, config: dict[str, Any], total_params: int, on_gpu: bool,
                        available: float | None, teacher: tuple[dict[str, Any], int] | None = None) -> int | None:
    """The longest power-of-two max_length (from the recipe's down to 64) that fits, if any does."""
    length = recipe.max_length
    while length > 64:
        length = 1 << ((length - 1).bit_length() - 1)  # the power of two below
        if _estimate(recipe.model_copy(update={"max_length": length}), config, total_params, on_gpu, available,
                     teacher).fits:
            return length
    return None


def _estimate(recipe: TrainRecipe, config: dict[str, Any], total_params: int, on_gpu: bool,
              available: float | None, teacher: tuple[dict[str, Any], int] | None = None) -> MemoryEstimate:
    bits = {"fp32": 32, "bf16": 16, "fp16": 16}.get(recipe.precision, 16 if on_gpu else 32)
    weight_bytes = 0.56 if recipe.method == "qlora" else bits / 8  # nf4 + double-quant scales
    if recipe.method == "full":
        trainable = total_params
        grad_bytes = opt_bytes = bits / 8
    else:
        trainable = lora_parameters(config, recipe.lora.r, recipe.lora.target_modules)
        grad_bytes, opt_bytes = 4, 4  # PEFT keeps adapters in fp32
    # rows in one forward pass (arguments.py): packed ones one at a time on a CPU, flattened on a GPU
    b, s = micro_batches(recipe, attention_for(recipe), on_gpu)[0], recipe.max_length
    h, layers = config["hidden_size"], config["num_hidden_layers"]
    heads, vocab = config["num_attention_heads"], config["vocab_size"]
    act_scale = bits / 16
    if recipe.gradient_checkpointing:
        activations = (2 * s * b * h * layers + s * b * h * (34 + 5 * heads * s / h)) * act_scale
    else:
        activations = s * b * h * (34 + 5 * heads * s / h) * layers * act_scale
    logits = b * s * vocab * 4 * 2
    return MemoryEstimate(
        device="cuda" if on_gpu else "cpu",
        weights=total_params * weight_bytes,
        trainable_params=trainable,
        total_params=total_params,
        gradients=trainable * grad_bytes,
        optimizer=trainable * opt_bytes * 2,
        activations=activations,
        logits=logits,
        overhead=FRAMEWORK_OVERHEAD["cuda" if on_gpu else "cpu"],
        available=available,
        processes=recipe.num_processes,
        teacher=_teacher_bytes(recipe, teacher, bits) if teacher else 0.0,
        teacher_params=teacher[1] if teacher else 0,
    )


def _with_hints(est: MemoryEstimate, recipe: TrainRecipe, on_gpu: bool,
                fitting_length: int | None = None) -> MemoryEstimate:
    if est.fits is not False:
        return est
    hints = []
    big = max(("activations", est.activations), ("logits", est.logits), ("optimizer", est.optimizer + est.gradients),
              ("weights", est.weights), ("teacher", est.teacher), key=lambda kv: kv[1])[0]
    if big in ("activations", "logits"):
        if not recipe.gradient_checkpointing and big == "activations":
            hints.append("gradient_checkpointing: true (activations shrink to ~2 values per token per layer)")
        if recipe.batch_size > 1:
            hints.append(f"batch_size: {max(1, recipe.batch_size // 2)} with grad_accum: {recipe.grad_accum * 2} "
                         "(same effective batch)")
        if fitting_length is not None:
            hints.append(f"max_length: {fitting_length} (fits by the estimate; activations and logits scale with it)")
        else:
            hints.append(f"max_length: {max(8, recipe.max_length // 2)} (activations and logits scale with it)")
    if big == "teacher":
        hints.append("a smaller teacher, or method sft on the teacher's generated answers (no teacher in training)")
    if recipe.method == "full":
        hints.append("method: lora (optimizer state and gradients only for the adapters)")
    if recipe.method == "lora" and on_gpu:
        hints.append("method: qlora (a 4-bit base: ~1/4 of the weight memory)")
    if on_gpu and recipe.precision == "fp32":
        hints.append("precision: auto (bf16 halves weights and activations on the GPU)")
    return MemoryEstimate(**{**asdict(est), "hints": hints})


def available_memory(device: str) -> float | None:
    """Free VRAM of GPU 0 (NVML) or available RAM (psutil), in bytes."""
    if device == "cuda":
        from ..system import gpus

        found = gpus()
        return float(found[0].mem_total - found[0].mem_used) if found else None
    import psutil

    return float(psutil.virtual_memory().available)
