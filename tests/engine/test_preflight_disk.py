"""A disk that fills up while a job runs: one line naming the folder, the free space, what to do and,
for a stage that resumes, the command that goes on (instead of a library's traceback fragment)."""

from __future__ import annotations

import errno
import sys
import textwrap
from collections import namedtuple

from slm_workbench import worker
from slm_workbench.config.recipes import SystemCheckRecipe
from slm_workbench.engine.preflight import disk
from slm_workbench.engine.runs import launcher, store
from slm_workbench.engine.runs.status import TERMINAL_STATES
from tests.helpers import wait_for_state

Usage = namedtuple("Usage", "total used free")

# The worker with system.check replaced by a stage that fails as safetensors does on a full disk.
FULL_DISK_WORKER = textwrap.dedent(
    """
    import runpy, sys
    import slm_workbench.engine.system.stage as system_check

    class SafetensorError(Exception):
        pass

    def run(recipe, ctx):
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                              'message: "No space left on device" })')

    system_check.run = run
    sys.argv = ["slm_workbench.worker", sys.argv[1]]
    runpy.run_module("slm_workbench.worker", run_name="__main__", alter_sys=True)
    """
)


def test_enospc_reads_as_one_line_with_folder_space_and_resume(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 12 * 10**6, 12 * 10**6))
    run_dir = tmp_path / "runs" / "20250101-000000-train-abcd"
    (run_dir / "checkpoints").mkdir(parents=True)
    exc = OSError(errno.ENOSPC, "No space left on device", str(run_dir / "checkpoints" / "optimizer.pt"))

    message, hint, _ = worker.describe_failure(exc, run_dir, "train")

    assert message == (f"disk full: no space left in {run_dir / 'checkpoints'} (12.0 MB free); free some space "
                       f"there, then `slmw runs resume {run_dir.name}` to go on where it stopped")
    assert hint is None and "\n" not in message


def test_a_library_error_saying_no_space_is_a_full_disk_too(tmp_path) -> None:
    class OnnxIrError(Exception):
        pass

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise OnnxIrError("Failed to save tensor 'model.layers.0.mlp'") from inner
    except OnnxIrError as caught:
        chained = caught
    assert disk.is_disk_full(chained)
    assert disk.is_disk_full(RuntimeError("IoError: No space left on device (os error 28)"))
    assert not disk.is_disk_full(RuntimeError("shape mismatch"))
    message, _, _ = worker.describe_failure(chained, tmp_path, "export")
    assert message.startswith(f"disk full: no space left in {tmp_path} (")
    assert message.endswith("free some space there, then start the job again")  # export does not resume


def test_a_job_that_fills_the_disk_ends_failed_with_the_line(slmw_home, monkeypatch) -> None:
    monkeypatch.setattr(launcher, "worker_command",
                        lambda run_dir: [sys.executable, "-c", FULL_DISK_WORKER, str(run_dir)])
    run_dir = launcher.start_recipe(SystemCheckRecipe(seconds=1, threads=1, size=64), title="full disk")

    info = wait_for_state(run_dir, TERMINAL_STATES, timeout=60)

    assert info.state == "failed"
    error = next(e for e in store.read_events(run_dir) if e.kind == "error")
    assert error.message.startswith(f"disk full: no space left in {run_dir} (")
    assert "SafetensorError" not in error.message
    assert info.status.message == error.message


def test_a_vague_failure_on_a_full_disk_is_taken_for_one(tmp_path, monkeypatch) -> None:
    vague = RuntimeError("basic_ios::clear: iostream error")  # what torch.save says on a full disk
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    assert disk.is_disk_full(vague, tmp_path)
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: Usage(10**9, 0, 10**9))
    assert not disk.is_disk_full(vague, tmp_path)


def test_the_reserve_holds_space_until_released(tmp_path) -> None:
    reserve = tmp_path / ".space-reserve"
    disk.hold_reserve(reserve)
    assert reserve.stat().st_blocks * 512 >= disk.RESERVE_BYTES  # allocated, not a sparse promise
    disk.release_reserve(reserve)
    assert not reserve.exists()
