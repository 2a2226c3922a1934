"""A sweep as a job on the tiny model: trials are training runs, one is pruned, a second worker joins."""

from __future__ import annotations

import json

from slm_workbench.engine.runs.launcher import start_recipe
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.engine.sweep.summary import read_report, read_trials
from tests.helpers import wait_for_state


def test_four_trials_are_training_runs_and_the_bad_one_is_pruned(tiny_sweep) -> None:
    sweep = start_recipe(tiny_sweep(), title="tiny sweep")
    info = wait_for_state(sweep, {"done", "failed", "cancelled"}, timeout=600)
    assert info.state == "done", (sweep / "worker.log").read_text()[-3000:]
    rows = read_trials(sweep / "artifacts")
    assert [r["number"] for r in rows] == [0, 1, 2, 3]
    assert [r["state"] for r in rows] == ["complete", "complete", "complete", "pruned"], rows
    assert rows[3]["params"] == {"learning_rate": 1e-07} and rows[3]["pruned_at"] == 8
    runs = {i.id: i for i in RunStore().list()}
    for row in rows:  # each trial is an ordinary training run of the store
        trial_run = runs[row["run_id"]]
        assert trial_run.stage == "train"
        assert trial_run.state == ("cancelled" if row["state"] == "pruned" else "done")
        recipe = (trial_run.dir / "recipe.yaml").read_text()
        assert f"learning_rate: {row['params']['learning_rate']}" in recipe
    assert all(r["steps"] == 24 and r["value"] == r["eval_loss"] for r in rows[:3])
    report = read_report(sweep / "artifacts")
    assert report["counts"]["complete"] == 3 and report["counts"]["pruned"] == 1
    assert report["best"]["number"] in (0, 1, 2) and report["direction"] == "minimize"
    assert report["dashboard"] == f"optuna-dashboard {sweep / 'optuna.journal'}"
    assert (sweep / "optuna.journal").stat().st_size > 0
    assert json.loads((sweep / "artifacts" / "sweep_report.json").read_text())["study"] == sweep.name
