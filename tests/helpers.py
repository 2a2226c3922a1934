"""Test helpers: wait on a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        time.sleep(interval)


def wait_for_state(run_dir: Path, states: str | set[str], *, timeout: float = 60.0) -> Any:
    """The run's RunInfo once its effective state is one of ``states``."""
    from slm_workbench.engine.runs.store import RunStore

    wanted = {states} if isinstance(states, str) else states
    store = RunStore(run_dir.parent)

    def reached() -> Any:
        info = store.info(run_dir)
        return info if info.state in wanted else None

    try:
        return wait_until(reached, timeout=timeout, interval=0.1, what=f"run {run_dir.name} to be {sorted(wanted)}")
    except AssertionError as exc:
        log = (run_dir / "worker.log").read_text(errors="replace") if (run_dir / "worker.log").exists() else ""
        raise AssertionError(f"{exc}; it is {store.info(run_dir).state}; worker.log:\n{log[-3000:]}") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# A job's worker with the GGUF conversion replaced by a copy of an already converted folder, so
# a test of "the built-in model is prepared on first use" runs the real job in a second or two.
# When the environment names SLMW_TEST_HOLD, the copy waits for that file to exist first.
_FAST_PREPARE_WORKER = """
import os, shutil, sys, time
from pathlib import Path
from slm_workbench.engine.models import prepare

def copy(gguf, folder, *, on_phase=lambda phase, done, total: None, **_):
    hold = os.environ.get("SLMW_TEST_HOLD")
    on_phase("copying the converted test model", 0, 1)
    while hold and not Path(hold).exists():
        time.sleep(0.05)
    partial = folder.with_name(f".{folder.name}.partial-test")
    shutil.copytree(sys.argv[1], partial)
    partial.rename(folder)
    on_phase("done", 1, 1)
    return folder

prepare.convert_gguf = copy
from slm_workbench.worker import main
sys.exit(main(sys.argv[2:]))
"""


def fast_model_prepare(monkeypatch: Any, converted: Path) -> None:
    """Jobs started from here on convert the built-in model by copying ``converted``."""
    import sys

    from slm_workbench.engine.runs import launcher

    monkeypatch.setattr(launcher, "worker_command",
                        lambda run_dir: [sys.executable, "-c", _FAST_PREPARE_WORKER, str(converted), str(run_dir)])
