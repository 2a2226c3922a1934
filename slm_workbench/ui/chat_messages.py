"""Messages the Chat pane's workers post (thread-safe) to the pane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from ..engine.chat.types import Reply, TemplateInfo


@dataclass
class ColumnStatus(Message):
    """Loading progress or failure of one column's model."""

    load_id: int
    index: int
    text: str
    failed: bool = False


@dataclass
class ModelLoaded(Message):
    load_id: int
    index: int
    backend: Any
    template: TemplateInfo


@dataclass
class AdaptersFound(Message):
    """A column's model is an adapter base: the LoRA runs made for it, and the one its spec named."""

    load_id: int
    index: int
    choices: list[tuple[str, str]]
    """(adapter, label) pairs: run ids trained on the base's model."""
    current: str | None


@dataclass
class LoadingDone(Message):
    load_id: int


@dataclass
class ReplyStarted(Message):
    index: int


@dataclass
class TokensArrived(Message):
    """Text one column's model produced since the last batch (batched every ~30 ms)."""

    index: int
    text: str


@dataclass
class ReplyFinished(Message):
    index: int
    reply: Reply


@dataclass
class GenerationDone(Message):
    pass
