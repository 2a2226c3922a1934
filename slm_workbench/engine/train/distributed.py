"""Several training processes, on one machine or several, through torchrun.

The job's worker stays the driver: it writes ``started``/``finished`` and the status, and runs
``torchrun … -m slm_workbench.worker --rank RUN_DIR``. Every rank trains; only the global rank 0
writes metrics, checkpoints and artifacts; each machine's first rank writes that machine's events.
torchrun runs in the job's process group and passes a stop on to its ranks (each saves at its
next step and leaves). torchrun starts each rank in a session of its own, so a rank also ends when
its torchrun dies (``worker.die_with_parent``): kill -9 of the group leaves no orphan rank behind.

One machine: ``torchrun --standalone --nproc_per_node N``. On CPU the ranks talk over gloo;
``accelerate launch --cpu --num_processes 2`` was measured to start only one process, which is why
torchrun is used.

Several machines (``num_nodes`` > 1): each runs ``slmw train`` with the same recipe but its own
``node_rank``; each job's torchrun joins the others at ``rdzv_endpoint``. The rendezvous is
torchrun's *static* one (``--rdzv_backend static``): it is the only backend that honours
``--node_rank`` (torch's c10d backend numbers the nodes by their sorted host names and process
ids, ``dynamic_rendezvous.py``), and node 0's local rank 0 must be global rank 0 because that
process owns the run directory. Node 0's torchrun hosts the store at the endpoint; the workers'
process group meets through it (torchrun sets ``MASTER_ADDR``/``MASTER_PORT``/``RANK`` … for
them, so any such variables inherited from the shell are dropped first).

Each machine has its own run directory. Node 0's is the run: metrics, checkpoints, artifacts,
lineage. Another node's holds its status, its events and its ``worker.log``; its title names
the node and the endpoint, so ``slmw runs list`` there says whose run it serves.

A stop on any node is shared at the next optimizer step (``callbacks.StopOnRequest``): every
rank saves the same checkpoint (on node 0) and leaves, and each node's run ends ``cancelled``.
A node that loses its peer (killed, network down) fails with one line naming the endpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ...config.train import TrainRecipe
from ..errors import Cancelled, WorkbenchError
from ..events import Error, Progress
from ..runs import stopping, store
from ..runs.context import RunContext

RANKS_STOP_GRACE_S = 60.0
"""How long the driver leaves the ranks to save and leave after a stop (torchrun's own shutdown waits 30 s)."""
RENDEZVOUS_TIMEOUT_S = 600
"""How long node 0 waits for the other nodes to join (torch's static rendezvous default)."""
INHERITED_DIST_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                      "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT",
                      "TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT",
                      "TORCHELASTIC_MAX_RESTARTS")
"""What torchrun sets for its workers: a value left in the environment (a shell inside another launcher)
must not leak into ours."""


def rendezvous_args(recipe: TrainRecipe) -> list[str]:
    if recipe.num_nodes == 1:
        return ["--standalone"]
    return [f"--nnodes={recipe.num_nodes}", f"--node_rank={recipe.node_rank}", "--rdzv_backend=static",
            f"--rdzv_endpoint={recipe.rdzv_endpoint}", f"--rdzv_id={recipe.rdzv_id}",
            f"--rdzv_conf=timeout={RENDEZVOUS_TIMEOUT_S}"]


def torchrun_command(recipe: TrainRecipe, ctx: RunContext) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", *rendezvous_args(recipe),
        f"--nproc_per_node={recipe.num_processes}", "--max_restarts=0",
        "-m", "slm_workbench.worker", "--rank", str(ctx.run_dir),
    ]


def describe_node(recipe: TrainRecipe) -> str:
    """``node 1 of 2 (rendezvous 10.0.0.1:29500, id slmw)``: what a message about a multi-node run names."""
    return f"node {recipe.node_rank} of {recipe.num_nodes} (rendezvous {recipe.rdzv_endpoint}, id {recipe.rdzv_id})"


def announce_node(recipe: TrainRecipe, ctx: RunContext) -> None:
    """Say in the events which node this is; a node other than 0 also says in its title whose run it serves."""
    if recipe.node_rank == 0:
        said = (f"{describe_node(recipe)}: this run directory holds the run; waiting for the other nodes "
                f"(up to {RENDEZVOUS_TIMEOUT_S // 60} min)")
    else:
        base = ctx.run.status().title or "train"
        tag = f"node {recipe.node_rank}/{recipe.num_nodes} of {recipe.rdzv_endpoint}"
        store.update_status(ctx.run_dir, title=base if tag in base else f"{base} ({tag})")
        said = (f"{describe_node(recipe)}: a worker node; the metrics, checkpoints and artifacts are written on "
                "node 0, this directory keeps this node's status, events and log")
    ctx.emit(Progress(phase="multi-node", done=0, total=None, message=said))  # not throttled: said once


