"""A sweep as a job on the tiny model: trials are training runs, one is pruned, a second worker joins."""

from __future__ import annotations

import json

import pytest
import yaml

from slm_workbench.engine.runs.launcher import start_recipe
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.engine.sweep.summary import read_report, read_trials
from tests.helpers import wait_for_state


@pytest.mark.parametrize("metric", ["eval_loss", "task"])
def test_four_trials_are_training_runs_and_the_bad_one_is_pruned(tiny_sweep, metric) -> None:
    """Under `task` the study maximises, yet the pruner must still stop the trial whose eval loss is
    high (reported as it was, the eval loss made the pruner stop the best-learning trials)."""
    sweep = start_recipe(tiny_sweep(metric=metric, task_examples=2 if metric == "task" else 0), title="tiny sweep")
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
        recipe = yaml.safe_load((trial_run.dir / "recipe.yaml").read_text())
        assert recipe["learning_rate"] == row["params"]["learning_rate"]
    if metric == "eval_loss":
        assert all(r["steps"] == 24 and r["value"] == r["eval_loss"] for r in rows[:3])
        assert rows[3]["value"] == rows[3]["eval_loss"]  # where it stood when pruned
    else:  # a pruned trial has no task score: its eval loss is not shown as one
        assert all(r["steps"] == 24 and r["value"] == r["task"] is not None for r in rows[:3])
        assert rows[3]["value"] is None and rows[3]["eval_loss"] > max(r["eval_loss"] for r in rows[:3])
    report = read_report(sweep / "artifacts")
    assert report["counts"]["complete"] == 3 and report["counts"]["pruned"] == 1
    assert report["best"]["number"] in (0, 1, 2)
    assert report["direction"] == ("minimize" if metric == "eval_loss" else "maximize")
    assert report["dashboard"] == f"optuna-dashboard {sweep / 'optuna.journal'}"
    assert (sweep / "optuna.journal").stat().st_size > 0
    assert json.loads((sweep / "artifacts" / "sweep_report.json").read_text())["study"] == sweep.name


def test_a_second_worker_joins_the_sweep_on_its_storage(tiny_sweep, capsys) -> None:
    from slm_workbench.cli.main import main
    from tests.helpers import wait_until

    sweep = start_recipe(tiny_sweep(params={"learning_rate": "choice:0.005,0.004,0.003"}, pruner={"enabled": False},
                                    trials=4, seed=0), title="shared sweep")
    wait_until(lambda: any(r.get("run_id") for r in read_trials(sweep / "artifacts")), timeout=120,
               what="the first trial to start")
    assert main(["sweep", "--join", sweep.name[-4:], "--detach"]) == 0
    worker = RunStore().resolve(capsys.readouterr().out.strip())
    assert wait_for_state(sweep, {"done", "failed"}, timeout=600).state == "done", (sweep / "worker.log").read_text()[-3000:]
    assert wait_for_state(worker, {"done", "failed"}, timeout=600).state == "done", (worker / "worker.log").read_text()[-3000:]
    joined = RunStore().info(worker)
    assert joined.stage == "sweep"
    recipe = (worker / "recipe.yaml").read_text()
    assert f"join: {sweep.name}" in recipe and str(sweep / "optuna.journal") in recipe
    rows = read_trials(worker / "artifacts")  # the worker's summary is of the whole study
    finished = [r for r in rows if r["state"] in ("complete", "pruned")]
    assert len(finished) >= 4 and {r["worker"] for r in finished} == {sweep.name, worker.name}, rows
    assert len({r["run_id"] for r in rows}) == len(rows)  # every trial its own training run


