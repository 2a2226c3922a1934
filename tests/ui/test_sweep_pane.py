"""The Sweep pane: reads a sweep run's files (no Optuna), ranks the trials, stars the best, overlays
their curves, shows the importances, and its two actions start the right jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import StartJob
from slm_workbench.ui.widgets.metric_chart import MetricChart

from .conftest import SNAPSHOT_HOME, fixed_sample, press, wait_for, write_run

SWEEP = "20260601-091500-sweep-5a1e"
BASE = {"stage": "train", "model": "smollm2-135m-instruct", "data": "slmw:demo", "learning_rate": 0.002,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}, "max_steps": 24, "eval_steps": 12}
TRIALS = [  # number, state, value, lr, r, task, pruned_at
    (0, "complete", 1.41, 0.002, 16, 0.62, None),
    (1, "complete", 1.18, 0.0061, 32, 0.81, None),
    (2, "pruned", 2.37, 0.00012, 8, None, 12),
    (3, "complete", 1.29, 0.0035, 8, 0.74, None),
    (4, "running", None, 0.0009, 16, None, None),
]


def write_sweep(root: Path, trials: list[tuple] = TRIALS, notes: list[str] = ()) -> Path:
    rows = []
    for number, state, value, lr, r, task, pruned_at in trials:
        run_id = f"20260601-0916{number:02d}-train-00{number:02d}"
        steps = pruned_at or (24 if state == "complete" else 6)
        curve = [{"step": s, "eval_loss": (value or 2.0) + 0.8 * (1 - s / 24)} for s in range(12, steps + 1, 12)]
        write_run(root, run_id, "train", {"complete": "done", "pruned": "cancelled"}.get(state, "running"),
                  title=f"sweep 5a1e trial {number}", metrics=curve)
        rows.append({"number": number, "state": state, "value": value, "params": {"learning_rate": lr, "lora.r": r},
                     "run_id": run_id, "task": task, "eval_loss": value, "steps": steps if state != "running" else None,
                     "pruned_at": pruned_at, "retry_of": None, "interrupted": False, "worker": SWEEP, "error": None})
    sweep = write_run(root, SWEEP, "sweep", "running", title="sweep smoke-lora")
    (sweep / "artifacts" / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = {"study": SWEEP, "storage": str(sweep / "optuna.journal"),
              "dashboard": f"optuna-dashboard {sweep / 'optuna.journal'}", "metric": "eval_loss",
              "direction": "minimize", "trials": 12, "counts": {"complete": 3, "pruned": 1, "running": 1, "waiting": 0,
                                                                "failed": 0},
              "best": rows[1], "importances": {"learning_rate": 0.83, "lora.r": 0.17},
              "importance_method": "PED-ANOVA", "importance_notes": list(notes), "importance_min_trials": 8, "params": {"learning_rate": "loguniform:1e-4:1e-2",
                                                           "lora.r": "choice:8,16,32"}, "base": BASE}
    (sweep / "artifacts" / "sweep_report.json").write_text(json.dumps(report))
    return sweep


def sweep_app(root: Path):
    return make_app(run_store=RunStore(root), sampler=fixed_sample, poll_interval=60, initial_pane="sweep")


async def open_sweep(pilot):
    app = pilot.app
    await wait_for(pilot, lambda: bool(app.screen.query("#sweep-pane")), what="the Sweep pane")
    pane = app.screen.query_one("#sweep-pane")
    await wait_for(pilot, lambda: len(pane.trials) == len(TRIALS), what="the trials")
    return pane


async def test_trials_ranked_by_the_metric_with_the_best_starred(tmp_path: Path) -> None:
    write_sweep(tmp_path / "runs")
    app = sweep_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_sweep(pilot)
        table = pane.query_one("#sw-table")
        order = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert order == ["★ 1", "  3", "  0", "  2", "  4"]  # complete by eval loss; pruned after (worse); running last
        assert "pruned @12" in str(table.get_row_at(3)[1])
        importances = str(pane.query_one("#sw-importances").render())  # 3 complete trials: below the minimum (8)
        assert "not enough trials (3 of 8)" in importances and "learning_rate" not in importances
        chart = pane.query_one(MetricChart)
        assert [s.name for s in chart.series] == ["#1", "#3", "#0", "#2"] and [s.name for s in chart.overlay] == []
        assert list(chart.series[0].ys) == pytest.approx([1.18 + 0.4, 1.18])
        assert "best #1" in str(pane.query_one("#sw-activity").render())


async def test_train_with_the_best_and_compare_the_best_start_jobs(tmp_path: Path, monkeypatch) -> None:
    from slm_workbench.engine.errors import WorkbenchError

    def refuse(recipe, **_):
        raise WorkbenchError("not in this test")

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", refuse)  # no job starts here
    write_sweep(tmp_path / "runs")
    started: list[StartJob] = []
    app = sweep_app(tmp_path / "runs")

    def hook(message) -> None:
        if isinstance(message, StartJob) and all(message is not m for m in started):  # seen at each level it bubbles
            started.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        pane = await open_sweep(pilot)
        pane.query_one("#sw-table").focus()
        await pilot.press("t", "c")
        await wait_for(pilot, lambda: len(started) == 2, what="two jobs asked for")
    train, compare = started[0].recipe, started[1].recipe
    assert train.stage == "train" and train.learning_rate == 0.0061 and train.lora.r == 32
    assert train.max_steps == 24 and train.data == "slmw:demo"  # the rest is the sweep's base recipe
    assert compare.stage == "compare" and compare.model == "20260601-091601-train-0001"


async def test_an_empty_sweep_offers_no_action(tmp_path: Path) -> None:
    write_run(tmp_path / "runs", SWEEP, "sweep", "running", title="just started")
    app = sweep_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#sweep-pane")), what="the Sweep pane")
        pane = app.screen.query_one("#sweep-pane")
        await wait_for(pilot, lambda: pane.run_dir is not None, what="the newest sweep followed")
        assert pane.best is None
        assert app.screen.query_one("#sweep-pane").check_action("train_best", ()) is False


def test_sweep_pane_snapshot(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from .test_snapshots import settle

    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    write_sweep(SNAPSHOT_HOME / "runs")
    async def charted(pilot) -> None:
        """As ``settle``, then until the chart holds the trials' curves: the pane reads them on its poll,
        and repaints on a timer: a snapshot taken before showed "no points yet" about one run in three."""
        await settle(pilot)
        chart = pilot.app.screen.query_one(MetricChart)
        await wait_for(pilot, lambda: any(len(s) for s in chart.series) and not chart._dirty,
                       what="the trials' curves drawn")  # the chart repaints on its own timer
        await settle(pilot)

    assert snap_compare(sweep_app(SNAPSHOT_HOME / "runs"), terminal_size=(120, 40), run_before=charted)


async def test_importance_bars_from_the_minimum_of_complete_trials_with_peds_notes(tmp_path: Path) -> None:
    more = TRIALS + [(n, "complete", 1.3 + n / 100, 0.003, 16, None, None) for n in range(5, 10)]  # 8 complete
    note = "Some regimes for parameter `lora.r` have less than 2 trials. The importance may be inaccurate."
    write_sweep(tmp_path / "runs", more, notes=[note])
    app = sweep_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#sweep-pane")), what="the Sweep pane")
        pane = app.screen.query_one("#sweep-pane")
        await wait_for(pilot, lambda: len(pane.trials) == len(more), what="the trials")
        importances = str(pane.query_one("#sw-importances").render())
    assert "importance (PED-ANOVA, 8 trials)" in importances and "learning_rate" in importances
    assert "⚠ Some regimes for parameter `lora.r`" in importances


# -- starting a sweep from the pane -----------------------------------------------------------------

SHIPPED_COMMAND = ("slmw sweep smoke-lora --param learning_rate=loguniform:1e-4:1e-2 --param lora.r=choice:8,16,32 "
                   "--trials 12 --metric eval_loss")


async def open_form(pilot):
    app = pilot.app
    await wait_for(pilot, lambda: bool(app.screen.query("#sweep-pane")), what="the Sweep pane")
    pane = app.screen.query_one("#sweep-pane")
    await wait_for(pilot, lambda: bool(pane.query("#sw-launch")), what="the new-sweep form")
    launch = pane.query_one("#sw-launch")
    await wait_for(pilot, lambda: launch.command == SHIPPED_COMMAND, what="the shipped recipe's command")
    # The pane gives its table the focus once shown; a field focused before that would lose it to the table.
    await wait_for(pilot, lambda: pane.has_focus_within, what="the pane's first focus")
    return pane, launch


def cli_recipe(command: str):
    """The recipe `slmw sweep …` builds from this command line (the job itself not started)."""
    import shlex
    from unittest import mock

    from slm_workbench.cli.main import build_parser

    args = build_parser().parse_args(shlex.split(command)[1:])
    with mock.patch("slm_workbench.cli.sweep_cmd.run_recipe_job") as run:
        args.func(args)
    return run.call_args.args[0]


async def test_with_no_sweep_the_form_is_open_and_its_command_follows_what_is_typed(tmp_path: Path) -> None:
    from textual.widgets import Input, Select

    app = sweep_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        pane, launch = await open_form(pilot)
        assert pane.query_one("#sw-new").collapsed is False
        assert [(r.field_name, r.spec) for r in launch.rows()] == [
            ("learning_rate", "loguniform:1e-4:1e-2"), ("lora.r", "choice:8,16,32")]
        assert SHIPPED_COMMAND in str(launch.query_one("#swl-command").render())

        trials = launch.query_one("#swl-trials", Input)
        trials.value = ""
        trials.focus()
        await wait_for(pilot, lambda: app.focused is trials, what="the trials field to hold the focus")
        await pilot.press("6")
        await wait_for(pilot, lambda: trials.value == "6", what="the typed trial count")
        launch.query_one("#swl-parallel", Input).value = "2"
        launch.query_one("#swl-storage", Input).value = "sqlite:///sweeps.db"
        launch.query_one("#swl-metric", Select).value = "task"
        rank = launch.rows()[1]
        rank.query_one(".swl-kind", Select).value = "int"
        rank.query_one(".swl-range", Input).value = "4:32:4"
        # Changing the kind re-lays the row out; a click aimed before that lands lands where the button was
        # (CI, loaded, missed it once). Tab to the button and press Enter, as a keyboard user does.
        await pilot.pause()
        launch.query_one("#swl-add").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(launch.rows()) == 3, what="a third parameter row")
        await pilot.press(*"warmup_ratio")
        launch.rows()[2].query_one(".swl-kind", Select).value = "uniform"
        launch.rows()[2].query_one(".swl-range", Input).value = "0:0.1"
        await pilot.pause()
        await wait_for(pilot, lambda: "warmup_ratio" in launch.command and "0:0.1" in launch.command,
                       what="the command to follow")
        command, recipe = launch.command, launch.recipe()
    assert command == ("slmw sweep smoke-lora --param learning_rate=loguniform:1e-4:1e-2 --param lora.r=int:4:32:4 "
                       "--param warmup_ratio=uniform:0:0.1 --trials 6 --metric task --parallel 2 "
                       "--storage sqlite:///sweeps.db")
    assert cli_recipe(command).model_dump() == recipe.model_dump()  # the command makes the very same recipe


async def refused(pilot, notes: list[str]) -> None:
    count = len(notes)
    await pilot.pause()  # the error line under the form moves the button down: press it where it is now
    await press(pilot, "#swl-start")
    await wait_for(pilot, lambda: len(notes) > count, what="the refusal")


async def test_a_bad_value_is_one_line_naming_the_field_and_starts_nothing(tmp_path: Path) -> None:
    from textual.widgets import Input

    posted: list[StartJob] = []
    app = sweep_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40), message_hook=lambda m: posted.append(m) if isinstance(m, StartJob) else None) as pilot:
        pane, launch = await open_form(pilot)
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]

        launch.query_one("#swl-trials", Input).value = "0"
        await refused(pilot, notes)
        assert notes[-1] == "trials: Input should be greater than or equal to 1"
        assert launch.query_one("#swl-trials", Input).has_class("-invalid")
        launch.query_one("#swl-trials", Input).value = "4"

        launch.rows()[0].query_one(".swl-range", Input).value = "1e-2:1e-4"
        await refused(pilot, notes)
        assert notes[-1].startswith("param learning_rate=loguniform:1e-2:1e-4: empty range")
        assert launch.rows()[0].query_one(".swl-range", Input).has_class("-invalid")
        assert not launch.rows()[1].query_one(".swl-range", Input).has_class("-invalid")
        launch.rows()[0].query_one(".swl-range", Input).value = "1e-4:1e-2"

        launch.rows()[1].query_one(".swl-name", Input).value = "lora.rank"
        await refused(pilot, notes)
        assert notes[-1].startswith("param lora.rank=choice:8,16,32: names no field of the training recipe")
        launch.rows()[1].query_one(".swl-name", Input).value = "lora.r"

        launch.query_one("#swl-base", Input).value = "no-such-recipe"
        await refused(pilot, notes)
        assert notes[-1].startswith("base: ") and "no-such-recipe" in notes[-1] and "\n" not in notes[-1]
        assert launch.query_one("#swl-base", Input).has_class("-invalid")
        assert str(launch.query_one("#swl-error").render()) == notes[-1]
        await pilot.pause()
    assert posted == [] and len(notes) == 4


async def test_sweep_starts_a_sweep_job_that_the_pane_then_follows(tmp_path: Path, monkeypatch) -> None:
    from textual.widgets import Input

    from slm_workbench.config.sweep import SweepRecipe

    spawned: list[Path] = []
    monkeypatch.setattr("slm_workbench.engine.runs.launcher.launch", spawned.append)  # the run, not its process
    store = RunStore(tmp_path / "runs")
    app = sweep_app(store.root)
    async with app.run_test(size=(120, 40)) as pilot:
        pane, launch = await open_form(pilot)
        trials = launch.query_one("#swl-trials", Input)
        trials.value = "3"
        await pilot.pause()  # the pane focuses the form's first field after a refresh: focus trials after that
        trials.focus()
        await wait_for(pilot, lambda: app.focused is trials, what="the trials field focused")
        await pilot.press("enter")  # Enter in a field launches, as Sweep does
        await wait_for(pilot, lambda: bool(spawned), what="the sweep job to start")
        await wait_for(pilot, lambda: pane.run_dir == spawned[0], what="the pane to follow the new sweep")
        assert pane.query_one("#sw-new").collapsed is True  # the form folds away for the trials
    [run] = store.list()
    assert run.stage == "sweep" and run.title == "sweep smoke-lora" and run.dir == spawned[0]
    recipe = SweepRecipe.model_validate(__import__("yaml").safe_load((run.dir / "recipe.yaml").read_text()))
    assert (recipe.trials, recipe.params["lora.r"], recipe.train["max_steps"]) == (3, "choice:8,16,32", 24)


def test_no_sweep_yet_snapshot(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """80x24 with no sweep: the form from the shipped recipe, its command, the Sweep button."""
    import shutil

    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))

    async def run_before(pilot) -> None:
        await open_form(pilot)
        from .test_snapshots import settle

        await settle(pilot)

    assert snap_compare(sweep_app(SNAPSHOT_HOME / "runs"), terminal_size=(80, 24), run_before=run_before)


def test_the_command_names_every_field_off_its_default_and_the_cli_reads_it_back() -> None:
    from slm_workbench.config.sweep import SweepRecipe
    from slm_workbench.ui.widgets.sweep_launch import recipe_defaults, sweep_command

    recipe = SweepRecipe(train="smoke-lora", params={"lora.r": "int:4:16:4"}, trials=5, pruner={"enabled": False,
                         "startup_trials": 3}, task_examples=0, sampler="random", seed=7, storage="/tmp/my study.journal")
    command = sweep_command("smoke-lora", recipe.model_dump(mode="json"), recipe_defaults())
    assert command == ("slmw sweep smoke-lora --param lora.r=int:4:16:4 --trials 5 --metric eval_loss "
                       "--storage '/tmp/my study.journal' --no-pruner-enabled --pruner-startup-trials 3 "
                       "--task-examples 0 --sampler random --seed 7")
    assert cli_recipe(command).model_dump() == recipe.model_dump()
