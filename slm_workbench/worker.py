"""Job process entry point: ``python -m slm_workbench.worker RUN_DIR``.

The launcher starts this in its own session (no controlling terminal, its own process
group), so it outlives the TUI, the CLI and an SSH drop. It loads the run's recipe, runs
the stage, and writes ``started`` ... ``finished`` to ``events.jsonl`` and the state to
``status.json``. SIGTERM/SIGINT ask the stage to stop at its next check (a second one
stops at once); the run then ends ``cancelled``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from .engine.errors import Cancelled, WorkbenchError
from .engine.events import Error, Finished, Started
from .engine.paths import describe_os_error
from .engine.runs import store
from .engine.runs.context import RunContext


def _install_signal_handlers(ctx: RunContext, *, rank_child: bool = False) -> None:
    def on_stop(signum: int, _frame: object) -> None:
        # A rank under torchrun gets SIGTERM twice (the group's, then torchrun's own): both
        # mean "save at the next step and leave"; only a second SIGINT stops it at once.
        if ctx.cancel_requested.is_set() and not (rank_child and signum == signal.SIGTERM):
            raise Cancelled()
        ctx.cancel_requested.set()
        print(f"[worker] received {signal.Signals(signum).name}: stopping at the next safe point", flush=True)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def run_job(run_dir: Path, rank: int = 0) -> int:
    ctx = RunContext(run_dir, rank=rank)
    _install_signal_handlers(ctx)  # first: a stop in the first moments still ends `cancelled`
    import psutil

    from .config.loading import load_recipe
    from .engine.stages import runner_for

    status = store.update_status(
        run_dir,
        state="running",
        pid=os.getpid(),
        pgid=os.getpgid(0),
        host=socket.gethostname(),
        proc_start=psutil.Process().create_time(),
        started=time.time(),
    ) if ctx.writes else None
    outcome, message, code = "failed", "", 1
    try:
        recipe = load_recipe(run_dir / store.RECIPE)
        ctx.emit(Started(stage=recipe.stage, pid=os.getpid(), host=socket.gethostname()))
        runner_for(recipe.stage)(recipe, ctx)
        outcome, code = "done", 0
    except Cancelled:
        outcome, message, code = "cancelled", "stopped by the user", 130
    except WorkbenchError as exc:
        message = exc.message
        ctx.emit(Error(message=exc.message, hint=exc.hint))
    except MemoryError:
        message = "out of memory (RAM)"
        ctx.emit(Error(message=message, hint="use a smaller model, batch or sequence length"))
    except OSError as exc:
        where = f" writing {exc.filename}" if exc.filename else ""
        message = f"{describe_os_error(exc)}{where}"
        ctx.emit(Error(message=message))
        traceback.print_exc()
    except BaseException as exc:  # noqa: BLE001 - the job must always record how it ended
        message = f"{type(exc).__name__}: {exc}"
        ctx.emit(Error(message=message, hint=f"see {run_dir / store.LOG}"))
        traceback.print_exc()
    ctx.emit(Finished(outcome=outcome, message=message))  # type: ignore[arg-type]
    if status is not None:
        store.update_status(run_dir, state=outcome, ended=time.time(), message=message)
    sys.stdout.flush()
    return code


def run_rank(run_dir: Path, rank: int) -> int:
    """One process of a multi-process stage (under torchrun): the stage only, no status.

    The driver (the job's own worker) writes ``started``/``finished`` and the status; rank 0
    writes metrics and events; a failure is written as an ``error`` event by rank 0.
    """
    ctx = RunContext(run_dir, rank=rank)
    _install_signal_handlers(ctx, rank_child=True)
    from .config.loading import load_recipe
    from .engine.stages import runner_for

    try:
        recipe = load_recipe(run_dir / store.RECIPE)
        runner_for(recipe.stage)(recipe, ctx)
    except Cancelled:
        return 0
    except WorkbenchError as exc:
        ctx.emit(Error(message=exc.message, hint=exc.hint))
        return 1
    return 0


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
        return run_rank(run_dir, int(os.environ.get("RANK", "0")))
    return run_job(run_dir)


if __name__ == "__main__":
    sys.exit(main())
