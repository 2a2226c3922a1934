"""Recipe of the ``system.check`` stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class SystemCheckRecipe(Section):
    """Measure this machine's matrix-multiply throughput and memory: a first check of a GPU box."""

    stage: Literal["system.check"] = "system.check"
    seconds: float = Field(default=10.0, gt=0, le=3600)
    """How long to measure."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` uses the first CUDA GPU when there is one."""
    size: int = Field(default=1024, ge=16, le=16384)
    """Side of the square matrices multiplied."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """``auto``: bfloat16 on a GPU that supports it, float32 otherwise."""
    threads: int | None = Field(default=None, ge=1)
    """torch CPU threads (default: torch's choice)."""
