"""The Quantize & Compare pane as a user drives it: presets, launch, live rows, report, sort, chat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Select

from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.screens.chat_pane import ChatPane
from slm_workbench.config.presets import expand_groups
from slm_workbench.ui.variant_rows import COLUMNS
from slm_workbench.ui.widgets.compare_form import CompareForm
from slm_workbench.ui.widgets.recipe_form import RecipeForm
from slm_workbench.ui.widgets.variant_table import VariantTable
from tests.export_fixtures import link_variants

from .conftest import fixed_sample, pane_key, press, wait_for, write_compare_run, write_run
from .test_runs_pane import footer_keys


def pane_of(app):
    return app.screen.query_one("#quantize-pane")


def checked(app) -> list[str]:
    return pane_of(app).checked_variants()


async def open_pane(pilot) -> None:
    await pilot.press(pane_key("quantize"))
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("#q-table")), what="the pane to mount")


async def test_reattaches_to_the_newest_comparison_and_sorts_by_header(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    write_compare_run(store.root, "20260601-090000-compare-0001")
    write_compare_run(store.root, "20260601-100000-compare-a9b8")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        table = app.screen.query_one(VariantTable)
        await wait_for(pilot, lambda: len(table.rows_shown) == 6, what="the report's rows")
        pane = pane_of(app)
        assert pane.run_id == "20260601-100000-compare-a9b8"  # the newest one
        assert app.screen.query_one("#q-history", Select).value == pane.run_id
        assert [r.name for r in table.rows_shown][-1] == "int4-olive"  # broken: last, never ranked
        assert "int4-hq" in str(app.screen.query_one("#q-message").render())

        columns = list(table.columns.values())
        x = sum(c.get_render_width(table) for c in columns[: [c.key.value for c in columns].index("decode_tok_s")])
        await pilot.click(VariantTable, offset=(x + 1, 0))  # the "tok/s" header: fastest first
        await pilot.pause()
        assert table.sort_key == "decode_tok_s"
        assert [r.name for r in table.rows_shown] == ["int4", "int4-hq", "int8", "fp32", "torch-fp32", "int4-olive"]
        table.sort_by("decode_tok_s")  # again: slowest first, broken still last
        assert [r.name for r in table.rows_shown][0] == "torch-fp32" and table.rows_shown[-1].name == "int4-olive"

        app.screen.query_one("#q-history", Select).value = "20260601-090000-compare-0001"
        await wait_for(pilot, lambda: pane.run_id == "20260601-090000-compare-0001", what="the older run")
        await wait_for(pilot, lambda: len(table.rows_shown) == 6, what="its rows")


async def test_presets_check_variants_and_a_hand_pick_is_custom(tmp_path: Path) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        assert checked(app) == ["fp32", "int8", "int4", "int4-hq-cal", "int4-mix-cal"]
        group = app.screen.query_one("#q-group", Select)
        group.value = "fast"
        await pilot.pause()
        assert checked(app) == ["int8", "int4"]
        group.value = "all"
        await pilot.pause()
        assert checked(app) == expand_groups(["all"], cuda=app.screen.query_one(CompareForm).cuda)
        app.screen.query_one("#q-v-fp16", Checkbox).value = False
        app.screen.query_one("#q-v-int4-olive", Checkbox).value = False
        app.screen.query_one("#q-v-int4-cal", Checkbox).value = False
        app.screen.query_one("#q-v-int4-hq", Checkbox).value = False
        app.screen.query_one("#q-v-int4-gptq-ort", Checkbox).value = False
        await pilot.pause()
        assert group.value == "balanced"  # what is checked now is exactly that group
        app.screen.query_one("#q-v-fp32", Checkbox).value = False
        await pilot.pause()
        assert group.value == "custom"
        assert "Pick a model" in str(app.screen.query_one("#q-message").render())


async def test_a_finished_training_run_can_be_picked_as_the_source(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    write_run(store.root, "20260601-080000-train-77aa", "train", "done", title="smoke-lora")
    write_run(store.root, "20260601-081000-train-88bb", "train", "failed", title="broken-lora")
    write_run(store.root, "20260601-082000-train-99cc", "train", "done", title="no artifacts")
    adapter = store.root / "20260601-080000-train-77aa" / "artifacts" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        pick = app.screen.query_one("#q-pick", Select)
        await wait_for(pilot, lambda: "20260601-080000-train-77aa" in [v for _, v in pick._options], what="the run")
        assert "20260601-081000-train-88bb" not in [v for _, v in pick._options]  # only finished ones
        assert "20260601-082000-train-99cc" not in [v for _, v in pick._options]  # that left a model
        assert "smollm2-135m-instruct" in [v for _, v in pick._options]
        pick.value = "20260601-080000-train-77aa"
        await pilot.pause()
        assert app.screen.query_one("#q-source", Input).value == "20260601-080000-train-77aa"


async def test_fp16_needs_a_cuda_gpu(tmp_path: Path, monkeypatch) -> None:
    from slm_workbench.engine import system

    monkeypatch.setattr(system, "gpus", lambda: [])
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        fp16 = app.screen.query_one("#q-v-fp16", Checkbox)
        assert fp16.disabled and "CUDA" in str(fp16.tooltip)
        app.screen.query_one("#q-group", Select).value = "all"
        await pilot.pause()
        assert "fp16" not in checked(app)


async def test_bad_input_is_refused_before_a_job_starts(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        app.screen.query_one("#q-source", Input).value = str(tmp_path / "no-such-model")
        await press(pilot, "#q-compare")
        assert notes and "no-such-model" in notes[-1]
        app.screen.query_one("#q-source", Input).value = "smollm2-135m-instruct"
        app.screen.query_one("#q-threads", Input).value = "0"
        await press(pilot, "#q-compare")
        assert "threads" in notes[-1]
        for name in ("fp32", "int8", "int4", "int4-hq-cal", "int4-mix-cal"):
            app.screen.query_one(f"#q-v-{name}", Checkbox).value = False
        app.screen.query_one("#q-threads", Input).value = "1"
        await press(pilot, "#q-export")
        assert "at least one variant" in notes[-1]
        assert store.list() == []


async def test_chat_opens_the_variant_alone_or_beside_the_reference(tmp_path: Path, monkeypatch) -> None:
    store = RunStore(tmp_path / "runs")
    write_compare_run(store.root)
    loaded: list[str] = []
    monkeypatch.setattr(ChatPane, "load_models", lambda self, text: loaded.append(text))
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        table = app.screen.query_one(VariantTable)
        await wait_for(pilot, lambda: len(table.rows_shown) == 6, what="the report's rows")
        table.move_cursor(row=[r.name for r in table.rows_shown].index("int4-hq"))
        await pilot.pause()
        await pilot.press("v")
        await wait_for(pilot, lambda: bool(loaded), what="the chat pane to load")
        assert loaded == ["smollm2-135m-instruct smollm2-135m-instruct:int4-hq"]
        assert app.screen.query_one("#panes").current == "chat"
        assert app.screen.query_one("#chat-models", Input).value == loaded[0]
        app.action_show_pane("quantize")  # (the chat prompt has the keys now)
        await pilot.pause()
        table.move_cursor(row=[r.name for r in table.rows_shown].index("int4-olive"))
        await pilot.pause()
        assert "c" not in footer_keys(app) and "v" not in footer_keys(app)  # a broken variant is not offered
        table.move_cursor(row=[r.name for r in table.rows_shown].index("int8"))
        await pilot.pause()
        assert {"c", "v", "p"} <= footer_keys(app) and "x" not in footer_keys(app)  # nothing runs: no Stop
        await pilot.press("c")
        await wait_for(pilot, lambda: len(loaded) == 2, what="the second load")
        assert loaded[1] == "smollm2-135m-instruct:int8"


def tiny_model_home(tiny_model_dir: Path, tiny_variants: dict[str, Path]) -> RunStore:
    """The test's home with the tiny model's prebuilt int4 linked in (only the reference is measured fresh)."""
    from slm_workbench.engine.model_source import resolve_source

    home = Path(os.environ["SLMW_HOME"])
    link_variants(home, resolve_source(str(tiny_model_dir)).name, {"int4": tiny_variants["int4"]})
    return RunStore(home / "runs")


async def compare_int4(pilot, tiny_model_dir: Path, **settings: str) -> None:
    """Source = the tiny model, only int4 checked (plus the reference), ``settings`` into their fields, Compare."""
    await open_pane(pilot)
    screen = pilot.app.screen
    screen.query_one("#q-source", Input).value = str(tiny_model_dir)
    screen.query_one("#q-group", Select).value = "fast"
    await pilot.pause()
    screen.query_one("#q-v-int8", Checkbox).value = False
    for field, value in settings.items():
        screen.query_one(f"#q-{field}", Input).value = value
    await pilot.pause()
    await pilot.click("#q-compare")


@pytest.mark.timeout(300)
async def test_compare_job_fills_rows_live_then_shows_the_report(tiny_model_dir: Path,
                                                                 tiny_variants: dict[str, Path]) -> None:  # noqa: F811
    store = tiny_model_home(tiny_model_dir, tiny_variants)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await compare_int4(pilot, tiny_model_dir, perplexity_tokens="64")
        pane = pane_of(app)
        await wait_for(pilot, lambda: pane.run_id is not None, what="the job to start")
        table = app.screen.query_one(VariantTable)
        assert [r.name for r in table.rows_shown] == ["torch-fp32", "int4"]  # rows before any number
        await wait_for(pilot, lambda: pane.progress.variants["torch-fp32"].measured, what="the reference measured",
                       timeout=240)
        await wait_for(pilot, lambda: pane.report is not None, what="the report", timeout=240)
        # the report is written before the job records its end: the state follows a poll later
        await wait_for(pilot, lambda: pane.run_state in ("done", "failed", "cancelled"), what="the job's end")
        assert pane.run_state == "done"
        rows = {r.name: r for r in table.rows_shown}
        assert rows["int4"].values["perplexity"] > 0 and rows["int4"].values["decode_tok_s"] > 0
        assert rows["torch-fp32"].status == "reference"
        # the report's wider cells widen the columns the live rows sized (DataTable does it on its next idle)
        await wait_for(pilot, lambda: all(table.columns[c.key].content_width >= len(r.cell(c))
                                          for r in table.rows_shown for c in COLUMNS), what="the columns widened")
        recipe = (store.root / pane.run_id / "recipe.yaml").read_text()
        assert "int4" in recipe and "perplexity_tokens: 64" in recipe
        assert (store.root / pane.run_id / "artifacts" / "report.md").is_file()


@pytest.mark.timeout(300)
async def test_stop_ends_the_followed_job_cancelled(tiny_model_dir: Path,
                                                    tiny_variants: dict[str, Path]) -> None:  # noqa: F811
    app = make_app(run_store=tiny_model_home(tiny_model_dir, tiny_variants), sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await compare_int4(pilot, tiny_model_dir)
        pane, screen = pane_of(app), app.screen
        await wait_for(pilot, lambda: pane.run_state == "running" and pane.progress.current != "", what="the job running",
                       timeout=120)
        screen.query_one(VariantTable).focus()
        await wait_for(pilot, lambda: "x" in footer_keys(app), what="Stop in the footer")
        await pilot.press("x")
        await wait_for(pilot, lambda: pane.run_state == "cancelled", what="the job cancelled", timeout=120)
        await wait_for(pilot, lambda: "x" not in footer_keys(app), what="Stop gone from the footer")
        assert "cancelled" in str(screen.query_one("#q-activity").render())


async def test_enter_on_a_compare_run_in_the_runs_pane_opens_it_here(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    write_compare_run(store.root, "20260601-090000-compare-0001")
    write_compare_run(store.root, "20260601-100000-compare-a9b8")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#run-table")
        await wait_for(pilot, lambda: table.row_count == 2, what="the runs listed")
        table.focus()
        table.move_cursor(row=1)  # the older comparison
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "quantize", what="the Quantize pane")
        pane = pane_of(app)
        assert pane.run_id == "20260601-090000-compare-0001"  # not the newest: the one picked
        await wait_for(pilot, lambda: len(app.screen.query_one(VariantTable).rows_shown) == 6, what="its rows")


def expected_shown(default: object, widget) -> object:
    """How a generated control shows a recipe default (an Input its text, a Select its option)."""
    if isinstance(widget, Input):
        return "" if default is None else ", ".join(default) if isinstance(default, list) else str(default)
    if isinstance(widget, Select):
        return "default" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    return default


async def test_the_forms_show_the_recipes_defaults_and_name_a_bad_field(tmp_path: Path) -> None:
    from slm_workbench.config.export import CompareRecipe, ExportRecipe, VariantSettings

    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pane(pilot)
        screen = app.screen
        knobs = list(VariantSettings.model_fields)
        compare_fields = [n for n in CompareRecipe.model_fields if n not in ("stage", "model", "variants", *knobs)]
        for name in knobs:  # the variant settings: one form, for both Compare and Export
            widget = screen.query_one(f"#qv-{name}")
            default = VariantSettings.model_fields[name].get_default(call_default_factory=True)
            assert widget.value == expected_shown(default, widget), name
            assert not screen.query(f"#q-{name}") and not screen.query(f"#qe-{name}"), name
        for name in compare_fields:
            widget = screen.query_one(f"#q-{name}")
            default = CompareRecipe.model_fields[name].get_default(call_default_factory=True)
            assert widget.value == expected_shown(default, widget), name
            assert CompareRecipe.model_fields[name].description.split()[0] in widget.tooltip  # the docstring as help
        for name in CompareForm.EXPORT_FIELDS:
            widget = screen.query_one(f"#qe-{name}")
            default = ExportRecipe.model_fields[name].get_default(call_default_factory=True)
            assert widget.value == expected_shown(default, widget), name
        recipe = screen.query_one("#q-export-form", RecipeForm).check({"model": "m", "variants": ["int4"]})
        assert recipe.symmetric is None and recipe.threads is None  # "default" stays the job's choice

        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        screen.query_one("#q-new_tokens", Input).value = "4"
        await press(pilot, "#q-compare")
        assert "new_tokens: Input should be greater than or equal to 8" in notes[-1]
        assert "new_tokens: Input should be greater than or equal to 8" in str(screen.query_one("#q-errors").render())
        assert screen.query_one("#q-new_tokens").has_class("-invalid")
        assert store.list() == []


@pytest.mark.parametrize("button", ["#q-compare", "#q-export"])
async def test_changed_variant_knobs_land_in_the_started_recipe(tiny_model_dir: Path, tmp_path: Path, monkeypatch,
                                                                button: str) -> None:
    from slm_workbench.engine.errors import WorkbenchError
    from slm_workbench.engine.runs import launcher
    from slm_workbench.ui.messages import StartJob

    def refuse(recipe, **kwargs):
        raise WorkbenchError("not started in this test")

    monkeypatch.setattr(launcher, "start_recipe", refuse)
    started: list[StartJob] = []
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40), message_hook=lambda m: started.append(m) if isinstance(m, StartJob)
                            else None) as pilot:
        await open_pane(pilot)
        screen = app.screen
        screen.query_one("#q-source", Input).value = str(tiny_model_dir)
        screen.query_one("#q-v-int4-cal", Checkbox).value = True
        screen.query_one("#qv-block_size", Input).value = "64"
        screen.query_one("#qv-accuracy_level", Input).value = "1"
        screen.query_one("#qv-symmetric", Select).value = "true"
        screen.query_one("#qv-calibration_data", Input).value = "slmw:demo"
        screen.query_one("#qv-calibration_samples", Input).value = "8"
        await press(pilot, button)
        await wait_for(pilot, lambda: bool(started), what="StartJob")
        recipe = started[-1].recipe
        assert recipe.stage == button.removeprefix("#q-") and "int4-cal" in recipe.variants
        assert (recipe.block_size, recipe.accuracy_level, recipe.symmetric) == (64, 1, True)
        assert (recipe.calibration_data, recipe.calibration_samples) == ("slmw:demo", 8)
        from slm_workbench.config.presets import resolve_presets

        names = [p.name for p in resolve_presets(recipe.variants, **recipe.variant_knobs())]
        assert "int4-cal-b64-a1-sym-c8" in names and "int4-b64-a1" in names

        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        screen.query_one("#qv-calibration_samples", Input).value = "0"
        started.clear()
        await press(pilot, button)
        assert "calibration_samples" in notes[-1] and not started
        assert screen.query_one("#qv-calibration_samples").has_class("-invalid")


async def test_the_table_shows_the_task_interval_n_and_both_rss_figures(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    write_compare_run(store.root)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_pane(pilot)
        table = app.screen.query_one(VariantTable)
        await wait_for(pilot, lambda: len(table.rows_shown) == 6, what="the report's rows")
        labels = [str(c.label) for c in table.columns.values()]
        assert {"settings", "task ±95%", "n", "task/ref", "RSS MB", "model MB"} <= set(labels)
        cells = {str(k.value): str(v) for k, v in zip(table.columns, table.get_row("fp32"))}
        assert cells["task_score"] == "0.86 ±0.08" and cells["task_n"] == "64"
        assert cells["task_kept"] == "98% 91–104" and cells["status"] == "#3"
        int8 = {str(k.value): str(v) for k, v in zip(table.columns, table.get_row("int8"))}
        assert (int8["peak_rss_mb"], int8["model_rss_mb"], int8["settings"]) == ("498", "403", "b32 a4 sym")
        message = str(app.screen.query_one("#q-message").render())
        assert "paired 95% interval" in message and "64 eval examples of slmw:demo-eval" in message
        assert "fp32: slower than" in message  # kept the task (98%, its interval reaching 100%): only slower
