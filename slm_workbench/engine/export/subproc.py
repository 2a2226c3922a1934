"""Run an exporter (the model builder, Olive) as a child process: logged, stoppable, offline.

The child writes to a log file in the job's run directory (its progress bars use carriage
returns, so it is read back as text split on both ``\\r`` and ``\\n``). Every poll checks
for a stop request; a stop ends the child's process group and raises ``Cancelled``. Never
``shell=True``: the command is a list.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import WorkbenchError

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "OLIVE_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONUNBUFFERED": "1",
}


def child_env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ, **OFFLINE_ENV)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def log_lines(log: Path, start: int = 0) -> tuple[list[str], int]:
    """Lines written to ``log`` after byte ``start``, and the new offset."""
    try:
        with open(log, "rb") as fh:
            fh.seek(start)
            data = fh.read()
    except OSError:
        return [], start
    cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    text = data[:cut].decode("utf-8", errors="replace").replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()], start + cut


def tail_text(log: Path, lines: int = 4) -> str:
    found, _ = log_lines(log)
    useful = [line for line in found if "it/s]" not in line and not line.startswith("Saving ")]
    return " | ".join(useful[-lines:])


def run_logged(
    cmd: Sequence[str],
    log: Path,
    *,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check_cancelled: Callable[[], None] = lambda: None,
    on_line: Callable[[str], None] = lambda line: None,
    timeout: float = 3600.0,
    poll: float = 0.2,
) -> None:
    """Run ``cmd`` to completion; raise a WorkbenchError naming ``what`` and the log's tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(str(c) for c in cmd)}\n".encode())
        out.flush()
        start = out.tell()
        proc = subprocess.Popen(
            [str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=cwd, env=env or child_env(), start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    offset = start
    try:
        while proc.poll() is None:
            check_cancelled()
            lines, offset = log_lines(log, offset)
            for line in lines:
                on_line(line)
            if time.monotonic() > deadline:
                raise WorkbenchError(f"{what} took longer than {timeout:.0f} s and was stopped", hint=f"see {log}")
            time.sleep(poll)
    except BaseException:
        _stop(proc)
        raise
    lines, offset = log_lines(log, offset)
    for line in lines:
        on_line(line)
    if proc.returncode != 0:
        raise WorkbenchError(f"{what} failed (exit {proc.returncode}): {tail_text(log)}", hint=f"full log: {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
