"""The training recipe (``stage: train``): model, data, method, hyperparameters, cadence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from .base import Section
from .kd import TrainDistillSection


class LoraSection(Section):
    """Low-rank adapters (PEFT). Used by ``method: lora`` and ``method: qlora``."""

    r: int = Field(default=16, ge=1, le=1024)
    """Adapter rank."""
    alpha: int = Field(default=32, ge=1)
    """Scaling numerator: the update is scaled by alpha / r."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the adapter input."""
    target_modules: Literal["all-linear"] | list[str] = "all-linear"
    """``all-linear`` (every linear layer but the output head) or module names such as
    ``[q_proj, k_proj, v_proj, o_proj]``."""


class TrainRecipe(Section):
    """Fine-tune a causal language model with TRL's SFTTrainer (full, LoRA or QLoRA)."""

    stage: Literal["train"] = "train"
    model: str = "smollm2-135m-instruct"
    """The base model: anything ``slmw models`` accepts (built-in name, HF folder, hub id)."""
    data: str = Field(min_length=1)
    """A prepared dataset folder (``slmw data prepare``), or a raw source (a file, ``slmw:demo``)
    that the job prepares first with this model's tokenizer."""
    chat_template: str | None = None
    """The chat template to train with, written into the saved model's tokenizer (and so into its exports):
    ``chatml``, ``gemma`` or a ``.jinja`` file. None: the model's own. A base model has none: training it on
    conversations needs one."""
    train_on: Literal["completion", "all"] = "completion"
    """For a raw ``data`` source: train on assistant turns only, or on every token."""
    eval_fraction: float = Field(default=0.1, ge=0.0, le=0.5)
    """For a raw ``data`` source: share of rows held out for evaluation."""
    method: Literal["full", "lora", "qlora"] = "lora"
    """``full``: every weight; ``lora``: adapters only; ``qlora``: adapters on a 4-bit base (CUDA only)."""
    lora: LoraSection = Field(default_factory=LoraSection)
    """Adapter settings (ignored by ``full``)."""
    learning_rate: float = Field(default=2e-4, gt=0, le=1.0)
    """Peak learning rate."""
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    """How the learning rate changes after warmup."""
    warmup_ratio: float = Field(default=0.03, ge=0.0, lt=1.0)
    """Share of the steps spent warming up."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    """AdamW weight decay."""
    max_grad_norm: float = Field(default=1.0, gt=0)
    """Gradient clipping."""
    epochs: float = Field(default=1.0, gt=0)
    """Passes over the training split (ignored when ``max_steps`` is set)."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps."""
    batch_size: int = Field(default=4, ge=1)
    """Examples per device per step."""
    grad_accum: int = Field(default=1, ge=1)
    """Micro-batches accumulated per optimizer step."""
    max_length: int = Field(default=1024, ge=8)
    """Longest sequence in tokens (longer examples are truncated; with packing, the pack length)."""
    packing: bool = False
    """Pack several examples into each sequence (best-fit, no cross-example attention)."""
    eval_steps: int | None = Field(default=None, ge=1)
    """Evaluate every N steps (default: about 10 times per run, when there is an eval split)."""
    save_steps: int | None = Field(default=None, ge=1)
    """Checkpoint every N steps (default: about 5 times per run). A stop always checkpoints."""
    logging_steps: int = Field(default=1, ge=1)
    """Write a metrics line every N steps."""
    save_total_limit: int = Field(default=2, ge=1)
    """Checkpoints kept (older ones are removed)."""
    early_stopping_patience: int | None = Field(default=None, ge=1)
    """Stop when eval loss has not improved for this many evaluations."""
    seed: int = 42
    """Seed for initialisation, shuffling and dropout."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """``auto``: bf16 on a GPU that supports it, else fp16 on a GPU, fp32 on CPU (bf16 training is ~3x
    slower than fp32 on an AVX2 CPU)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, ~30% slower."""
    threads: int | None = Field(default=None, ge=1)
    """torch CPU threads per process (default: torch's choice; on a busy small CPU 1 is often fastest)."""
    num_processes: int = Field(default=1, ge=1, le=64)
    """Data-parallel processes, launched with torchrun (NCCL on GPUs, gloo on CPU); per machine when
    ``num_nodes`` > 1."""
    num_nodes: int = Field(default=1, ge=1, le=1024)
    """Machines training together (torchrun ``--nnodes``): run ``slmw train`` with the same recipe on each,
    ``node_rank`` 0 to N-1 (README: "Training on several machines")."""
    node_rank: int = Field(default=0, ge=0)
    """This machine's place among ``num_nodes``. Node 0 hosts the rendezvous and owns the run (metrics,
    checkpoints, artifacts); another node trains with it and keeps only its own status, events and log."""
    rdzv_endpoint: str | None = Field(default=None, validate_default=True)
    """``HOST:PORT`` where the nodes meet: node 0's address, reachable from every node, and a free port on it
    (required when ``num_nodes`` > 1)."""
    rdzv_id: str = Field(default="slmw", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """Names one multi-node run: the same on every node (nodes with different ids never meet)."""
    merge: bool = False
    """Also write the adapter merged into the base as a full model (``artifacts/merged``)."""
    report_to: Literal["none", "tensorboard"] = "none"
    """Extra logging besides metrics.jsonl (``tensorboard`` writes to ``artifacts/tensorboard``)."""
    trust_remote_code: bool = False
    """Allow model code from the model folder (off: only architectures transformers ships)."""
    distill: TrainDistillSection | None = None
    """Logit distillation from a teacher while training (TRL's GKD, DistillationTrainer or GOLD trainer
    instead of SFT); the teacher loads beside the student. None: plain SFT on the data's answers."""

    @field_validator("chat_template")
    @classmethod
    def _template_path(cls, value: str | None) -> str | None:
        return chat_template_choice(value)

    @field_validator("node_rank")
    @classmethod
    def _rank_below_nodes(cls, value: int, info: ValidationInfo) -> int:
        nodes = info.data.get("num_nodes")
        if nodes is not None and value >= nodes:
            raise ValueError(f"node_rank {value} is not below num_nodes {nodes} (node ranks are 0 to {nodes - 1})")
        return value

    @field_validator("rdzv_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            if (info.data.get("num_nodes") or 1) > 1:
                raise ValueError("num_nodes > 1 needs rdzv_endpoint HOST:PORT: node 0's address and a free port "
                                 "on it (e.g. 10.0.0.1:29500)")
            return None
        host, port = split_endpoint(value)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def world_size(self) -> int:
        """Training processes on all machines together."""
        return self.num_processes * self.num_nodes


def inline_train_recipe(value: Any, what: str) -> Any:
    """A training recipe named inside another recipe (a sweep's base, a distillation's teacher): a file
    or shipped name is read now, so the naming recipe keeps it inline and a resumed job needs nothing else."""
    if isinstance(value, str):
        from pathlib import Path

        from .files import read_recipe_data

        value = read_recipe_data(Path(value))
    if isinstance(value, dict):
        stage = value.get("stage", "train")
        if stage != "train":
            raise ValueError(f"{what} is a recipe of stage {stage!r}; it must be a training recipe (stage: train)")
        value = {**value, "stage": "train"}
    return value


SHIPPED_TEMPLATES = ("chatml", "gemma")
"""The chat templates the workbench ships (``slm_workbench/chat_templates``); anything else is a file."""


def chat_template_choice(value: str | None) -> str | None:
    """A ``chat_template`` field: a shipped name as is, a file made absolute where the recipe is read
    (a job runs in its run directory, where a relative path would name nothing)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value in SHIPPED_TEMPLATES:
        return value
    from pathlib import Path

    return str(Path(value).expanduser().absolute())


def split_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for an IPv6 address) as (host, port); ``ValueError`` saying what is wrong."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 10.0.0.1:29500)")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} in {text!r} is not between 1 and 65535")
    if ":" in host and not text.startswith("["):
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [{host}]:{port}")
    return host, int(port)
