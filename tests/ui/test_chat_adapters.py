"""The Chat pane's adapter picker: two LoRA runs switched live over one loaded ONNX base."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select

from slm_workbench.engine.chat.types import GenParams, Message
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.screens.chat_pane import ChatPane
from slm_workbench.ui.widgets.chat_column import ChatColumn

from ..engine.deploy.conftest import fp32_base, two_runs  # noqa: F401 - fixtures
from .conftest import fixed_sample
from .test_chat_pane import focus_prompt, stats_lines, until


def expected_answer(base: Path, adapter: str) -> str:
    """What the engine answers "Hi" with, in this process, with ``adapter`` ("" = the base alone)."""
    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend

    backend = OnnxGenaiBackend(base)
    params = GenParams(max_new_tokens=8, adapter=adapter)
    return "".join(d.text for d in backend.stream([Message(role="user", content="Hi")], params))


async def test_the_picker_switches_adapters_over_one_loaded_base(fp32_base, two_runs, tiny_model_dir, slmw_home):
    first, second = two_runs
    variants = slmw_home / "variants" / tiny_model_dir.name
    variants.mkdir(parents=True)
    (variants / "lora-fp32").symlink_to(fp32_base, target_is_directory=True)
    app = make_app(run_store=RunStore(), sampler=fixed_sample, poll_interval=60, initial_pane="chat")
    async with app.run_test(size=(120, 34)) as pilot:
        pane = pilot.app.query_one(ChatPane)
        await focus_prompt(pilot, pane)
        pane.query_one("#chat-models").value = f"{tiny_model_dir}:lora-fp32"
        pane.query_one("#param-max-new-tokens").value = "8"
        pane.load_models(pane.query_one("#chat-models").value)
        await until(pilot, lambda: pane.query("#column-adapter"), what="the column")
        column = pane.query_one(ChatColumn)
        picker = column.query_one("#column-adapter", Select)
        await until(pilot, lambda: column.has_class("-adapters") and not pane.models_loading, what="the adapter picker")
        assert picker.display and picker.value == ChatColumn.BASE_ALONE
        assert [value for _label, value in picker._options if isinstance(value, str)] == ["", *sorted([first.name, second.name], reverse=True)]
        backend = pane.backends[0]

        answers = []
        for adapter in ("", first.name, second.name):
            picker.value = adapter
            await until(pilot, lambda: column.adapter == adapter, what="the pick")
            pane.action_new_chat()  # a fresh conversation: each answer depends on its adapter alone
            pane.send("Hi")
            await until(pilot, lambda: len(stats_lines(column)) == 1 and not pane.generating, what="the answer")
            answers.append(column.reply_text)
        assert pane.backends[0] is backend  # one base, loaded once
        assert "adapter" in str(column.query_one("#column-state").render())

    expected = [expected_answer(fp32_base, a) for a in ("", first.name, second.name)]
    assert len(set(expected)) == 3
    assert answers == expected
