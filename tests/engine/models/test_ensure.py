"""The built-in model on first use: found missing from paths alone, prepared by one job that
every caller joins, its progress reported, its failure one line; prepared inline inside a job."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from slm_workbench.engine.errors import Cancelled, ModelNotFoundError
from slm_workbench.engine.events import Progress
from slm_workbench.engine import first_use as ensure
from slm_workbench.engine.models import prepare
from slm_workbench.engine.models.builtin import DEFAULT_MODEL
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import RunStore, read_events
from tests.helpers import fast_model_prepare, wait_until


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path) -> None:
    fast_model_prepare(monkeypatch, smollm2_dir)


def prepare_runs() -> list:
    return [r for r in RunStore().list() if r.stage == "models.prepare"]


def test_what_needs_preparing(slmw_home: Path, smollm2_dir: Path) -> None:
    assert ensure.model_to_prepare(DEFAULT_MODEL).name == DEFAULT_MODEL
    assert ensure.model_to_prepare(f"{DEFAULT_MODEL}:int4").name == DEFAULT_MODEL
    assert ensure.model_to_prepare(None).name == DEFAULT_MODEL  # the default model
    for other in ("20250101-120000-train-ab12", "http://127.0.0.1:8000/v1", "/no/such/folder"):
        assert ensure.model_to_prepare(other) is None
    shutil.copytree(smollm2_dir, slmw_home / "models" / DEFAULT_MODEL)
    assert ensure.model_to_prepare(DEFAULT_MODEL) is None


def test_a_missing_builtin_model_is_prepared_by_a_job_with_progress(fast: None, slmw_home: Path) -> None:
    lines: list[str] = []
    folder = ensure.ensure_prepared(f"{DEFAULT_MODEL}:int8", on_progress=lines.append)
    assert folder == slmw_home / "models" / DEFAULT_MODEL and (folder / "config.json").is_file()
    (run,) = prepare_runs()
    assert run.state == "done"
    assert lines[0] == f"preparing {DEFAULT_MODEL} (job {run.id})"
    assert any("copying the converted test model" in line for line in lines)
    assert lines[-1] == f"{DEFAULT_MODEL} prepared"
    assert ensure.ensure_prepared(DEFAULT_MODEL) is None  # prepared now: nothing to do, no second job
    assert len(prepare_runs()) == 1


def test_a_running_preparation_is_joined_not_started_twice(fast: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hold = tmp_path / "release"
    monkeypatch.setenv("SLMW_TEST_HOLD", str(hold))
    assert ensure.ensure_prepared(DEFAULT_MODEL, start=False) is None  # nothing running: nothing joined
    first = ensure.prepare_job(ensure.model_to_prepare(DEFAULT_MODEL))
    lines: list[str] = []
    waiter = threading.Thread(target=lambda: ensure.ensure_prepared(DEFAULT_MODEL, on_progress=lines.append, start=False))
    waiter.start()
    wait_until(lambda: lines, what="the waiter's first line")
    assert lines[0].endswith(f"(job {first.name})")
    hold.touch()
    waiter.join(timeout=120)
    assert not waiter.is_alive() and lines[-1] == f"{DEFAULT_MODEL} prepared"
    assert [r.id for r in prepare_runs()] == [first.name]


def test_a_caller_that_stops_waiting_leaves_the_job_going(fast: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLMW_TEST_HOLD", str(tmp_path / "release"))
    with pytest.raises(Cancelled):
        ensure.ensure_prepared(DEFAULT_MODEL, keep_waiting=lambda: False)
    (run,) = prepare_runs()
    assert run.alive
    (tmp_path / "release").touch()
    wait_until(lambda: RunStore().info(run.dir).state == "done", timeout=120, what="the job to finish")


def test_a_failed_preparation_is_one_line_naming_the_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fast_model_prepare(monkeypatch, tmp_path / "nothing-here")  # the copy fails
    with pytest.raises(ModelNotFoundError) as exc:
        ensure.ensure_prepared(DEFAULT_MODEL)
    (run,) = prepare_runs()
    assert exc.value.message.startswith(f"preparing {DEFAULT_MODEL} failed (run {run.id})")
    assert "worker.log" in (exc.value.hint or "")


def test_a_job_prepares_the_model_inline_with_its_own_progress(monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path,
                                                               slmw_home: Path) -> None:
    def copy(gguf, folder, *, on_phase, **_):
        shutil.copytree(smollm2_dir, folder)
        on_phase("copied", 1, 1)  # a final step: never dropped by the progress throttle
        return folder

    monkeypatch.setattr(prepare, "convert_gguf", copy)
    run_dir = RunStore().create("export", "stage: export\nmodel: x\n")
    ctx = RunContext(run_dir)
    ensure.prepare_in_job("20250101-120000-train-ab12", ctx)  # a run id: nothing to prepare
    assert not (slmw_home / "models" / DEFAULT_MODEL).exists()
    ensure.prepare_in_job(DEFAULT_MODEL, ctx)
    assert (slmw_home / "models" / DEFAULT_MODEL / "config.json").is_file()
    phases = [e.summary() for e in read_events(run_dir) if isinstance(e, Progress)]
    assert any(f"preparing {DEFAULT_MODEL}" in p for p in phases) and any("copied" in p for p in phases)
