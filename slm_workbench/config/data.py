"""Recipe of the ``data.prepare`` stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Section


class PrepareDataRecipe(Section):
    """Load, check, map, template, tokenize, clean and split a dataset; write it with a manifest."""

    stage: Literal["data.prepare"] = "data.prepare"
    source: str = Field(min_length=1)
    """A JSONL, JSON (array), CSV, TSV or Parquet file (``.gz`` allowed), a datasets ``save_to_disk``
    folder, a hub dataset id ``owner/name`` (needs the network), or ``slmw:demo``."""
    output: str = Field(min_length=1)
    """Folder to write: the prepared dataset (``train``/``eval``) and ``manifest.json``."""
    split: str | None = None
    """Split of a DatasetDict folder or hub dataset (default: ``train``)."""
    format: Literal["auto", "messages", "prompt_completion", "alpaca", "text"] = "auto"
    """Row format; ``auto`` detects it from the columns (``slmw data preview`` shows the guess)."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Map a format's field to a column of the file, e.g. ``{prompt: question, completion: answer}``;
    for ``messages`` also ``role``/``content`` (the keys inside each message)."""
    roles: dict[str, str] = Field(default_factory=dict)
    """Map roles as written in the file to system/user/assistant, e.g. ``{human: user, gpt: assistant}``."""
    template: str | None = None
    """``None``: the model's own chat template. Else a text template with ``{column}`` placeholders
    whose last placeholder is the answer, e.g. ``"### Question: {prompt}\\n### Answer: {completion}"``."""
    model: str | None = None
    """The model whose tokenizer (and chat template) is used: anything ``slmw models`` accepts
    (default: the built-in smollm2-135m-instruct, which must be prepared), or a tokenizer folder."""
    chat_template: str | None = None
    """The chat template conversations are rendered with, instead of the model's own (a base model has none):
    ``chatml``, ``gemma`` or a ``.jinja`` file. Train with the same ``chat_template``."""
    train_on: Literal["completion", "all"] = "completion"
    """``completion``: the loss covers only assistant turns (prompt tokens masked); ``all``: every token."""
    max_length: int = Field(default=2048, ge=8, le=1_048_576)
    """Rows longer than this many tokens (after templating) are dropped and counted."""
    min_tokens: int = Field(default=0, ge=0)
    """Rows shorter than this many tokens are dropped and counted."""
    dedupe: Literal["none", "exact", "normalized"] = "exact"
    """Drop repeated examples: identical, or equal ignoring case, punctuation and spacing."""
    eval_fraction: float = Field(default=0.1, ge=0.0, le=0.5)
    """Share of kept rows held out for evaluation (seeded; 0 for no eval split)."""
    seed: int = 42
    """Seed of the train/eval split."""
    on_error: Literal["skip", "abort"] = "skip"
    """``skip``: drop invalid rows and count them by reason; ``abort``: stop at the first one."""
    output_format: Literal["hf", "jsonl"] = "hf"
    """``hf``: a datasets ``save_to_disk`` folder with ``input_ids``/``labels``; ``jsonl``: train.jsonl
    and eval.jsonl with the canonical records (re-encoded by the trainer with the same function)."""
    overwrite: bool = False
    """Replace ``output`` if it already holds files."""

    @field_validator("chat_template")
    @classmethod
    def _chat_template_path(cls, value: str | None) -> str | None:
        from .train import chat_template_choice

        return chat_template_choice(value)

    @field_validator("template")
    @classmethod
    def _template_has_placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{" not in value:
            raise ValueError("a text template needs at least one {column} placeholder")
        return value
