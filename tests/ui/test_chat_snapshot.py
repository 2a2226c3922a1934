"""What the Chat pane shows: a reopened side-by-side conversation with each answer's figures
(saved figures, so the picture does not depend on timing). Update with
``pytest tests/ui/test_chat_snapshot.py --snapshot-update`` and look at the report first."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from slm_workbench.engine.chat.history import ChatStore
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.screens.chat_pane import ChatPane

from .conftest import fixed_sample
from .test_snapshots import settle


def test_chat_side_by_side(snap_compare, tmp_path: Path, slmw_home: Path) -> None:
    store = ChatStore()
    conv = store.create(["smollm2-135m-instruct", "smollm2-135m-instruct:int4"],
                        {"temperature": 0.0, "max_new_tokens": 64, "system_prompt": "Answer in one sentence."})
    answers = ("The capital of France is Paris.", "The capital of France is Paris, a city of art.")
    figures = ({"ttft_s": 0.42, "tok_s": 9.8, "tokens": 8}, {"ttft_s": 0.06, "tok_s": 61.3, "tokens": 12})
    for col in (0, 1):
        store.append(conv, col, {"role": "system", "content": "Answer in one sentence."})
        store.append(conv, col, {"role": "user", "content": "What is the capital of France?"})
        store.append(conv, col, {"role": "assistant", "content": answers[col]}, figures[col])
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60, initial_pane="chat")

    async def reopen(pilot) -> None:
        await settle(pilot)
        pane = pilot.app.query_one(ChatPane)
        pane.open_conversation(store.load(conv.id))
        await settle(pilot)
        pane.query_one("#chat-prompt", Input).focus()  # the same focus (and cursor) every time
        await settle(pilot)
        for field in pilot.app.query(Input):
            field.cursor_blink = False
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=reopen)
