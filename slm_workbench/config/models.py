"""Recipe of the ``models.prepare`` stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Section
from .train import chat_template_choice


class PrepareModelRecipe(Section):
    """Turn a model reference into a local Hugging Face folder (convert a GGUF, fetch a hub id)."""

    stage: Literal["models.prepare"] = "models.prepare"
    model: str = Field(min_length=1)
    """A built-in name (``slmw models list``), a local HF folder, a ``.gguf`` file, or a hub id."""
    force: bool = False
    """Convert again even when a prepared folder exists."""
    chat_template: str | None = None
    """The chat template written into the prepared model's tokenizer: ``chatml`` or ``gemma`` (shipped), or a
    ``.jinja`` file. None: the model's own (a base model keeps none; ``slmw models list`` shows which)."""

    @field_validator("chat_template")
    @classmethod
    def _template_path(cls, value: str | None) -> str | None:
        return chat_template_choice(value)
