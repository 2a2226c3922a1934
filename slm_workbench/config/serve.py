"""Recipe of the ``serve`` stage: the OpenAI-compatible server as a job."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def split_entry(entry: str) -> tuple[str, str]:
    """``NAME=SPEC`` -> (NAME, SPEC); ``SPEC`` -> (SPEC, SPEC): the id clients use and what it loads."""
    name, sep, spec = entry.partition("=")
    if sep and name.strip() and spec.strip() and "/" not in name:
        return name.strip(), spec.strip()
    return entry.strip(), entry.strip()


class ServeRecipe(Section):
    """Serve one or more models as an OpenAI-compatible endpoint until the job is stopped."""

    stage: Literal["serve"] = "serve"
    models: list[str] = Field(min_length=1)
    """What to serve, each ``SPEC`` or ``NAME=SPEC``: SPEC is a model, ``MODEL:VARIANT``, a run id, an ONNX
    Runtime GenAI folder or ``BASE:ADAPTER``; NAME is the model id clients ask for (default: SPEC)."""
    host: str = "127.0.0.1"
    """Address to bind. 127.0.0.1 serves this machine only; any other address needs ``api_key_env``."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port to listen on (0: any free port; the URL is in the run's ``server.json``)."""
    api_key_env: str | None = None
    """Environment variable holding the API key clients must send (``Authorization: Bearer …``)."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads per model (default: all cores but one on a small CPU)."""
    parallel: int = Field(default=4, ge=1, le=64)
    """Answers generated at once per ONNX Runtime GenAI model, in one batch (1: one at a time, unbatched);
    a transformers model answers one at a time."""
    queue: int | None = Field(default=None, ge=0, le=10_000)
    """Requests that may wait per model while its answers are running; one more is refused at once with
    429 and ``Retry-After`` (0: none wait; default: twice the model's answers at once, at least 8)."""

    @field_validator("models")
    @classmethod
    def _named_once(cls, value: list[str]) -> list[str]:
        names = [split_entry(entry)[0] for entry in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"model id {twice[0]!r} is given twice; name them apart with NAME=SPEC")
        return value

    @model_validator(mode="after")
    def _key_off_loopback(self) -> ServeRecipe:
        if self.host not in LOOPBACK_HOSTS and not self.api_key_env:
            raise ValueError(f"host {self.host} is reachable from the network: set api_key_env to require a key")
        return self
