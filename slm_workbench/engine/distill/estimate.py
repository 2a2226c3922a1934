"""What a distillation will cost, before anything is loaded: the student's size and work per token
against the teacher's, and whether the student's training fits in memory.

Read from the teacher's ``config.json`` and safetensors headers only (no torch), so the Distill
pane can show it as the form is edited. A ``keep_layers`` student is the teacher's config with
fewer decoder layers (embeddings, norms and head kept): its parameters and multiply-adds per token
follow from the shapes. The head counts: SmolLM2-135M spends ~28M of its ~134M multiply-adds per
token in its 49152x576 head, so 10 of 30 layers cut the work only ~2.1x. The training figure is
the Train pane's estimate (``engine/train/memory.py``) for the student's config, which counts a
logit-distillation teacher beside it. The arithmetic of the cut is ``student.py``'s, the one the cut uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config.distill import DistillRecipe
from .student import ModelCost, estimate_student, model_cost

GIB = 1024**3


def _config(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class DistillEstimate:
    teacher: ModelCost | None
    student: ModelCost | None
    train_gib: float | None
    """The student's training (plus the teacher for logit KD), GiB; None when unknown."""
    available_gib: float | None
    unknown: str = ""
    """Why part of it is unknown (an endpoint teacher, a model not prepared yet)."""

    @property
    def fits(self) -> bool | None:
        if self.train_gib is None or self.available_gib is None:
            return None
        return self.train_gib * 1.1 <= self.available_gib

    @property
    def larger(self) -> bool:
        """A student with more parameters than its teacher (warned of at launch, never refused)."""
        return self.teacher is not None and self.student is not None and self.student.params > self.teacher.params

    def line(self) -> str:
        """The estimate in one line, for the form."""
        parts = []
        t, s = self.teacher, self.student
        if t is not None:
            parts.append(f"teacher {t.params / 1e6:.1f}M params, {_layers(t.layers)}")
        if s is not None:
            text = f"student {s.params / 1e6:.1f}M, {_layers(s.layers)}"
            if t is not None and self.larger:
                text += f" (LARGER than the teacher: {s.params / t.params:.0%} of its parameters; not faster or smaller)"
            elif t is not None:
                text += f" ({s.params / t.params:.0%} of the teacher; ~{t.macs_per_token / s.macs_per_token:.1f}x " \
                        "less work per token)"
            parts.append(text)
        if self.train_gib is not None:
            text = f"training ~{self.train_gib:.1f} GiB"
            if self.available_gib is not None:
                text += f" of {self.available_gib:.1f} GiB free: " + ("fits" if self.fits else "does NOT fit")
            parts.append(text)
        if self.unknown:
            parts.append(self.unknown)
        return " · ".join(parts)


def _layers(n: int) -> str:
    return f"{n} layer{'' if n == 1 else 's'}"


def teacher_folder(recipe: DistillRecipe, run_store: Any = None) -> tuple[Path | None, str]:
    """The HF folder whose config describes the teacher (a run's merged model or its base: the same
    shapes), or (None, why not)."""
    if recipe.teacher_recipe is not None:  # kept inline: the teacher is trained from its model
        from ...config.train import TrainRecipe

        spec = str(recipe.teacher_recipe.get("model") or TrainRecipe.model_fields["model"].default)
    else:
        spec = recipe.teacher or ""
    return model_folder(spec, run_store)


def model_folder(spec: str, run_store: Any = None) -> tuple[Path | None, str]:
    """The HF folder whose config describes ``spec`` (a model, a run: its merged or full model, else its
    base, the same shapes; an endpoint has none), or (None, why not). Raises for a name that is nothing."""
    from ..model_source import resolve_source

    source = resolve_source(spec, accept=("endpoint", "variant", "model", "run"), prepared=False, run_store=run_store)
    if source.kind == "endpoint":
        return None, "an endpoint teacher: its size is unknown here"
    if source.run is not None:
        if source.hf_folder is not None:
            return source.hf_folder, ""
        try:
            return source.run.base_model(), ""
        except Exception:  # noqa: BLE001 - a damaged run: no estimate
            return None, f"run {source.run.id} names no model"
    assert source.model is not None
    if source.hf_folder is None:
        return None, f"{source.model.name} is not prepared yet (the job prepares it)"
    return source.hf_folder, ""


def estimate(recipe: DistillRecipe, *, run_store: Any = None, device: str = "cpu",
             available: float | None = None) -> DistillEstimate:
    """The teacher's and student's shapes and the student's training memory (``available``: bytes free)."""
    from ...config.train import TrainRecipe
    from ..train import memory

    folder, why = teacher_folder(recipe, run_store)
    teacher = model_cost(folder) if folder is not None else None
    student_config: dict[str, Any] | None = None
    student = None
    if recipe.student.keep_layers is not None:
        if folder is not None and teacher is not None:
            keep = min(recipe.student.keep_layers, teacher.layers - 1)
            cut = estimate_student(folder, keep)
            student_config = {**_config(folder), "num_hidden_layers": keep}
            student = ModelCost(keep, cut.params, cut.macs_per_token)
    else:
        found, student_why = model_folder(str(recipe.student.model), run_store)  # a model, or a run's model
        if found is not None:
            student_config, student = _config(found), model_cost(found)
        else:
            why = why or student_why
    train_gib = None
    if student_config is not None and student is not None:
        fields: dict[str, Any] = {**recipe.train, "model": "student", "data": "generated"}
        if recipe.method != "sft" and folder is not None:  # the teacher trains beside the student: counted
            fields["distill"] = {"teacher": str(folder), "method": recipe.method}
        train = TrainRecipe.model_validate(fields)
        train_gib = memory.estimate_for_config(train, student_config, student.params, device=device,
                                               available=available).total / GIB
    return DistillEstimate(teacher, student, train_gib, available / GIB if available is not None else None, why)
