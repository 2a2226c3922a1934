"""Recipe of the ``data.generate`` stage: a teacher answers prompts, the answers become a dataset.

The prompts and sampling settings are one section (``GenerationSettings``) and the filters another
(``FilterSettings``), so the ``distill`` recipe embeds the same fields (its ``generate:``) without
repeating them; ``GenerateRecipe`` adds the teacher and the output folder.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section


class FilterSettings(Section):
    """What a teacher's answer must pass to become a training row (every verdict is kept in ``rows.jsonl``)."""

    valid_json: bool = False
    """Keep only answers that parse as JSON (the first line, or the whole answer)."""
    min_chars: int = Field(default=1, ge=0)
    """Drop answers shorter than this many characters (after stripping)."""
    max_chars: int | None = Field(default=None, ge=1)
    """Drop answers longer than this many characters."""
    dedupe: bool = True
    """Drop an answer identical to one already kept for the same prompt."""
    drop_truncated: bool = True
    """Drop answers cut off at ``max_new_tokens`` (the teacher had not finished)."""
    checker: str | None = None
    """A function judging each answer against the prompt row's own reference: ``module:function`` or
    ``path/to/file.py:function`` called as ``f(answer, reference, messages) -> bool``; the built-in
    ``slmw:check_extraction`` is the demo's checker (rows whose reference is not a JSON object pass)."""

    @model_validator(mode="after")
    def _bounds(self) -> FilterSettings:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars {self.max_chars} is below min_chars {self.min_chars}")
        return self


class GenerationSettings(Section):
    """What the teacher is asked and how: prompts, samples, sampling, endpoint limits, filters."""

    prompts: str = Field(min_length=1)
    """Where the prompts come from: a dataset (any file the Data pane reads, a prepared folder, ``slmw:demo``;
    every conversation up to its last user turn) or a text file with one prompt per line (``.txt``)."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Use at most this many prompts (the first ones, in file order)."""
    samples_per_prompt: int = Field(default=1, ge=1, le=64)
    """Answers asked per prompt (more than 1 needs a temperature above 0)."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """0: greedy (the teacher's single best answer); above 0: sampled."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling (with a temperature above 0)."""
    max_new_tokens: int = Field(default=256, ge=1, le=8192)
    """Tokens per answer at most."""
    seed: int = 0
    """Seed of the sampling (answer k of prompt i uses seed + i * samples_per_prompt + k)."""
    threads: int = Field(default=1, ge=1)
    """CPU threads of a local teacher (1 is often fastest on small CPUs)."""
    endpoint_model: str | None = None
    """The model name sent to an endpoint (default: the first it lists)."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable an endpoint's API key is read from (never written anywhere)."""
    request_timeout_s: float = Field(default=120.0, gt=0)
    """Seconds an endpoint may take for one answer."""
    retries: int = Field(default=3, ge=0, le=20)
    """Attempts again after an endpoint error or timeout (backoff 1, 2, 4 ... s)."""
    max_requests: int | None = Field(default=None, ge=1)
    """The request budget of an endpoint teacher (retries count): the job stops with what it has when spent."""
    filters: FilterSettings = Field(default_factory=FilterSettings)
    """What an answer must pass to be kept."""

    @model_validator(mode="after")
    def _sampling(self) -> GenerationSettings:
        if self.samples_per_prompt > 1 and self.temperature == 0.0:
            raise ValueError(f"samples_per_prompt {self.samples_per_prompt} with temperature 0 asks for the same "
                             "greedy answer again; set a temperature above 0 (e.g. 0.7) or 1 sample")
        return self


class GenerateRecipe(GenerationSettings):
    """A teacher answers every prompt; each answer is validated, filtered and written as it comes
    (resumable after a stop or kill -9), giving a chat dataset plus a manifest naming the teacher."""

    stage: Literal["data.generate"] = "data.generate"
    teacher: str = Field(min_length=1)
    """A model reference, a run id (its fine-tuned model), ``RUN:VARIANT`` / ``MODEL:VARIANT`` (an ONNX
    variant: 4-7x faster than PyTorch on a CPU), an ONNX Runtime GenAI folder, or an ``http(s)://`` endpoint."""
    output: str | None = None
    """The folder receiving ``data.jsonl`` (the kept rows, a chat dataset ``slmw train`` takes as is),
    ``rows.jsonl`` (every answer with its verdict) and ``manifest.json``. Default: the run's ``artifacts/generated``."""

    @field_validator("output")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("output is empty: give a folder, or leave it out for the run's artifacts/generated")
        return value
