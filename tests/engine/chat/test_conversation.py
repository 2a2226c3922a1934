"""A side-by-side conversation: each column its own history, saved as it goes."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.engine.chat.conversation import ChatSession
from slm_workbench.engine.chat.history import ChatStore
from slm_workbench.engine.chat.types import GenParams

from .conftest import ScriptedBackend


def test_columns_keep_their_own_history_and_are_saved(slmw_home: Path) -> None:
    a, b = ScriptedBackend(["Paris."], label="a"), ScriptedBackend(["Lyon."], label="b")
    session = ChatSession(ChatStore(), ["a", "b"])
    params = GenParams(system_prompt="Be brief.")
    session.ask({0: a, 1: b}, "Capital of France?", params, concurrent=False)
    session.ask({0: a, 1: b}, "Sure?", params, concurrent=False)
    assert [m["content"] for m in b.calls[1][0]] == ["Be brief.", "Capital of France?", "Lyon.", "Sure?"]
    saved = ChatStore().load(session.conversation.id)
    assert saved.columns[0][2] == {"role": "assistant", "content": "Paris."} and len(saved.columns[1]) == 5
    assert saved.stats[0][0]["tokens"] == 1 and saved.turns == 2


def test_a_failed_answer_is_not_saved(slmw_home: Path) -> None:
    good, bad = ScriptedBackend(["ok"]), ScriptedBackend([], fail="out of memory")
    session = ChatSession(ChatStore(), ["good", "bad"])
    replies = session.ask({0: good, 1: bad}, "Hi", GenParams(), concurrent=False)
    assert replies[1].error == "out of memory"
    saved = ChatStore().load(session.conversation.id)
    assert len(saved.columns[0]) == 2 and saved.columns[1] == []
