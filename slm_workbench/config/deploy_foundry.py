"""Recipe of the ``deploy.foundry`` stage: a Foundry Local package of one ONNX variant."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Section

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""What Foundry Local accepts before the ``:version`` of a model id (kept to one safe spelling)."""

DEFAULT_PROMPTS = ["What is the capital of France?", "Write one sentence about the sea."]


class FoundryRecipe(Section):
    """Package one ONNX Runtime GenAI variant for Foundry Local (genai_config.json, inference_model.json
    with its prompt template, tokenizer and chat template, model card, lineage), smoke-test it through
    the Foundry Local SDK against the workbench's own answers, and optionally register it."""

    stage: Literal["deploy.foundry"] = "deploy.foundry"
    source: str = Field(min_length=1)
    """A model, a run or ``RUN:VARIANT`` / ``MODEL:VARIANT``. Without a variant: the one the latest
    comparison of it recommends, else int8; a missing preset variant is built first."""
    name: str | None = None
    """The package's name (and its Foundry Local model name); default ``<source>-<variant>``."""
    version: int = Field(default=1, ge=1)
    """The version in the Foundry Local model id ``name:version``."""
    output: str | None = None
    """The folder the package folder ``<name>/`` goes in; default the run's ``artifacts/packages``."""
    force: bool = False
    """Replace a package folder of that name already there (and a Foundry registration, with install)."""
    install: bool = False
    """Register the package in Foundry Local's local catalog (``register_model``) once it passed its checks."""
    smoke: bool = True
    """Answer the check prompts through Foundry Local itself and compare greedy tokens with the workbench's
    own answer (needs foundry-local-sdk: the ``foundry`` extra, or ``foundry_python``)."""
    prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_PROMPTS))
    """The smoke test's check prompts (one user turn each)."""
    max_new_tokens: int = Field(default=32, ge=1, le=1024)
    """Greedy tokens each side answers a check prompt with."""
    foundry_python: str | None = None
    """The Python interpreter that has foundry-local-sdk (its own environment); default
    ``$SLMW_FOUNDRY_PYTHON``, else this interpreter when the ``foundry`` extra is installed."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not PACKAGE_NAME.match(value):
            raise ValueError(f"package name {value!r}: use lowercase letters, digits, '.', '_' or '-' (at most 64)")
        return value

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: list[str]) -> list[str]:
        if not value or not all(p.strip() for p in value):
            raise ValueError("give at least one non-empty check prompt")
        return value
