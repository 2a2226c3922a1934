"""The liveness record on the journal file, without training: which running trials any worker reads
as dead (a gone process here, a silent heartbeat elsewhere), and the retry that resumes the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from slm_workbench.engine.sweep.liveness import recover, worker_identity
from slm_workbench.engine.sweep.study import open_storage

BEAT = 10


def running_trial(study, worker: dict, **attrs) -> int:
    trial = study.ask()
    trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    trial.set_user_attr("worker", worker)
    trial.set_user_attr("run_id", f"run-of-trial-{trial.number}")
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return trial.number


def test_only_the_trials_of_dead_workers_are_failed_and_retried_resuming_their_runs(tmp_path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "optuna.journal")))
    me = worker_identity(tmp_path / "20250101-000000-sweep-aaaa")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = {"run": "20250101-000000-sweep-bbbb", "host": me["host"]}
    alive = running_trial(study, me)  # this worker's own trial
    dead_here = running_trial(study, here | {"pid": gone.pid, "proc_start": time.time() - 5})
    live_here = running_trial(study, here | {"pid": os.getppid(), "proc_start": None})
    elsewhere = {"run": "20250101-000000-sweep-cccc", "host": "another-machine", "pid": 1}
    silent = running_trial(study, elsewhere, heartbeat=time.time() - 3 * BEAT - 1)
    beating = running_trial(study, elsewhere, heartbeat=time.time() - BEAT)

    assert recover(study, me, BEAT, database=False) == [dead_here, silent]
    states = {t.number: t.state for t in study.get_trials()}
    assert [states[n] for n in (alive, dead_here, live_here, silent, beating)] == [
        TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING]
    retries = study.get_trials(states=(TrialState.WAITING,))
    assert [(t.user_attrs["retry_of"], t.user_attrs["resume_run"], t.user_attrs["attempt"]) for t in retries] == [
        (dead_here, f"run-of-trial-{dead_here}", 1), (silent, f"run-of-trial-{silent}", 1)]
    assert recover(study, me, BEAT, database=False) == []  # found once, retried once
    retry = study.ask()  # the next trial asked for is the first retry, with its trial's parameters
    assert retry.suggest_float("learning_rate", 1e-4, 1e-2, log=True) == study.trials[dead_here].params["learning_rate"]
