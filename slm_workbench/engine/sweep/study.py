"""The sweep's Optuna study: its storage, sampler and pruner, and the recipe it keeps.

Storage: by default Optuna's journal file (``JournalFileBackend``) in the sweep's run folder,
safe for several processes on this machine (the workers of ``slmw sweep --join`` append to
the same file); a database URL (RDB storage, with Optuna's heartbeat every ``heartbeat_s``, so
that the trials of a worker that died on another machine are failed and retried by the others,
``liveness.py``) lets workers on other machines join. Either opens in ``optuna-dashboard`` as it is.

A storage that cannot be opened (an unknown scheme, a database that does not answer or refuses
writes, a journal file that cannot be written) is one line naming it, before any trial; so is a
study whose kept recipe (base training recipe, search space, metric) is not this worker's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from .summary import JOURNAL

RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")


RECIPE_KEYS = ("train", "params", "metric", "direction")
"""What every worker of one study must share: the trials' base, the search space, what is optimized."""


def is_database(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def storage_location(storage: str | None, run_dir: Path) -> str:
    """The storage as a user would name it: a database URL, or the journal file's path."""
    if storage and "://" in storage and not is_database(storage):
        raise WorkbenchError(f"cannot open the sweep storage {storage}: unknown scheme {storage.split('://', 1)[0]!r}",
                             hint=f"a database URL ({', '.join(s + '://' for s in RDB_SCHEMES)}…) or a journal file path")
    if storage and is_database(storage):
        return storage
    return str(Path(storage).expanduser().resolve() if storage else run_dir / JOURNAL)


def dashboard_command(location: str) -> str:
    return f"optuna-dashboard {location}"


def open_storage(location: str, heartbeat_s: int = 60) -> Any:
    """Optuna's storage at ``location``; a database beats every ``heartbeat_s`` and hands a trial
    silent for three beats to ``liveness.retry_stale`` (which retries it, resuming its run)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    from .liveness import GRACE_BEATS, retry_stale

    if is_database(location):
        import inspect
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                name = "heartbeat_stale_trial_callback"  # optuna >= 4.9; before, failed_trial_callback
                if name not in inspect.signature(RDBStorage).parameters:
                    name = "failed_trial_callback"
                storage = RDBStorage(location, heartbeat_interval=heartbeat_s, grace_period=GRACE_BEATS * heartbeat_s,
                                     **{name: retry_stale})
                storage.get_all_studies()  # a database that opens but cannot be read says so now
                return storage
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors are many; the user fixes the URL
            raise WorkbenchError(f"cannot open the sweep storage {location}: {type(exc).__name__}: {exc}".splitlines()[0],
                                 hint="check the database URL, that it accepts writes and that its driver is installed") from None
    path = Path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):  # a journal file that cannot be appended to fails here, not in a trial
            pass
    except OSError as exc:
        raise WorkbenchError(f"cannot open the sweep storage {location}: {exc.strerror or exc}",
                             hint="a journal file path that can be written, or a database URL") from None
    return JournalStorage(JournalFileBackend(str(path)))


def recipe_mismatch(kept: Any, recipe: dict[str, Any]) -> str | None:
    """How ``recipe`` differs from the recipe a study keeps (``RECIPE_KEYS`` only), or None."""
    if not isinstance(kept, dict):
        return "it keeps no recipe (not started by slmw sweep)"
    differences = []
    for key in RECIPE_KEYS:
        differences += _differences(kept.get(key), recipe.get(key), key)
    if not differences:
        return None
    more = f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
    return "; ".join(differences[:3]) + more


def _differences(kept: Any, mine: Any, where: str) -> list[str]:
    if isinstance(kept, dict) and isinstance(mine, dict):
        return [d for key in sorted(set(kept) | set(mine), key=str)
                for d in _differences(kept.get(key), mine.get(key), f"{where}.{key}")]
    return [] if kept == mine else [f"{where} is {_short(kept)} there, {_short(mine)} here"]


def _short(value: Any) -> str:
    text = "unset" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_study(study: Any, recipe: Any, location: str) -> None:
    """Refuse a study made by another recipe: its trials would not be comparable with this worker's."""
    why = recipe_mismatch(study.user_attrs.get("recipe"), recipe.model_dump(mode="json", exclude={"join"}))
    if why:
        raise WorkbenchError(f"sweep {study.study_name} in {location} was made by another recipe: {why}",
                             hint="join it with its own recipe (slmw sweep --join ID), or start a new sweep")


def make_sampler(recipe: Any, worker_offset: int) -> Any:
    import optuna

    seed = None if recipe.seed is None else recipe.seed + worker_offset
    if recipe.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = max(2, min(10, recipe.trials // 3))  # TPE's own default (10) would make small sweeps random
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def pruning_value(eval_loss: float, goal: str) -> float:
    """What a trial reports to the pruner for an eval loss (and, applied again, the eval loss back).

    Optuna's pruners compare intermediate values in the study's direction, but an eval loss is better
    lower whatever the sweep's metric. Under a maximised metric (the task score) it is reported negated;
    reported as it was, the median pruner stopped the trials that learned best: a 12-trial task sweep
    of smoke-lora pruned the two lowest eval losses (0.284, 0.286) and finished one at 1.03."""
    return eval_loss if goal == "minimize" else -eval_loss


def make_pruner(recipe: Any) -> Any:
    import optuna

    p = recipe.pruner
    if not p.enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_steps,
                                       n_min_trials=p.min_trials)
