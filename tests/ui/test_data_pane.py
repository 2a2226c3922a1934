"""The Data pane under Pilot: open a file with bad rows, read the report, jump to a row, see the
loss mask, fix a mapping, and start a prepare job that the Runs pane follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TabbedContent

from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import JobStarted
from slm_workbench.ui.screens.data_pane import DataPane
from slm_workbench.ui.widgets.data_preview import DataPreview
from slm_workbench.ui.widgets.loss_mask import TRAINED, LossMaskView
from slm_workbench.ui.widgets.run_table import RunTable

from tests.helpers import fast_model_prepare

from .conftest import fixed_sample, press, wait_for

ROWS = [
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}]},
    {"messages": [{"role": "human", "content": "Yo"}, {"role": "assistant", "content": "Hey"}]},
    {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
]


def write_data(path: Path, *, broken_line: bool = True) -> Path:
    lines = [json.dumps(row) for row in ROWS]
    if broken_line:
        lines.append('{"messages": [{"role": "user", "content": "cut"}')  # line 4: not valid JSON
    path.write_text("\n".join(lines) + "\n")
    return path


def data_app(tmp_path: Path, **kwargs):
    return make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=0.2,
                    initial_pane="data", **kwargs)


async def ready_pane(pilot) -> DataPane:
    """The Data pane once built (panes are built after the first frame) and its form mounted."""
    await wait_for(pilot, lambda: pilot.app.query("#data-model-status"), what="the Data pane")
    return pilot.app.query_one(DataPane)


def text_of(pane: DataPane, selector: str) -> str:
    return str(pane.query_one(selector, Static).render())


def sample_text(pane: DataPane) -> str:
    return text_of(pane, "#mask-head") + "\n" + text_of(pane, "#mask-body")


async def open_file(pilot, pane: DataPane, path: Path, model: Path | str | None = None) -> None:
    if model is not None:
        pane.query_one("#data-model", Input).value = str(model)
    await pilot.click("#source-path")
    await pilot.press(*str(path), "enter")


async def test_open_a_file_with_bad_rows_and_jump_to_an_issue(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_data(tmp_path / "chat.jsonl")
    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        await open_file(pilot, pane, data, tiny_model_dir)
        table = pane.query_one(DataPreview)
        await wait_for(pilot, lambda: table.row_count == 4, what="the preview rows")
        assert "format messages" in text_of(pane, "#data-status")
        assert [r.line for r in table.rows_shown] == [1, 2, 3, 4] and table.rows_shown[3].value is None

        # The report names the file, the line and the field of every problem.
        issues = pane.query_one("#report-issues", OptionList)
        await wait_for(pilot, lambda: issues.option_count == 2, what="the validation report")
        assert "not valid: 4 rows, 2 usable, 2 invalid" in text_of(pane, "#report-verdict")
        first = str(issues.get_option_at_index(0).prompt)
        assert f"{data}:2: messages[0].role: unknown role 'human'" in first and "hint:" in first
        assert f"{data}:4:" in str(issues.get_option_at_index(1).prompt)

        # The first row is rendered with its loss mask: the answer is trained, the prompt is not.
        await wait_for(pilot, lambda: "line 1 as the model sees it" in sample_text(pane), what="the sample")
        body = pane.query_one(LossMaskView).body
        trained = "".join(body.plain[s.start:s.end] for s in body.spans if s.style == TRAINED)
        assert "Hello there!" in trained and "Hi" not in trained

        # Choosing an issue moves the preview to its row and shows why the row cannot be used.
        pane.query_one(TabbedContent).active = "tab-report"
        issues.focus()
        issues.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: "line 2 cannot be used" in sample_text(pane), what="the row of the issue")
        assert table.cursor_row == 1
        assert "messages[0].role" in sample_text(pane) and '"human"' in sample_text(pane)

        # Mapping the role fixes row 2: the report re-checks with the new settings.
        pane.query_one("#data-roles", Input).value = "human=user"
        pane.query_one("#data-roles", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: issues.option_count == 1 and "3 usable" in text_of(pane, "#report-verdict"),
                    what="the report after mapping the role")


async def test_an_issue_past_the_preview_brings_its_rows_in(tmp_path: Path) -> None:
    rows = [json.dumps(ROWS[0])] * 119 + [json.dumps(ROWS[1])]  # row 120 has the unknown role
    data = tmp_path / "long.jsonl"
    data.write_text("\n".join(rows) + "\n")
    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        await open_file(pilot, pane, data)
        issues = pane.query_one("#report-issues", OptionList)
        await wait_for(pilot, lambda: issues.option_count == 1, what="the report")
        table = pane.query_one(DataPreview)
        assert table.rows_shown[-1].row == 50  # the preview holds the first rows only
        issues.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "line 120 cannot be used" in sample_text(pane), what="row 120")
        assert table.rows_shown[table.cursor_row].row == 120


async def test_a_file_that_cannot_be_read_and_a_model_that_is_not_prepared(tmp_path: Path, smollm2_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fast_model_prepare(monkeypatch, smollm2_dir)
    monkeypatch.setenv("SLMW_TEST_HOLD", str(tmp_path / "release"))  # the preparation stays under way
    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        await wait_for(pilot, lambda: "not prepared" in text_of(pane, "#data-model-status"), what="the model status")
        assert "slmw models prepare smollm2-135m-instruct" in text_of(pane, "#data-model-status")
        assert RunStore(tmp_path / "runs").list() == []  # showing the pane prepares nothing
        await open_file(pilot, pane, tmp_path / "missing.jsonl")
        await wait_for(pilot, lambda: "preparing smollm2-135m-instruct" in text_of(pane, "#data-model-status"),
                    what="the preparation's progress")
        await wait_for(pilot, lambda: "no such file" in text_of(pane, "#data-status"), what="the error")
        assert str(tmp_path / "missing.jsonl") in text_of(pane, "#data-status")

        # A readable file still gets its structural checks without a tokenizer, and says so.
        data = write_data(tmp_path / "ok.jsonl", broken_line=False)
        pane.query_one("#source-path", Input).value = ""
        await open_file(pilot, pane, data)
        await wait_for(pilot, lambda: "structure only" in text_of(pane, "#report-verdict"), what="the report")
        await wait_for(pilot, lambda: "not prepared" in sample_text(pane), what="the sample's explanation")
        (tmp_path / "release").touch()
        await wait_for(pilot, lambda: "✓" in text_of(pane, "#data-model-status"), what="the prepared model")


async def test_opening_a_file_prepares_the_builtin_model_then_tokenizes(tmp_path: Path, smollm2_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fast_model_prepare(monkeypatch, smollm2_dir)
    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        await open_file(pilot, pane, write_data(tmp_path / "ok.jsonl", broken_line=False))
        await wait_for(pilot, lambda: "✓ tokenizer found" in text_of(pane, "#data-model-status"), what="the prepared model")
        await wait_for(pilot, lambda: "trained" in sample_text(pane), what="the sample with its loss mask")
        assert "structure only" not in text_of(pane, "#report-verdict")
    (run,) = RunStore(tmp_path / "runs").list()
    assert run.stage == "models.prepare" and run.state == "done"


async def test_prepare_starts_a_job_that_the_runs_pane_selects(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_data(tmp_path / "chat.jsonl")
    out = tmp_path / "prepared"
    started: list[JobStarted] = []

    def hook(message) -> None:
        if isinstance(message, JobStarted):
            started.append(message)

    app = data_app(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        pane = await ready_pane(pilot)
        await open_file(pilot, pane, data, tiny_model_dir)
        await wait_for(pilot, lambda: pane.query_one("#report-issues", OptionList).option_count == 2, what="the report")
        pane.query_one("#data-output", Input).value = str(out)
        pane.query_one("#data-eval_fraction", Input).value = "0"
        await pilot.click("#data-prepare")
        await wait_for(pilot, lambda: started, what="JobStarted")
        run_id = started[0].run_id
        assert app.screen.query_one("#panes").current == "runs"
        await wait_for(pilot, lambda: bool(app.screen.query(RunTable)), what="the Runs pane's table")
        table = app.screen.query_one(RunTable)
        await wait_for(pilot, lambda: table.selected_run is not None and table.selected_run.id == run_id,
                    what="the Runs pane to select the job")
        await wait_for(pilot, lambda: table.selected_run.state in ("done", "failed"), timeout=180, what="the job to end")
        assert table.selected_run.state == "done", (table.selected_run.dir / "worker.log").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["in"] == 4 and manifest["rows"]["train"] == 2
    assert manifest["source"]["path"] == str(data.resolve())


async def test_the_settings_show_the_recipes_defaults_and_name_a_bad_field(tmp_path: Path) -> None:
    from textual.widgets import Select, Switch

    from slm_workbench.config.recipes import PrepareDataRecipe
    from slm_workbench.ui.widgets.data_settings import FIELDS, DataSettings

    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        for name in FIELDS:
            widget = pane.query_one(f"#data-{name}")
            info = PrepareDataRecipe.model_fields[name]
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            if isinstance(widget, Switch):
                assert widget.value is default, name
            elif isinstance(widget, Select):
                assert widget.value == default, name
            else:
                assert widget.value == ("" if default in (None, {}) else str(default)), name
        assert "PydanticUndefined" not in pane.query_one("#data-output", Input).value
        settings = pane.query_one(DataSettings)
        assert settings.values().max_length == 2048 and settings.model == "smollm2-135m-instruct"
        notes: list[str] = []
        pilot.app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        pane.query_one("#data-max_length", Input).value = "4"
        await press(pilot, "#data-check")
        assert notes and notes[-1] == "max_length: Input should be greater than or equal to 8"
        assert "greater than or equal to 8" in text_of(pane, "#data-max_length-error")
        pane.query_one("#data-columns", Input).value = "prompt"
        await press(pilot, "#data-check")
        assert notes[-1] == "columns: expected NAME=VALUE pairs, got 'prompt'"


async def test_a_base_model_sample_names_the_option_then_renders_with_the_chosen_template(
        tmp_path: Path, tiny_base_model_dir: Path) -> None:
    data = write_data(tmp_path / "chat.jsonl", broken_line=False)
    async with data_app(tmp_path).run_test(size=(120, 40)) as pilot:
        pane = await ready_pane(pilot)
        await open_file(pilot, pane, data, tiny_base_model_dir)
        await wait_for(pilot, lambda: "cannot be used" in sample_text(pane), what="the refused sample")
        assert "no chat template (a base model)" in sample_text(pane) and "chat_template" in sample_text(pane)

        pane.query_one("#data-chat_template", Input).value = "gemma"
        pane.query_one("#data-chat_template", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "rendered with chat template: gemma" in sample_text(pane), what="the gemma sample")
        body = pane.query_one(LossMaskView).body
        trained = "".join(body.plain[s.start:s.end] for s in body.spans if s.style == TRAINED)
        assert trained == "Hello there!<end_of_turn>" and "<start_of_turn>model\n" in body.plain
