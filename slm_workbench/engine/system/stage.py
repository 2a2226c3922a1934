"""Job stage ``system.check``: measure matrix-multiply throughput on the CPU or a GPU.

The first thing to run on a new GPU box: it proves torch sees the device, shows the
throughput a training run can hope for, and exercises the job machinery (progress,
metrics, stop) end to end. Figures go to ``metrics.jsonl`` about once a second.
"""

from __future__ import annotations

import os
import time

from ...config.system import SystemCheckRecipe
from ..runs.context import RunContext


def run(recipe: SystemCheckRecipe, ctx: RunContext) -> None:
    import psutil
    import torch

    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    use_cuda = recipe.device == "cuda" or (recipe.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        from .errors import WorkbenchError

        raise WorkbenchError("system.check: device 'cuda' asked for, but torch sees no CUDA GPU")
    device = torch.device("cuda" if use_cuda else "cpu")
    if recipe.dtype != "auto":
        dtype = getattr(torch, recipe.dtype)
    elif use_cuda and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    else:
        dtype = torch.float32
    name = torch.cuda.get_device_name(device) if use_cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"[system.check] {name}, {dtype}, {recipe.size}x{recipe.size}", flush=True)
    a = torch.randn(recipe.size, recipe.size, device=device, dtype=dtype)
    b = torch.randn(recipe.size, recipe.size, device=device, dtype=dtype)
    flops_per_matmul = 2 * recipe.size**3
    proc = psutil.Process(os.getpid())
    start = time.perf_counter()
    window_start, window_count, step = start, 0, 0
    while (elapsed := time.perf_counter() - start) < recipe.seconds:
        ctx.check_cancelled()
        torch.matmul(a, b)
        window_count += 1
        now = time.perf_counter()
        if now - window_start >= 1.0 or now - start >= recipe.seconds:
            if use_cuda:
                torch.cuda.synchronize()
                now = time.perf_counter()
            step += 1
            tflops = window_count * flops_per_matmul / (now - window_start) / 1e12
            ctx.metrics(
                {
                    "step": step,
                    "tflops": round(tflops, 4),
                    "elapsed_s": round(now - start, 3),
                    "rss_mb": round(proc.memory_info().rss / 1e6, 1),
                    "gpu_mem_mb": round(torch.cuda.memory_allocated() / 1e6, 1) if use_cuda else None,
                }
            )
            ctx.progress("measuring", round(min(elapsed, recipe.seconds), 1), recipe.seconds, "s", f"{tflops:.3f} TFLOP/s on {name}")
            window_start, window_count = now, 0
