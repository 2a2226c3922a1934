"""Recipe of the ``distill`` stage: teacher -> generated data -> smaller student -> training -> card.

One run with phases (``teacher``, ``generate``, ``student``, ``train``, ``export``, ``card``),
each resumed where it stopped; the generation and the training are ordinary runs of their own
stages (``data.generate``, ``train``) started by the distillation, so they show in Runs with
their own curves, stop and resume (docs/distill.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import Section
from .generate import GenerationSettings
from .kd import KdKnobs

Method = Literal["sft", "gkd", "distillation", "gold"]
METHODS: tuple[str, ...] = ("sft", "gkd", "distillation", "gold")


class StudentSettings(Section):
    """The smaller model that learns: another model, or a copy of the teacher with fewer layers."""

    model: str | None = None
    """A smaller model (any model ``slmw models`` accepts). With ``sft`` it needs no shared vocabulary."""
    keep_layers: int | None = Field(default=None, ge=1)
    """A copy of the teacher's PyTorch model keeping this many decoder layers, evenly spaced with the
    first and last kept (embeddings, norms and head copied), saved as an HF folder with its chat template."""

    @model_validator(mode="after")
    def _one_kind(self) -> StudentSettings:
        if (self.model is None) == (self.keep_layers is None):
            raise ValueError("give the student as exactly one of model (a smaller model) or keep_layers "
                             "(a copy of the teacher with fewer layers)")
        return self


class CardSettings(Section):
    """Teacher vs student on the same held-out examples, backend, precision and threads."""

    data: str | None = None
    """Held-out examples with reference answers (a prepared folder's eval split, a JSONL of chats,
    ``slmw:demo-eval``). Default: the eval split of the dataset the teacher run trained on."""
    examples: int = Field(default=64, ge=1)
    """Examples each model answers for the task score (64 keeps one answer under ~2 points)."""
    variant: str = "int8"
    """The precision both are measured in, so memory and speed are those of the deployment: an export
    preset (``int8``, ``fp32``, ``int4`` ...) built for each by the export engine when missing, or ``torch``
    (PyTorch fp32). ``int4`` quantizes the token embedding table too (4 bits, shared with a tied head);
    ``int8`` keeps it in fp32."""
    threads: int = Field(default=1, ge=1)
    """Threads for both while measuring."""
    new_tokens: int = Field(default=64, ge=8, le=2048)
    """Greedy tokens decoded for the speed figures."""
    decode_runs: int = Field(default=3, ge=1, le=50)
    """Decode runs per model per round; the median is reported."""
    rounds: int = Field(default=2, ge=1, le=10)
    """Speed rounds visiting teacher and student in turn (spreads outside load over both)."""

    @field_validator("variant")
    @classmethod
    def _known_variant(cls, value: str) -> str:
        from .presets import PRESETS

        if value != "torch" and value not in PRESETS:
            raise ValueError(f"{value!r} is not an export preset the card can build for both models "
                             f"(choose one of: torch, {', '.join(PRESETS)})")
        return value


class DistillRecipe(Section):
    """Distil a teacher into a smaller student: the teacher answers prompts (a dataset), a student
    (another model or the teacher with fewer layers) learns from the answers (SFT) or the teacher's
    logits (GKD / DistillationTrainer / GOLD), and a card says how much faster and smaller the student
    is and how much of the teacher's accuracy it keeps."""

    stage: Literal["distill"] = "distill"
    teacher: str | None = None
    """A model reference, a run id, ``RUN:VARIANT``, or an ``http(s)://`` endpoint (then the card's
    teacher is the endpoint's model only through its task score: no speed or memory of a remote model)."""
    teacher_recipe: dict[str, Any] | None = None
    """Instead of ``teacher``: a training recipe (a shipped name like ``smoke-lora``, a file, read now and
    kept inline, or its fields) whose latest finished run is the teacher; it is trained first when there
    is none (the demo works from a clean clone)."""
    teacher_variant: str | None = "int8"
    """The ONNX variant of a local teacher that answers the prompts (built when missing; ``int8`` answers
    ~5x faster than PyTorch here); null: PyTorch. Ignored for ``RUN:VARIANT`` and endpoints."""
    generate: GenerationSettings
    """The prompts and how the teacher answers them (``data.generate``'s fields, without the teacher)."""
    student: StudentSettings
    """Who learns."""
    method: Method = "sft"
    """``sft``: train on the teacher's answers (response-based, any student); ``gkd`` / ``distillation``:
    also match the teacher's token distributions (shared vocabulary needed); ``gold``: across tokenizers."""
    kd: KdKnobs = Field(default_factory=KdKnobs)
    """Logit distillation knobs (ignored by ``sft``)."""
    train: dict[str, Any] = Field(default_factory=dict)
    """The student's training recipe fields (``method: full``, ``learning_rate``, ``max_steps`` ...);
    ``model`` and ``data`` are set by the distillation."""
    card: CardSettings = Field(default_factory=CardSettings)
    """How teacher and student are measured against each other."""

    @model_validator(mode="after")
    def _one_teacher(self) -> DistillRecipe:
        if (self.teacher is None) == (self.teacher_recipe is None):
            raise ValueError("give the teacher as exactly one of teacher (a model, run, RUN:VARIANT or endpoint) "
                             "or teacher_recipe (a training recipe whose run is the teacher)")
        return self

    @field_validator("teacher_recipe", mode="before")
    @classmethod
    def _read_teacher_recipe(cls, value: Any) -> Any:
        from .train import TrainRecipe, inline_train_recipe

        value = inline_train_recipe(value, "teacher_recipe")
        if isinstance(value, dict):  # validated now, kept with what differs from the defaults
            value = {**TrainRecipe.model_validate(value).model_dump(exclude_defaults=True), "stage": "train"}
        return value

    @field_validator("train")
    @classmethod
    def _train_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        from .train import TrainRecipe

        taken = sorted(set(value) & {"model", "data", "stage", "distill"})
        if taken:
            raise ValueError(f"train.{taken[0]} is set by the distillation (the student, the generated data, "
                             "the method); leave it out")
        TrainRecipe.model_validate({**value, "model": "student", "data": "generated"})
        return value
