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

from .conftest import SNAPSHOT_HOME, fixed_sample, wait_for, write_run

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


def write_sweep(root: Path) -> Path:
    rows = []
    for number, state, value, lr, r, task, pruned_at in TRIALS:
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
              "importance_method": "PED-ANOVA", "params": {"learning_rate": "loguniform:1e-4:1e-2",
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
        assert "learning_rate" in str(pane.query_one("#sw-importances").render())
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
    assert snap_compare(sweep_app(SNAPSHOT_HOME / "runs"), terminal_size=(120, 40), run_before=settle)