def rank_env(recipe: TrainRecipe) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_DIST_ENV}
    env["OMP_NUM_THREADS"] = str(recipe.threads or 1)
    env.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    env["SLMW_RANK_CHILD"] = "1"
    return env


def run_distributed(recipe: TrainRecipe, ctx: RunContext) -> None:
    if recipe.num_nodes > 1:
        announce_node(recipe, ctx)
    command = torchrun_command(recipe, ctx)
    print(f"[train] launching {recipe.num_processes} processes: {' '.join(command)}", flush=True)
    proc = subprocess.Popen(command, env=rank_env(recipe), cwd=ctx.run_dir)
    # A stop reaches every rank (same process group); each saves at its next step and leaves,
    # and torchrun ends them after its own shutdown timeout: the driver waits for that.
    with stopping.grace(RANKS_STOP_GRACE_S):
        while proc.poll() is None:
            time.sleep(0.5)
    if ctx.cancel_requested.is_set():
        raise Cancelled()
    if ctx.run.status().stop_requested is not None:
        raise Cancelled(f"stopped on another node of the run ({describe_node(recipe)})")
    if proc.returncode != 0:
        raise failure(recipe, ctx, proc.returncode)


def failure(recipe: TrainRecipe, ctx: RunContext, returncode: int) -> WorkbenchError:
    hint = f"see {ctx.run.log_path}"
    message = last_error(ctx)
    if recipe.num_nodes == 1:
        return WorkbenchError(f"distributed training failed: {message or f'torchrun exited with code {returncode}'}",
                              hint=hint)
    if message is None:
        message = (f"torchrun exited with code {returncode}: the nodes did not all join within "
                   f"{RENDEZVOUS_TIMEOUT_S // 60} min, or another node failed")
        hint += " and the other nodes' worker.log"
        return WorkbenchError(f"multi-node training failed on {describe_node(recipe)}: {message}", hint=hint)
    return WorkbenchError(message if "rendezvous" in message else f"{message} ({describe_node(recipe)})", hint=hint)


def last_error(ctx: RunContext) -> str | None:
    for event in reversed(ctx.run.recent_events(50)):
        if isinstance(event, Error):
            return event.message
    return None


MAY_DIFFER = ("node_rank", "model", "data", "threads", "merge", "report_to")
"""Recipe fields that may differ between the nodes: where files are on each machine, its CPU, and what
only node 0 writes. Everything else must be the same, or the nodes would train different things."""
PEER_LOST = ("connection closed by peer", "connection reset by peer", "broken pipe", "connection refused",
             "socket timeout", "timed out", "nccl communicator was aborted", "nccl error", "watchdog")
"""How gloo and NCCL say that another process of the group went away (in the exception's text)."""


def check_nodes_agree(recipe: TrainRecipe, train_rows: int, train_tokens: int) -> None:
    """Every rank compares its recipe and training data with rank 0's (one all-gather before training)."""
    import torch.distributed as dist

    mine = {"recipe": recipe.model_dump(exclude=set(MAY_DIFFER)), "data": (train_rows, train_tokens)}
    every: list[dict | None] = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    first = every[0] or {}
    for rank, other in enumerate(every):
        if other is None or other == first:
            continue
        node = rank // recipe.num_processes
        fields = sorted(k for k in first["recipe"] if first["recipe"][k] != other["recipe"].get(k))
        what = (", ".join(f"{k} {other['recipe'].get(k)!r} vs {first['recipe'][k]!r}" for k in fields)
                or "training data {} rows / {} tokens vs {} / {}".format(*other["data"], *first["data"]))
        raise WorkbenchError(f"node {node} does not train what node 0 does ({what}; {describe_node(recipe)})",
                             hint="start every node with the same recipe and data; only node_rank differs")


def lost_peer(exc: BaseException, recipe: TrainRecipe) -> WorkbenchError | None:
    """A one-line error when ``exc`` says another node of the run went away, else None."""
    import torch.distributed as dist

    if not isinstance(exc, getattr(dist, "DistError", ())) and not any(p in str(exc).lower() for p in PEER_LOST):
        return None
    return WorkbenchError(
        f"{describe_node(recipe)} lost contact with the other nodes: one was killed or failed, "
        f"or the network between them broke",
        hint="see worker.log on every node; node 0's run keeps its last checkpoint",
    )
