"""Job process entry point: ``python -m slm_workbench.worker RUN_DIR``.

The launcher starts this in its own session (no controlling terminal, its own process
group), so it outlives the TUI, the CLI and an SSH drop. It loads the run's recipe, runs
the stage, and writes ``started`` ... ``finished`` to ``events.jsonl`` and the state to
``status.json``.

A stop (SIGTERM/SIGINT, or ``stop_requested`` in status.json) ends the run ``cancelled`` in
every phase: a signal arriving while this module's imports run is remembered (the first
statement installs a handler), the stage is asked to stop at its next check, and one that
does not get there within a few seconds is made to (``engine.runs.stopping``). A second
stop ends it at once. The job runs at a lower scheduling priority than the TUI
(``SLMW_JOB_NICE``, default 10). A full disk ends it with one line saying where, how much
is free, and how to go on.
"""

from __future__ import annotations

from .engine.runs import stopping  # noqa: I001 - first: a stop during the imports below is not fatal

stopping.install_early()

import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

from .engine.errors import Cancelled, WorkbenchError  # noqa: E402
from .engine.events import Error, Finished, Started  # noqa: E402
from .engine.paths import describe_os_error  # noqa: E402
from .engine.runs import store  # noqa: E402
from .engine.runs.context import RunContext  # noqa: E402
from .engine.runs.run import Run  # noqa: E402

STOPPED = "stopped by the user"
RESERVE = ".space-reserve"
DEFAULT_NICE = 10


def lower_priority() -> None:
    """Be nicer than the TUI that started the job: ``SLMW_JOB_NICE`` steps (0 keeps the priority)."""
    try:
        step = int(os.environ.get("SLMW_JOB_NICE", DEFAULT_NICE))
    except ValueError:
        step = DEFAULT_NICE
    if step > 0:
        try:
            os.nice(step)
        except OSError:
            pass


def _record(ctx: RunContext, outcome: str, message: str, error: Error | None = None) -> None:
    """Write how the job ended; on a full disk the reserve it held makes room for these lines."""
    from .engine.preflight.disk import release_reserve

    release_reserve(ctx.run_dir / RESERVE)
    try:
        if error is not None:
            ctx.emit(error)
        ctx.emit(Finished(outcome=outcome, message=message))  # type: ignore[arg-type]
    finally:
        store.update_status(ctx.run_dir, state=outcome, ended=time.time(), message=message)
        with contextlib.suppress(OSError):
            sys.stdout.flush()


def run_job(run_dir: Path, rank: int = 0) -> int:
    ctx = RunContext(run_dir, rank=rank)
    guard = stopping.StopGuard(ctx.cancel_requested, on_forced=lambda: _record(ctx, "cancelled", STOPPED),
                               log=lambda line: print(line, flush=True))
    guard.install()
    lower_priority()
    outcome, message, code = "failed", "", 1
    error: Error | None = None
    stage = "?"
    try:
        import psutil

        from .config.loading import load_recipe
        from .engine.stages import runner_for

        status = store.update_status(
            run_dir, state="running", pid=os.getpid(), pgid=os.getpgid(0), host=socket.gethostname(),
            proc_start=psutil.Process().create_time(), started=time.time(),
        )
        from .engine.preflight.disk import hold_reserve

        hold_reserve(run_dir / RESERVE)
        if status.stop_requested is not None and not ctx.cancel_requested.is_set():
            guard.request()  # asked to stop before this process could hear it (not a second stop)
        recipe = load_recipe(ctx.run.recipe_path)
        stage = recipe.stage
        ctx.emit(Started(stage=recipe.stage, pid=os.getpid(), host=socket.gethostname()))
        ctx.check_cancelled()
        runner_for(recipe.stage)(recipe, ctx)
        outcome, code = "done", 0
    except Cancelled as exc:
        outcome, message, code = "cancelled", str(exc) or STOPPED, 130
    except BaseException as exc:  # noqa: BLE001 - the job must always record how it ended
        message, hint, bug = describe_failure(exc, run_dir, stage)
        error = Error(message=message, hint=hint)
        if bug:
            with contextlib.suppress(OSError):  # worker.log may be on the disk that is full
                traceback.print_exc()
    if guard.claim_finish():
        _record(ctx, outcome, message, error)
    return code


def describe_failure(exc: BaseException, run_dir: Path, stage: str) -> tuple[str, str | None, bool]:
    """(message, hint, whether the traceback belongs in worker.log) for how a stage failed."""
    from .engine.preflight.disk import disk_full_line, is_disk_full

    if is_disk_full(exc, run_dir):
        from .engine.runs.launcher import RESUMABLE_STAGES

        resume = f"slmw runs resume {run_dir.name}" if stage in RESUMABLE_STAGES else None
        return disk_full_line(exc, run_dir, resume=resume), None, True
    if isinstance(exc, WorkbenchError):
        return exc.message, exc.hint, False
    if isinstance(exc, MemoryError):
        return "out of memory (RAM)", "use a smaller model, batch or sequence length", False
    if isinstance(exc, OSError):
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"{describe_os_error(exc)}{where}", None, True
    return f"{type(exc).__name__}: {exc}", f"see {Run(run_dir).log_path}", True


def run_rank(run_dir: Path, rank: int, local_rank: int) -> int:
    """One process of a multi-process stage (under torchrun): the stage only, no status.

    The driver (the job's own worker) writes ``started``/``finished`` and the status; rank 0
    writes metrics; each machine's local rank 0 writes its events, a failure as an ``error`` event.
    """
    die_with_parent()
    ctx = RunContext(run_dir, rank=rank, local_rank=local_rank)
    stopping.StopGuard(ctx.cancel_requested, rank_child=True, log=lambda line: print(line, flush=True)).install()
    from .config.loading import load_recipe
    from .engine.stages import runner_for

    try:
        recipe = load_recipe(ctx.run.recipe_path)
        runner_for(recipe.stage)(recipe, ctx)
    except Cancelled:
        return 0
    except WorkbenchError as exc:
        ctx.emit(Error(message=exc.message, hint=exc.hint))
        return 1
    return 0


def die_with_parent() -> None:
    """A rank ends when its torchrun does: torchrun starts each rank in a session of its own, so a
    kill -9 of the job's process group would otherwise leave the ranks training on (and a multi-node
    peer would never see this node go)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    rank_child = bool(args) and args[0] == "--rank"
    if rank_child:
        args = args[1:]
    if len(args) != 1:
        print("usage: python -m slm_workbench.worker [--rank] RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0]).resolve()
    if rank_child:
        return run_rank(run_dir, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))
    return run_job(run_dir)


if __name__ == "__main__":
    sys.exit(main())
