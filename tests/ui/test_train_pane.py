"""The Train pane as a user drives it: validation under the field, estimate, save, launch."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual.widgets import Input

from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.widgets.recipe_form import RecipeForm

from .conftest import fixed_sample, wait_for, write_chat_rows
from .test_runs_pane import row_state


def text_of(app, selector: str) -> str:
    found = app.screen.query(selector)
    return str(found.first().render()) if found else ""


async def test_form_validates_estimates_saves_and_launches(tmp_path: Path, tiny_model_dir: Path) -> None:
    recipe_path = tmp_path / "my.yaml"
    data = write_chat_rows(tmp_path / "d.jsonl", 12)
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2, initial_pane="train")
    async with app.run_test(size=(140, 50)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#f-model")), what="the form to mount")
        form = app.screen.query_one(RecipeForm)
        app.screen.query_one("#recipe-path", Input).value = str(recipe_path)
        form.query_one("#f-model", Input).value = str(tiny_model_dir)
        form.query_one("#f-data", Input).value = str(data)
        form.query_one("#f-batch_size", Input).value = "0"
        await wait_for(pilot, lambda: "greater than or equal to 1" in text_of(app, "#f-batch_size-error"), what="inline error")
        form.query_one("#f-batch_size", Input).value = "2"
        form.query_one("#f-max_steps", Input).value = "3"
        form.query_one("#f-max_length", Input).value = "256"  # the tiny model's context is 512
        form.query_one("#f-lora--r", Input).value = "4"
        await wait_for(pilot, lambda: "fits" in text_of(app, "#train-estimate"), what="the memory estimate")
        assert text_of(app, "#f-batch_size-error") == ""
        await pilot.click("#save-recipe")
        saved = yaml.safe_load(recipe_path.read_text())
        assert saved["stage"] == "train" and saved["batch_size"] == 2 and saved["lora"]["r"] == 4
        assert recipe_path.read_text().startswith(f"# slmw train {recipe_path}")
        assert f"$ slmw train {recipe_path}" in text_of(app, "#train-command") and "--wait" not in text_of(app, "#train-command")
        await pilot.click("#launch-train")
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "runs", what="the Runs pane")
        runs = store.list()
        assert len(runs) == 1 and runs[0].stage == "train"
        await wait_for(pilot, lambda: row_state(app, runs[0].id) in ("running", "done"), what="the run listed", timeout=60)
        chart_row = app.screen.query_one("#run-chart-row")
        await wait_for(pilot, lambda: chart_row.has_class("-has-metrics"), what="the loss chart to get points", timeout=180)
        chart = app.screen.query_one("#run-chart")
        assert chart.series and len(chart.series[0]) >= 1  # the loss curve is drawn from metrics.jsonl as it grows
        await wait_for(pilot, lambda: row_state(app, runs[0].id) == "done", what="the run to finish", timeout=180)


def test_the_shown_command_uses_the_flags_slmw_train_derives() -> None:
    from slm_workbench.cli.main import build_parser
    from slm_workbench.cli.recipe_flags import build_recipe
    from slm_workbench.ui.screens.train_pane import _flag

    flags = [_flag("lora.r", 8), _flag("packing", True), _flag("merge", False), _flag("max_steps", None),
             _flag("lora.target_modules", ["q_proj", "v_proj"]), _flag("data", "my data.jsonl")]
    assert flags[:3] == ["--lora-r 8", "--packing", "--no-merge"]
    import shlex

    args = build_parser().parse_args(["train", *shlex.split(" ".join(flags))])
    recipe = build_recipe(args, where="t")
    assert (recipe.lora.r, recipe.packing, recipe.merge, recipe.max_steps) == (8, True, False, None)
    assert (recipe.lora.target_modules, recipe.data) == (["q_proj", "v_proj"], "my data.jsonl")
