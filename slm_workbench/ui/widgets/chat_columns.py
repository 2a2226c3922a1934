"""The Chat pane's columns side by side: one ``ChatColumn`` per model."""

from __future__ import annotations

from textual.containers import Horizontal

from ...engine.chat.history import Conversation
from ...engine.chat.session import format_stats
from ...engine.chat.types import Reply, TemplateInfo
from .chat_column import ChatColumn


def stats_text(stats: dict) -> str:
    """Saved figures of an answer, shown as a live one is."""
    keys = ("ttft_s", "tok_s", "tokens", "stopped", "error")
    return format_stats(Reply(model="", **{k: v for k, v in stats.items() if k in keys and v is not None}))


class ChatColumns(Horizontal):
    DEFAULT_CSS = "ChatColumns { height: 1fr; }"

    def columns(self) -> list[ChatColumn]:
        return list(self.query(ChatColumn))

    def __getitem__(self, index: int) -> ChatColumn:
        return self.columns()[index]

    def show(self, specs: list[str]) -> None:
        """One empty column per model."""
        self.remove_children()
        self.mount_all([ChatColumn(spec) for spec in specs])

    def fill(self, conv: Conversation) -> None:
        """A saved conversation, each column with its messages and each answer's figures."""
        for column, messages, stats in zip(self.columns(), conv.columns, conv.stats):
            answers = iter(stats)
            for message in messages:
                figures = next(answers, None) if message["role"] == "assistant" else None
                column.add_message(message, stats_text(figures) if figures else None)

    def clear(self) -> None:
        for column in self.columns():
            column.clear()

    def answers(self) -> list[tuple[str, str]]:
        """(model, last answer) of every column that has one."""
        return [(c.spec, c.reply_text) for c in self.columns() if c.reply_text]

    def templates(self) -> list[tuple[str, TemplateInfo | None]]:
        return [(c.spec, c.template) for c in self.columns()]
