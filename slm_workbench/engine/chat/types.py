"""The small vocabulary every chat backend speaks.

A backend turns a conversation plus generation parameters into a stream of ``Delta``s: the
text each newly generated token added (possibly empty, while a multi-byte character is
still incomplete) and how many tokens it stands for. Timing is measured once, by the
caller (``session.py``), so every backend's time to first token and tokens/s mean the
same thing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable


DEFAULT_KEY_ENV = "OPENAI_API_KEY"
"""The environment variable an endpoint's API key is read from unless told otherwise."""


SMALL_CPU = 4


def default_threads() -> int | None:
    """CPU threads for a model on a small CPU: all cores but one, left to the UI and the
    token consumer (two busy threads on two cores make both several times slower).
    None on larger machines: the runtime's own default."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1) if cores <= SMALL_CPU else None


class Message(TypedDict):
    role: str
    content: str


@dataclass(frozen=True)
class GenParams:
    temperature: float = 0.0
    """0 is greedy decoding; above 0 samples."""
    top_p: float = 1.0
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int | None = None
    system_prompt: str = ""
    """Prepended as a system message when the conversation has none; empty: the template's default."""
    adapter: str | None = None
    """The LoRA adapter that answers over an ONNX adapter base (a run id, PEFT folder or ``.onnx_adapter``
    file); ``""``: the base alone; None: the adapter the target named after ``+``, if any."""

    @property
    def sample(self) -> bool:
        return self.temperature > 0

    def with_system(self, messages: list[Message]) -> list[Message]:
        if self.system_prompt and not (messages and messages[0]["role"] == "system"):
            return [Message(role="system", content=self.system_prompt), *messages]
        return list(messages)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delta:
    text: str
    tokens: int = 1


@dataclass(frozen=True)
class TemplateInfo:
    source: str
    """Where the template comes from: a file path, ``tokenizer_config.json``, or the server."""
    text: str | None
    """The Jinja source, or None when it is not visible from here (an HTTP endpoint)."""

    @property
    def summary(self) -> str:
        if self.text is None:
            return self.source
        family = next((name for marker, name in TEMPLATE_FAMILIES if marker in self.text), "custom")
        return f"{family} · {self.source}"


TEMPLATE_FAMILIES = (
    ("<|im_start|>", "ChatML"),
    ("<|start_header_id|>", "Llama 3"),
    ("[INST]", "Llama 2 / Mistral"),
    ("<start_of_turn>", "Gemma"),
    ("<|user|>", "Phi / Zephyr"),
)


@dataclass
class Reply:
    """One finished (or stopped) answer with its figures."""

    model: str
    text: str = ""
    tokens: int = 0
    ttft_s: float | None = None
    tok_s: float | None = None
    seconds: float = 0.0
    stopped: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "extra"}

    def stats(self) -> dict[str, Any]:
        """The figures saved with an answer in the history."""
        return {"ttft_s": self.ttft_s, "tok_s": self.tok_s, "tokens": self.tokens, "stopped": self.stopped}


@runtime_checkable
class ChatBackend(Protocol):
    """What the chat pane, the CLI and the server need from a model."""

    label: str
    """How the model is named on screen (the spec it was opened with)."""
    kind: str
    """The registry key: ``transformers``, ``onnx`` or ``http``."""

    def template(self) -> TemplateInfo: ...

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        """Generate an answer to ``messages``; stop early (without error) once ``stop`` is set."""
        ...

    def close(self) -> None: ...
