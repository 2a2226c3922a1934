"""Saved conversations, one JSONL file per conversation under ``<home>/chats/``.

Appending one line per turn means a crash loses at most the answer being written, and a
file is readable with ``jq``. The first line describes the conversation (models,
parameters); each later line is a turn of one column (side-by-side chats keep one history
per model). ``export_dataset`` writes the chats as a ``messages`` JSONL dataset, which
``slmw data`` and the Data pane read as is: testing feeds training.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import WorkbenchError
from .types import Message

TITLE_CHARS = 60


@dataclass
class Conversation:
    id: str
    models: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    created: float = 0.0
    updated: float = 0.0
    columns: list[list[Message]] = field(default_factory=list)
    stats: list[list[dict[str, Any]]] = field(default_factory=list)
    """Per column, the figures of each assistant turn (ttft_s, tok_s, tokens)."""

    @property
    def turns(self) -> int:
        return max((sum(m["role"] == "user" for m in col) for col in self.columns), default=0)


class ChatStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else paths.home() / "chats"

    def _path(self, conv_id: str) -> Path:
        if not conv_id or "/" in conv_id or conv_id.startswith("."):
            raise WorkbenchError(f"not a conversation id: {conv_id!r}")
        return self.root / f"{conv_id}.jsonl"

    def _write(self, conv_id: str, record: dict[str, Any]) -> None:
        with open(self._path(conv_id), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def create(self, models: list[str], params: dict[str, Any] | None = None) -> Conversation:
        paths.ensure_writable_dir(self.root, "chat history folder")
        now = time.time()
        conv = Conversation(f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}", list(models), dict(params or {}),
                            created=now, updated=now, columns=[[] for _ in models], stats=[[] for _ in models])
        self._write(conv.id, {"type": "meta", "id": conv.id, "models": conv.models, "params": conv.params, "time": now})
        return conv

    def append(self, conv: Conversation, column: int, message: Message, stats: dict[str, Any] | None = None) -> None:
        conv.columns[column].append(Message(role=message["role"], content=message["content"]))
        conv.updated = time.time()
        if not conv.title and message["role"] == "user":
            conv.title = _title(message["content"])
        record: dict[str, Any] = {"type": "turn", "column": column, "role": message["role"],
                                  "content": message["content"], "time": conv.updated}
        if stats:
            conv.stats[column].append(stats)
            record["stats"] = stats
        self._write(conv.id, record)

    def load(self, conv_id: str) -> Conversation:
        path = self._path(conv_id)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise WorkbenchError(f"cannot read conversation {conv_id}: {paths.describe_os_error(exc)}") from None
        conv: Conversation | None = None
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if record.get("type") == "meta":
                conv = Conversation(conv_id, list(record.get("models") or []), record.get("params") or {},
                                    created=record.get("time", 0.0), updated=record.get("time", 0.0))
                conv.columns, conv.stats = [[] for _ in conv.models], [[] for _ in conv.models]
            elif record.get("type") == "turn" and conv is not None and 0 <= record.get("column", -1) < len(conv.models):
                col = record["column"]
                conv.columns[col].append(Message(role=record["role"], content=record["content"]))
                if record.get("stats"):
                    conv.stats[col].append(record["stats"])
                conv.updated = record.get("time", conv.updated)
                if not conv.title and record["role"] == "user":
                    conv.title = _title(record["content"])
        if conv is None:
            raise WorkbenchError(f"conversation {conv_id} is damaged (no header line) in {path}")
        return conv

    def list(self) -> list[Conversation]:
        """Every saved conversation with at least one turn, most recently updated first."""
        if not self.root.is_dir():
            return []
        convs = []
        for path in self.root.glob("*.jsonl"):
            try:
                conv = self.load(path.stem)
            except WorkbenchError:
                continue
            if conv.turns:
                convs.append(conv)
        return sorted(convs, key=lambda c: c.updated, reverse=True)

    def remove(self, conv_id: str) -> None:
        self._path(conv_id).unlink(missing_ok=True)

    def export_dataset(self, out: Path, conv_ids: list[str] | None = None) -> int:
        """Write every column of the chosen conversations (default: all) with an answer as one
        ``{"messages": [...]}`` row; returns the number of rows."""
        convs = [self.load(c) for c in conv_ids] if conv_ids is not None else self.list()
        rows = []
        for conv in convs:
            for messages, stats in zip(conv.columns, conv.stats):
                kept = _complete_turns(messages, stats)
                if any(m["role"] == "assistant" for m in kept):
                    rows.append({"messages": kept})
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, out)
        return len(rows)


def _complete_turns(messages: list[Message], stats: list[dict[str, Any]]) -> list[Message]:
    """The conversation up to (not including) the first answer that was stopped or failed."""
    answer = 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        figures = stats[answer] if answer < len(stats) else {}
        answer += 1
        if figures.get("stopped") or figures.get("error"):
            user = max((j for j in range(i) if messages[j]["role"] == "user"), default=0)
            return messages[:user]
    return messages


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"
