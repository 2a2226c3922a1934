"""Logit distillation settings (TRL's trainers): shared by the ``train`` recipe's ``distill:`` section
and the ``distill`` recipe's ``kd:`` knobs.

Response-based distillation (SFT on the teacher's answers) needs none of this: it is plain
training on a generated dataset. Logit distillation matches the student's token distribution to
the teacher's, so the teacher runs in the training process (PyTorch), and ``gkd`` /
``distillation`` need the two to share a vocabulary; ``gold`` distils across tokenizers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section

KdMethod = Literal["gkd", "distillation", "gold"]
KD_METHODS: tuple[str, ...] = ("gkd", "distillation", "gold")


class KdKnobs(Section):
    """How the student's distribution is pulled toward the teacher's."""

    temperature: float = Field(default=1.0, gt=0.0, le=10.0)
    """Softmax temperature of both distributions (and of the student's on-policy sampling)."""
    beta: float = Field(default=0.0, ge=0.0, le=1.0)
    """Generalized Jensen-Shannon interpolation: 0 is forward KL (teacher || student), 1 reverse KL.
    Default 0 (TRL's is 0.5): a student far from its teacher, as a cut one is, puts its mass elsewhere,
    where the JSD saturates at ln 2 and gives no gradient (measured: a 10-layer SmolLM2 cut stayed at
    0.667 for 150 steps with beta 0.5 and learned nothing; forward KL trains it)."""
    lmbda: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of batches the student answers itself (on-policy, GKD); 0 trains on the dataset's answers
    only, which is what a CPU can afford (each on-policy batch is a generation)."""
    seq_kd: bool = False
    """Sequence-level KD: the teacher writes the answers of each batch (one more generation per step)."""
    max_new_tokens: int = Field(default=128, ge=1, le=4096)
    """Tokens generated per on-policy or sequence-level answer."""


class TrainDistillSection(KdKnobs):
    """Logit distillation from a teacher while training (the ``train`` recipe's ``distill:``)."""

    teacher: str = Field(min_length=1)
    """The teacher, loaded in PyTorch beside the student: a model reference or a training run id
    (its merged model)."""
    method: KdMethod = "gkd"
    """``gkd`` (TRL's GKDTrainer: generalized JSD, optional on-policy batches), ``distillation``
    (TRL's DistillationTrainer), ``gold`` (TRL's GOLD trainer: distils across different tokenizers)."""
