"""The Chat pane under Pilot: streaming from the tiny model, side by side with a diff, stop
mid-generation while typing stays live, load failures, history reopen and export."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from slm_workbench.engine.chat import registry
from slm_workbench.engine.chat.history import ChatStore
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui import chat_messages
from slm_workbench.ui.app import make_app
from slm_workbench.ui.screens.chat_modals import ChatDiffScreen, ChatHistoryScreen, ChatTemplateScreen
from slm_workbench.ui.screens.chat_pane import ChatPane
from slm_workbench.ui.widgets.chat_column import ChatColumn

from ..engine.chat.conftest import ScriptedBackend
from .conftest import fixed_sample
from .test_runs_pane import footer_keys


def chat_app(tmp_path: Path, **kwargs):
    return make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60, initial_pane="chat", **kwargs)


async def until(pilot, predicate, timeout: float = 60.0, what: str = "") -> None:
    """Let workers and messages run until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            states = [str(c.query_one("#column-state").render()) for c in pilot.app.query(ChatColumn)]
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what or predicate}; columns: {states}; notifications: {notes}")
        await pilot.pause(0.02)


def stats_lines(column: ChatColumn) -> list[str]:
    return [str(s.render()) for s in column.query(".-stats")]


async def focus_prompt(pilot, pane: ChatPane) -> None:
    """Focus the prompt once the pane is built (it never takes the focus by itself)."""
    await until(pilot, lambda: pane.is_mounted and pane.query("#chat-prompt"), what="the pane")
    prompt = pane.query_one("#chat-prompt")
    prompt.focus()
    await until(pilot, lambda: pilot.app.focused is prompt, what="the prompt's focus")


async def type_and_send(pilot, pane: ChatPane, models: str, prompt: str, max_new: str = "8") -> None:
    await focus_prompt(pilot, pane)
    pane.query_one("#chat-models").value = models
    pane.query_one("#param-max-new-tokens").value = max_new
    await pilot.press(*prompt)
    await pilot.press("enter")


async def test_streams_an_answer_from_the_tiny_model(tmp_path: Path, tiny_model_dir: Path, slmw_home: Path) -> None:
    """The whole path: the model loads and generates in a child process."""
    async with chat_app(tmp_path).run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await type_and_send(pilot, pane, str(tiny_model_dir), "Hi")  # no Load pressed: sending loads first
        column = pane.query_one(ChatColumn)
        await until(pilot, lambda: stats_lines(column) and not pane.generating, what="the answer")
        assert "tok/s" in stats_lines(column)[0] and "8 tokens" in stats_lines(column)[0]
        assert "ChatML" in str(column.query_one("#column-template").render())
        assert type(pane.backends[0]).__name__ == "ProcessBackend"
        assert pane.query_one("#chat-prompt").value == ""
        convs = ChatStore().list()
        assert len(convs) == 1 and convs[0].columns[0][0] == {"role": "user", "content": "Hi"}
        await pilot.press("ctrl+t")
        assert isinstance(pilot.app.screen, ChatTemplateScreen)


