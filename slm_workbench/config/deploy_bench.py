"""Recipe of the ``deploy.bench`` stage: a load benchmark of the server on this machine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Section

DEFAULT_PROMPT = "Write a short paragraph about the history of the bicycle."


class BenchRecipe(Section):
    """Measure the server under concurrent clients: time to first token, tokens/s, errors, peak memory."""

    stage: Literal["deploy.bench"] = "deploy.bench"
    target: str
    """What to load: a model spec (``MODEL:VARIANT``, run id, folder), served on 127.0.0.1 on a free port
    for the benchmark, or the URL of a server already running on this machine (``http://127.0.0.1:PORT/v1``)."""
    adapters: list[str] = Field(default_factory=list)
    """LoRA adapters (run ids, adapter folders) over ``target``, an adapter base (``MODEL:lora-int8``): the
    requests take them in turn, as clients of several fine-tunes over one served base do. Empty: the
    target alone."""
    clients: list[int] = Field(default_factory=lambda: [1, 4, 8], min_length=1)
    """Numbers of concurrent clients, measured one after another."""
    requests: int = Field(default=4, ge=1, le=1000)
    """Requests each client sends, one after another, at each client count."""
    max_tokens: int = Field(default=64, ge=1, le=4096)
    """Tokens each answer may have."""
    prompt: str = DEFAULT_PROMPT
    """The user message every request sends (greedy decoding)."""
    timeout_s: float = Field(default=600.0, gt=0, le=24 * 3600)
    """The whole benchmark's time limit; requests still open then count as errors."""
    parallel: int = Field(default=8, ge=1, le=64)
    """Answers the started server generates at once (``serve``'s ``parallel``); unused with a URL."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads per generation of the started server; unused with a URL."""
    api_key_env: str | None = None
    """Environment variable holding the key of a server given by URL."""

    @field_validator("clients")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(n < 1 or n > 256 for n in value):
            raise ValueError("each client count must be between 1 and 256")
        return value
