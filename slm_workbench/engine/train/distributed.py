"""Several training processes on one machine, through torchrun.

The job's worker stays the driver: it writes ``started``/``finished`` and the status, and
runs ``torchrun --standalone --nproc_per_node N -m slm_workbench.worker --rank RUN_DIR``.
Every rank trains; only rank 0 writes metrics, checkpoint and artifact events. torchrun
runs in the job's process group, so a stop reaches every rank at once (each saves at its
next step and leaves), and kill -9 of the group leaves no orphan rank behind.

On CPU the ranks talk over gloo; ``accelerate launch --cpu --num_processes 2`` was measured
to start only one process, which is why torchrun is used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ...config.train import TrainRecipe
from ..errors import Cancelled, WorkbenchError
from ..events import Error, decode_event
from ..runs import store
from ..runs import stopping
from ..runs.context import RunContext
from ..runs.tail import last_lines


RANKS_STOP_GRACE_S = 60.0
"""How long the driver leaves the ranks to save and leave after a stop (torchrun's own shutdown waits 30 s)."""


def torchrun_command(recipe: TrainRecipe, ctx: RunContext) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={recipe.num_processes}",
        "-m", "slm_workbench.worker", "--rank", str(ctx.run_dir),
    ]


def run_distributed(recipe: TrainRecipe, ctx: RunContext) -> None:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(recipe.threads or 1)
    env.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    env["SLMW_RANK_CHILD"] = "1"
    print(f"[train] launching {recipe.num_processes} processes: {' '.join(torchrun_command(recipe, ctx))}", flush=True)
    proc = subprocess.Popen(torchrun_command(recipe, ctx), env=env, cwd=ctx.run_dir)
    # A stop reaches every rank (same process group); each saves at its next step and leaves,
    # and torchrun ends them after its own shutdown timeout: the driver waits for that.
    with stopping.grace(RANKS_STOP_GRACE_S):
        while proc.poll() is None:
            time.sleep(0.5)
    if ctx.cancel_requested.is_set():
        raise Cancelled()
    if proc.returncode != 0:
        message = last_error(ctx) or f"torchrun exited with code {proc.returncode}"
        raise WorkbenchError(f"distributed training failed: {message}", hint=f"see {ctx.run_dir / store.LOG}")


def last_error(ctx: RunContext) -> str | None:
    for line in reversed(last_lines(ctx.run_dir / store.EVENTS, 50)):
        event = decode_event(line)
        if isinstance(event, Error):
            return event.message
    return None