async def test_side_by_side_each_column_with_its_figures_and_a_diff(tmp_path: Path, tiny_model_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChatPane, "isolate", False)  # in-process: the child process path is the test above
    async with chat_app(tmp_path).run_test(size=(120, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await type_and_send(pilot, pane, f"{tiny_model_dir} {tiny_model_dir}", "Compare", max_new="5")
        await until(pilot, lambda: len(pane.columns()) == 2 and all(stats_lines(c) for c in pane.columns()) and not pane.generating)
        assert all("5 tokens" in stats_lines(c)[0] for c in pane.columns())
        await pilot.press("ctrl+g")
        assert isinstance(pilot.app.screen, ChatDiffScreen)
        assert "100% of words in common" in str(pilot.app.screen.query_one(".diff").render())


async def test_stop_mid_generation_while_typing_stays_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = ScriptedBackend([f"w{i} " for i in range(2000)], label="slow", delay=0.005)
    monkeypatch.setattr(registry, "open_backend", lambda spec, **kw: slow)
    batches: list[int] = []

    def hook(message) -> None:
        if isinstance(message, chat_messages.TokensArrived):
            batches.append(message.text.count(" "))

    async with chat_app(tmp_path).run_test(size=(100, 30), message_hook=hook) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await type_and_send(pilot, pane, "slow", "Go", max_new="2000")
        column = pane.query_one(ChatColumn)
        await until(pilot, lambda: len(column.reply_text) > 40, what="streaming")
        await pilot.press("q", "1", "x")  # app and pane keys: typed into the prompt while it streams
        assert pane.query_one("#chat-prompt").value == "q1x" and pilot.app.is_running
        assert "ctrl+f" in footer_keys(pilot.app)  # Stop is in the footer while it streams
        await pilot.press("ctrl+f")
        await until(pilot, lambda: not pane.generating, what="the stop")
        assert "stopped" in stats_lines(column)[0]
        assert sum(batches) < 2000 and len(batches) < sum(batches)  # stopped early; tokens arrive batched


async def test_a_model_that_cannot_load_says_why(tmp_path: Path, slmw_home: Path) -> None:
    async with chat_app(tmp_path).run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await pilot.pause()
        pane.query_one("#chat-models").value = "no-such-model"
        await pilot.click("#chat-load")
        await until(pilot, lambda: pane.columns() and not pane.models_loading)
        column = pane.query_one(ChatColumn)
        assert "no model or run named 'no-such-model'" in str(column.query_one("#column-state").render())
        assert column.has_class("-failed")


async def test_reopen_a_saved_conversation_and_export_it(tmp_path: Path, slmw_home: Path) -> None:
    store = ChatStore()
    conv = store.create(["model-a", "model-b"], {"temperature": 0.7, "max_new_tokens": 64})
    for col, text in ((0, "Paris."), (1, "Paris, France.")):
        store.append(conv, col, {"role": "user", "content": "Capital of France?"})
        store.append(conv, col, {"role": "assistant", "content": text}, {"ttft_s": 0.25, "tok_s": 31.5, "tokens": 4})
    async with chat_app(tmp_path).run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await focus_prompt(pilot, pane)
        await pilot.press("ctrl+o")
        assert isinstance(pilot.app.screen, ChatHistoryScreen)
        await pilot.press("enter")
        await until(pilot, lambda: len(pane.columns()) == 2 and stats_lines(pane.columns()[1]))
        assert pane.columns()[1].reply_text == "Paris, France."
        assert stats_lines(pane.columns()[0]) == ["0.25 s to first token · 31.5 tok/s · 4 tokens"]
        assert pane.query_one("#param-temperature").value == "0.7" and pane.conversation.id == conv.id
        await pilot.press("ctrl+s")
        exported = list((slmw_home / "datasets").glob("chat-history-*.jsonl"))
        assert len(exported) == 1 and len(exported[0].read_text().splitlines()) == 2
        assert json.loads(exported[0].read_text().splitlines()[0])["messages"][1]["content"] == "Paris."


async def test_a_long_answer_streams_in_blocks_and_reads_back_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"line {i} " + "word " * 30 + "\n" for i in range(40)]
    monkeypatch.setattr(registry, "open_backend", lambda spec, **kw: ScriptedBackend(lines, label="long"))
    async with chat_app(tmp_path).run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await type_and_send(pilot, pane, "long", "Go", max_new="100")
        column = pane.query_one(ChatColumn)
        await until(pilot, lambda: stats_lines(column) and not pane.generating)
        assert column.reply_text == "".join(lines)
        assert len([t for t in column.query("ChatTurn") if t.continued]) > 5


async def test_the_builtin_model_is_prepared_on_first_load(tmp_path: Path, slmw_home: Path, smollm2_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the built-in model on a fresh home starts a models.prepare job, shows its progress in
    the column, and loads the model once it is there."""
    from tests.helpers import fast_model_prepare

    fast_model_prepare(monkeypatch, smollm2_dir)
    folder = slmw_home / "models" / "smollm2-135m-instruct"
    opened: list[bool] = []
    monkeypatch.setattr(registry, "open_backend", lambda spec, **kw: opened.append((folder / "config.json").is_file())
                        or ScriptedBackend(["hi"]))
    states: list[str] = []
    set_state = ChatColumn.set_state
    monkeypatch.setattr(ChatColumn, "set_state", lambda self, text, **kw: states.append(text) or set_state(self, text, **kw))
    async with chat_app(tmp_path).run_test(size=(100, 30)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await pilot.pause()
        pane.query_one("#chat-models").value = "smollm2-135m-instruct"
        await pilot.click("#chat-load")
        await until(pilot, lambda: pane.columns() and not pane.models_loading, what="the load")
        assert pane.query_one(ChatColumn).has_class("-ready")
    (run,) = RunStore(tmp_path / "runs").list()
    assert run.stage == "models.prepare" and run.state == "done"
    assert opened == [True]  # opened once, after the preparation
    assert f"preparing smollm2-135m-instruct (job {run.id})" in states
    assert states.index("smollm2-135m-instruct prepared") < states.index("ready · scripted")
