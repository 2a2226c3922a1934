"""Side by side: several backends answer the same conversation (a word diff of two answers:
``engine/textdiff.py``).

Concurrent generation only pays when the hardware has room for it: on a GPU, or a CPU with
cores to spare for each model. On a small CPU two models fight over the same cores and both
look slower than they are, so they answer one after another and each figure stays honest.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .session import answer
from .types import ChatBackend, GenParams, Message, Reply

CORES_PER_MODEL = 4


def can_run_concurrently(n_models: int, *, cpu_count: int | None = None, gpu: bool | None = None) -> bool:
    if gpu is None:
        gpu = _cuda_available()
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return gpu or cores >= CORES_PER_MODEL * n_models


def _cuda_available() -> bool:
    """A CUDA GPU, asked of torch when it is loaded already, else of NVML (never imports torch)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    from .. import system

    return bool(system.gpus())


def answer_all(backends: Sequence[ChatBackend], conversations: Sequence[list[Message]],
               params: GenParams | Sequence[GenParams], *,
               stop: threading.Event | None = None, concurrent: bool | None = None,
               on_text: Callable[[int, str], None] | None = None,
               on_start: Callable[[int], None] | None = None,
               on_done: Callable[[int, Reply], None] | None = None) -> list[Reply]:
    """Each backend answers its own conversation (column ``i`` keeps its own history), with
    ``params`` or its own ``params[i]``."""
    if concurrent is None:
        concurrent = can_run_concurrently(len(backends))

    def one(i: int) -> Reply:
        if on_start is not None:
            on_start(i)
        try:
            reply = answer(backends[i], conversations[i], params if isinstance(params, GenParams) else params[i], stop=stop,
                           on_text=(lambda text: on_text(i, text)) if on_text else None)
        except Exception as exc:  # noqa: BLE001 - one column failing must not lose the others
            reply = Reply(model=backends[i].label, error=str(exc) or type(exc).__name__)
        if on_done is not None:
            on_done(i, reply)
        return reply

    if not concurrent or len(backends) < 2:
        return [one(i) for i in range(len(backends))]
    with ThreadPoolExecutor(max_workers=len(backends), thread_name_prefix="side-by-side") as pool:
        return list(pool.map(one, range(len(backends))))
