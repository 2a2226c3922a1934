"""A conversation with one or more models, saved to the history as it goes.

Each model (column) keeps its own history: its own answers are what it sees next turn.
A system prompt, when given, opens each column's history on the first turn. An answer
that failed is not saved (the column's history stays as it was); a stopped one is, marked
so (the dataset export leaves it out). A column over an adapter base answers with the
adapter picked for it (``adapters``), which may change from one turn to the next.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from collections.abc import Callable, Mapping

from .compare import answer_all
from .history import ChatStore, Conversation
from .types import ChatBackend, GenParams, Message, Reply


class ChatSession:
    def __init__(self, store: ChatStore, models: list[str], conversation: Conversation | None = None) -> None:
        self.store = store
        self.models = list(models)
        self.conversation = conversation

    def ask(self, backends: Mapping[int, ChatBackend], text: str, params: GenParams, *,
            stop: threading.Event | None = None, concurrent: bool | None = None,
            adapters: Mapping[int, str | None] | None = None,
            on_start: Callable[[int], None] | None = None, on_text: Callable[[int, str], None] | None = None,
            on_done: Callable[[int, Reply], None] | None = None) -> list[Reply]:
        """Every column in ``backends`` (column index -> backend) answers ``text``."""
        conv = self.conversation
        if conv is None:
            conv = self.conversation = self.store.create(self.models, params.as_dict())
        columns = sorted(backends)
        system = [Message(role="system", content=params.system_prompt)] if params.system_prompt else []
        user = Message(role="user", content=text)
        histories = [list(conv.columns[i] or system) + [user] for i in columns]

        def done(k: int, reply: Reply) -> None:
            i = columns[k]
            if reply.error is None:
                for message in histories[k][len(conv.columns[i]):]:
                    self.store.append(conv, i, message)
                self.store.append(conv, i, Message(role="assistant", content=reply.text), reply.stats())
            if on_done is not None:
                on_done(i, reply)

        picked = adapters or {}
        column_params = [replace(params, adapter=picked[i]) if i in picked else params for i in columns]
        return answer_all([backends[i] for i in columns], histories, column_params, stop=stop, concurrent=concurrent,
                          on_start=(lambda k: on_start(columns[k])) if on_start else None,
                          on_text=(lambda k, t: on_text(columns[k], t)) if on_text else None, on_done=done)
