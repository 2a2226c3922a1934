"""Recipe of the ``eval`` stage: one target answers held-out examples, every answer is scored."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Section

MetricName = Literal["exact_match", "token_f1", "rouge_l", "json_valid", "json_fields", "perplexity"]
METRIC_NAMES: tuple[str, ...] = ("exact_match", "token_f1", "rouge_l", "json_valid", "json_fields", "perplexity")


class EvalRecipe(Section):
    """Score a model, a run, a variant, an adapter or an endpoint on held-out examples: exact match,
    token F1, ROUGE-L, JSON validity and per-field accuracy, perplexity of the reference; every
    prediction kept, every aggregate with a bootstrap 95% interval."""

    stage: Literal["eval"] = "eval"
    target: str = Field(min_length=1)
    """What answers: a model reference, a run id (its fine-tuned model), ``RUN:VARIANT`` or
    ``MODEL:VARIANT`` (an ONNX variant), an ONNX Runtime GenAI folder, or an ``http(s)://`` endpoint."""
    adapter: str | None = None
    """A LoRA adapter folder or a training run id, applied over the target (a transformers model)."""
    data: str | None = None
    """Examples with reference answers: a prepared dataset folder (its eval split), or a JSONL of
    ``messages`` (the last turn, from the assistant, is the reference) or ``prompt``/``completion``
    records. Default for a run: the eval split of the dataset it trained on."""
    metrics: list[MetricName] | None = None
    """Metrics to compute (default: all that apply; JSON metrics only score examples whose reference
    is a JSON object; perplexity needs a local model)."""
    max_examples: int | None = Field(default=200, ge=1)
    """Score at most this many examples (the first ones, in file order); null for all."""
    max_new_tokens: int = Field(default=256, ge=1, le=8192)
    """Greedy tokens generated per answer at most."""
    threads: int = Field(default=1, ge=1)
    """CPU threads for a local model (1 is often fastest on small CPUs)."""
    bootstrap_samples: int = Field(default=1000, ge=100, le=100000)
    """Resamples of the examples for the 95% intervals."""
    seed: int = 0
    """Seed of the bootstrap resampling (the same seed gives the same intervals)."""
    endpoint_model: str | None = None
    """The model name sent to an endpoint (default: the first it lists)."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable an endpoint's API key is read from (never written anywhere)."""
    request_timeout_s: float = Field(default=120.0, gt=0)
    """Seconds an endpoint may take for one answer."""
    retries: int = Field(default=3, ge=0, le=20)
    """Attempts again after an endpoint error or timeout (backoff 1, 2, 4 … s)."""

    @field_validator("metrics", mode="before")
    @classmethod
    def _known_metrics(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one metric")
            unknown = [v for v in value if v not in METRIC_NAMES]
            if unknown:
                raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_NAMES)}")
            value = list(dict.fromkeys(value))
        return value
