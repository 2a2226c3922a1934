"""Two sweep workers started separately on one study (a SQLite database, or the journal file), real
trials of the tiny model: one worker is killed mid-trial; the other sees it (Optuna's heartbeat on
the database, the trial's liveness record on the journal), fails its trial and retries it resuming
its run, and finishes the study with exactly `--trials` finished trials, each run once. The killed
worker, resumed, reports the same best trial.

PostgreSQL runs too where ``SLMW_TEST_POSTGRES_URL`` names an empty database the test may fill
(``postgresql://USER@127.0.0.1:PORT/DB``; needs ``psycopg``, the ``postgres`` extra); it is skipped
otherwise, since no server comes with the suite."""

from __future__ import annotations

import os
import signal

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.loading import dump_recipe
from slm_workbench.engine.runs.launcher import resume_job
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.engine.sweep.summary import read_report, read_trials
from tests.helpers import wait_for_state, wait_until

TRIALS = 3
STEPS = 12


def started_run(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


POSTGRES_URL = os.environ.get("SLMW_TEST_POSTGRES_URL")


@pytest.mark.parametrize("storage", [
    "sqlite", "journal",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="set SLMW_TEST_POSTGRES_URL to an empty PostgreSQL database to run it"))])
def test_a_killed_workers_trial_is_retried_resuming_its_run_and_every_trial_runs_once(tiny_sweep, tmp_path, capsys,
                                                                                       storage) -> None:
    url = {"sqlite": f"sqlite:///{tmp_path / 'sweeps.db'}", "postgresql": POSTGRES_URL}.get(storage)
    train = tiny_sweep().train | {"max_steps": STEPS, "save_steps": 4, "eval_steps": 6}
    recipe = tiny_sweep(params={"learning_rate": "choice:0.005,0.004,0.003"}, pruner={"enabled": False},
                        trials=TRIALS, train=train, storage=url, heartbeat_s=1, seed=0)
    (tmp_path / "sweep.yaml").write_text(dump_recipe(recipe))
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--detach"]) == 0
    first = RunStore().resolve(started_run(capsys))
    wait_until(lambda: any(r.get("run_id") for r in read_trials(first / "artifacts")), timeout=120,
               what="the first worker's first trial")
    assert main(["sweep", "--join", first.name, *(["--storage", url] if url else []), "--detach"]) == 0
    second = RunStore().resolve(started_run(capsys))

    def second_trial_checkpointed() -> dict | None:
        for row in read_trials(second / "artifacts"):
            run_id = row.get("run_id") if row["worker"] == second.name and row["state"] == "running" else None
            if run_id and list((RunStore().root / run_id / "checkpoints").glob("checkpoint-*/trainer_state.json")):
                return row
        return None

    killed = wait_until(second_trial_checkpointed, timeout=240, what="the second worker's trial to checkpoint")
    for dead in (second, RunStore().root / killed["run_id"]):  # as its machine would: the worker and its trial run
        os.killpg(RunStore().info(dead).status.pgid, signal.SIGKILL)
    assert wait_for_state(first, {"done", "failed"}, timeout=600).state == "done", (first / "worker.log").read_text()[-3000:]

    rows = read_trials(first / "artifacts")
    finished = [r for r in rows if r["state"] in ("complete", "pruned")]
    assert len(finished) == TRIALS and all(r["state"] == "complete" for r in finished), rows  # --trials: finished ones
    (failed,) = [r for r in rows if r["state"] == "failed"]
    assert failed["number"] == killed["number"] and failed["interrupted"]
    (retry,) = [r for r in rows if r["retry_of"] == killed["number"]]
    assert retry["state"] == "complete" and retry["run_id"] == killed["run_id"] and retry["steps"] == STEPS
    assert retry["worker"] == first.name
    events = (RunStore().root / killed["run_id"] / "events.jsonl").read_text()
    assert events.count('"kind": "started"') == 2  # trained under the dead worker, resumed by the retry
    trained = {i.id for i in RunStore().list() if i.stage == "train"}
    assert sorted(r["run_id"] for r in finished) == sorted(trained)  # each trial its own run, none run twice

    resume_job(RunStore().info(second))  # the killed worker goes on: nothing is left to run
    assert wait_for_state(second, {"done", "failed"}, timeout=300).state == "done", (second / "worker.log").read_text()[-3000:]
    best = read_report(first / "artifacts")["best"]
    assert best is not None and read_report(second / "artifacts")["best"]["number"] == best["number"]
    assert len({i.id for i in RunStore().list() if i.stage == "train"}) == TRIALS