def test_a_crashed_sweep_resumes_and_retries_the_trial_it_left_running(tiny_sweep) -> None:
    import os
    import signal

    from slm_workbench.engine.runs.launcher import resume_job
    from tests.helpers import wait_until

    train = tiny_sweep().train | {"max_steps": 200, "save_steps": 4}  # long enough to kill the sweep mid-trial
    sweep = start_recipe(tiny_sweep(params={"learning_rate": "choice:0.005"}, trials=1, pruner={"enabled": False},
                                    train=train), title="crashing sweep")

    def first_run_checkpointed():
        rows = read_trials(sweep / "artifacts")
        run_id = rows[0].get("run_id") if rows else None
        return run_id if run_id and list((RunStore().root / run_id / "checkpoints").glob("checkpoint-*/trainer_state.json")) else None

    first_run = wait_until(first_run_checkpointed, timeout=240, what="trial 0 to checkpoint")
    os.killpg(RunStore().info(sweep).status.pgid, signal.SIGKILL)  # the sweep dies; its trial run lives on
    assert wait_for_state(sweep, {"interrupted"}).state == "interrupted"
    resume_job(RunStore().info(sweep))
    assert wait_for_state(sweep, {"done", "failed"}, timeout=900).state == "done", (sweep / "worker.log").read_text()[-3000:]
    rows = read_trials(sweep / "artifacts")
    assert rows[0]["state"] == "failed" and rows[0]["interrupted"]
    retry = next(r for r in rows if r["retry_of"] == 0)
    assert retry["state"] == "complete" and retry["run_id"] == first_run  # it resumed the same run
    assert [r["state"] for r in rows] == ["failed", "complete"] and retry["steps"] == 200
    events = (RunStore().root / first_run / "events.jsonl").read_text()
    assert events.count('"kind": "started"') == 2  # trained once, stopped by the recovery, resumed


def test_each_finished_trial_is_scored_on_the_task_by_an_eval_job(tiny_sweep) -> None:
    from slm_workbench.engine.runs.run import Run

    sweep = start_recipe(tiny_sweep(params={"learning_rate": "choice:0.005"}, trials=1, metric="task", task_examples=2),
                         title="scored sweep")
    assert wait_for_state(sweep, {"done", "failed"}, timeout=600).state == "done", (sweep / "worker.log").read_text()[-3000:]
    (row,) = read_trials(sweep / "artifacts")
    eval_run = RunStore().info(RunStore().root / row["task_run"])
    assert eval_run.stage == "eval" and eval_run.state == "done"
    report = json.loads(Run(eval_run.dir).artifact("eval_report.json").read_text())
    assert report["target"] == row["run_id"] and report["examples"] == 2
    assert row["task"] == report["metrics"]["task"]["mean"] == row["value"]  # metric: task is what it is judged by
    assert read_report(sweep / "artifacts")["direction"] == "maximize"


def test_stopping_a_sweep_stops_its_trial_run_in_order(tiny_sweep) -> None:
    from slm_workbench.engine.runs.launcher import stop_job
    from tests.helpers import wait_until

    train = tiny_sweep().train | {"max_steps": 5000, "save_steps": 2000, "eval_fraction": 0.0}
    sweep = start_recipe(tiny_sweep(params={"learning_rate": "choice:0.005"}, trials=1, metric="loss",
                                    pruner={"enabled": False}, train=train), title="sweep to stop")
    run_id = wait_until(lambda: next((r["run_id"] for r in read_trials(sweep / "artifacts") if r.get("run_id")), None),
                        timeout=120, what="the trial to start")
    trial_run = RunStore().root / run_id
    wait_until(lambda: (trial_run / "metrics.jsonl").exists() and len((trial_run / "metrics.jsonl").read_text().splitlines()) >= 2,
               timeout=240, what="the trial to train")
    import psutil

    nice = {run.name: psutil.Process(RunStore().info(run).status.pid).nice() for run in (sweep, trial_run)}
    assert nice[trial_run.name] == nice[sweep.name]  # a trial runs at the priority of the same `slmw train` job
    stop_job(RunStore().info(sweep))
    assert wait_for_state(sweep, {"cancelled", "failed", "interrupted"}, timeout=180).state == "cancelled"
    assert RunStore().info(trial_run).state == "cancelled"  # stopped as `slmw runs stop` stops it: resumable
    assert list((trial_run / "checkpoints").glob("checkpoint-*/trainer_state.json"))
    (row,) = read_trials(sweep / "artifacts")
    assert row["state"] == "failed" and row["interrupted"]  # retried, resuming that run, when the sweep resumes
