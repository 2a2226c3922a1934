"""The sweep's Optuna study: its storage, sampler and pruner, and recovery after a crash.

Storage: by default Optuna's journal file (``JournalFileBackend``) in the sweep's run folder,
safe for several processes on this machine (the workers of ``slmw sweep --join`` append to
the same file); a database URL (RDB storage, with Optuna's heartbeat so that the trials of a
worker that died on another machine are failed and retried by the others) lets workers on
other machines join. Either opens in ``optuna-dashboard`` as it is.

Recovery: a trial still ``RUNNING`` whose worker is gone (this sweep's own earlier process,
or a dead process on this host) is marked ``FAIL`` with ``interrupted``, its training run is
stopped if it still runs, and the trial is enqueued again with the same parameters; the
retry resumes that run from its last checkpoint.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..runs import launcher, store
from .summary import JOURNAL

RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")


def is_database(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def storage_location(storage: str | None, run_dir: Path) -> str:
    """The storage as a user would name it: a database URL, or the journal file's path."""
    if storage and is_database(storage):
        return storage
    return str(Path(storage).expanduser().resolve() if storage else run_dir / JOURNAL)


def dashboard_command(location: str) -> str:
    return f"optuna-dashboard {location}"


def open_storage(location: str) -> Any:
    import optuna
    import optuna.storages as storages
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if is_database(location):
        import inspect
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if "heartbeat_stale_trial_callback" in inspect.signature(RDBStorage).parameters:  # optuna >= 4.9
                    retry = {"heartbeat_stale_trial_callback": storages.RetryHeartbeatStaleTrialCallback(max_retry=2)}
                else:
                    retry = {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=2)}
                return RDBStorage(location, heartbeat_interval=60, grace_period=180, **retry)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors are many; the user fixes the URL
            raise WorkbenchError(f"cannot open the sweep storage {location}: {type(exc).__name__}: {exc}".splitlines()[0],
                                 hint="check the database URL and that its driver is installed") from None
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def make_sampler(recipe: Any, worker_offset: int) -> Any:
    import optuna

    seed = None if recipe.seed is None else recipe.seed + worker_offset
    if recipe.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = max(2, min(10, recipe.trials // 3))  # TPE's own default (10) would make small sweeps random
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(recipe: Any) -> Any:
    import optuna

    p = recipe.pruner
    if not p.enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_steps,
                                       n_min_trials=p.min_trials)


def worker_identity(run_dir: Path) -> dict[str, Any]:
    import psutil

    return {"run": run_dir.name, "host": socket.gethostname(), "pid": os.getpid(),
            "proc_start": psutil.Process().create_time()}


def worker_gone(worker: dict[str, Any], me: dict[str, Any]) -> bool:
    """True when the worker that ran a trial is known to be gone (only this host's can be known)."""
    if not worker or worker.get("host") != me["host"]:
        return False
    if worker.get("run") == me["run"] and worker.get("pid") != me["pid"]:
        return True  # this sweep's own earlier process: this one replaced it
    from ..runs.status import RunStatus
    from ..runs.store import process_alive

    status = RunStatus(id=str(worker.get("run")), stage="sweep", pid=worker.get("pid"), host=me["host"],
                       proc_start=worker.get("proc_start"))
    return not process_alive(status)


def recover(study: Any, me: dict[str, Any], run_store: store.RunStore) -> list[int]:
    """Fail the trials left running by a dead worker and enqueue each interrupted trial once again;
    returns the numbers of the trials retried."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not worker_gone(trial.user_attrs.get("worker") or {}, me):
            continue
        run_id = trial.user_attrs.get("run_id")
        if run_id and (run_store.root / run_id).is_dir():
            info = run_store.info(run_store.root / run_id)
            if info.alive:
                launcher.stop_job(info)
                launcher.wait_for(info.dir)
        study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    again = []
    for trial in trials:
        if trial.state != TrialState.FAIL or not trial.user_attrs.get("interrupted") or trial.number in retried:
            continue
        attrs: dict[str, Any] = {"retry_of": trial.number}
        run_id = trial.user_attrs.get("run_id")
        if run_id and (run_store.root / run_id).is_dir():
            attrs["resume_run"] = run_id
        study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)
        again.append(trial.number)
    return again
