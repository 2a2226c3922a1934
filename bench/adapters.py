"""Two LoRA adapters over one ONNX base: fp32 against each adapter merged, and the quantized bases' agreement;
with ``--load``, the two adapters served in batches over one int8 base under concurrent clients.

    python bench/adapters.py [--model FOLDER] [--prompts 8] [--tokens 32]
    python bench/adapters.py --load [--clients 1,4,8] [--requests 4] [--tokens 64]

Builds the adapter bases ``lora-fp32``, ``lora-int8`` and ``lora-int4`` of the model (the
built-in SmolLM2-135M-Instruct by default, prepared first), makes two random LoRA adapters
(attention at rank 8; every linear layer at rank 16; B ~ N(0, 0.02) so the answers change
but stay language), and for each adapter and prompt generates greedily:

- PyTorch fp32 with the adapter merged (``merge_and_unload``): the reference;
- each base, loaded once, with the adapter active (``og.Adapters``).

Prints, per base and adapter, the share of answers identical to the reference and the
share of token positions that agree (up to the shorter answer). The fp32 figure is what
tests/engine/deploy/test_adapters.py asserts on the tiny model; the quantized ones are a
report, not a gate.

Measured (SmolLM2-135M-Instruct, 8 prompts x 32 tokens, 2 shared cores at load ~7.5):
lora-fp32 8/8 identical for both adapters (100% of tokens); lora-int8 3/8 and 1/8 identical
(54% and 47% of positions); lora-int4 0/8 (20% and 10%). Positions after the first
difference mostly differ, so the position share undercounts how long answers agree.
Bases: fp32 519 MiB, int8 258 MiB, int4 194 MiB, each built in 23-30 s.

``--load``: the server (``engine/serve``) holds ``lora-int8`` once; clients send greedy
requests whose model alternates between ``lora-int8:ADAPTER1`` and ``lora-int8:ADAPTER2``
(``deploy bench``'s load levels, ``alternate``), and the table of ``slmw deploy bench``
is printed with the aggregate tokens/s at 4 clients over 1 client (the P9 goal: >= 2.5x),
the largest batch seen, the load average and the CPU time per token (what batching saves,
which a loaded machine does not hide: threads in parallel take more of a shared CPU). ``--plain`` serves the same through one
``og.Generator`` per request in parallel threads, as the server did before adapter batches.

Since answers of different adapters share one batch (``serve/adapter_mix.py``), the P9 figure
comes from ``slmw deploy bench MODEL:lora-int8 --adapters A,B`` (a server of its own, clients in
another process; README "Serving"): 151-156 tok/s at 4 clients against 107-110 with a batch per
adapter (1 thread, load 0.8-1.1). The figures below predate mixed batches.

Measured with ``--load`` (SmolLM2-135M-Instruct, lora-int8, 64 tokens, ``parallel`` 4, 2
cores LOADED by other work at load 5.1-6.6; 2026-12-07):
batched 40.3 tok/s at 1 client, 81.0 at 4 (2.01x; goal 2.5x), 7.8 ms of CPU per token at 4
clients against 12.0 at 1; ``--plain`` 29.1 and 57.3 tok/s (1.97x), 12.2 ms of CPU per token
at 4 clients against 12.7 at 1. An earlier batched run at 1, 4, 8 clients (load 6.5-6.9):
31.8, 66.6, 58.7 tok/s (2.10x), 0 errors at 8 clients, TTFT p95 1.19 s at 4. On a loaded
machine the parallel generators' four threads take a larger share of the shared cores, which
the ratio hides and the CPU per token does not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = ["What is the capital of France?", "Name three colours.", "Write a haiku about the sea.",
           "Explain what a CPU does in one sentence.", "Give me a JSON object with a name and a city.",
           "How many legs does a spider have?", "Translate 'good morning' into Spanish.", "What is 12 times 7?",
           "Suggest a name for a cat.", "Why is the sky blue?"]


def make_adapter(model_dir: Path, out: Path, *, seed: int, r: int, targets: list[str] | str) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.02)
    model.save_pretrained(out)
    return out


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="an HF folder (default: the built-in SmolLM2, prepared)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=None, help="tokens per answer (default: 32; 64 with --load)")
    parser.add_argument("--load", action="store_true", help="serve both adapters over lora-int8 under load")
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--plain", action="store_true",
                        help="with --load: serve through parallel og.Generators, as before adapter batches (the baseline)")
    args = parser.parse_args()
    args.tokens = args.tokens or (64 if args.load else 32)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend
    from slm_workbench.engine.chat.types import GenParams, Message
    from slm_workbench.engine.adapters.base import export_lora_base
    from slm_workbench.engine.models.resolve import parse_model

    model_dir = Path(args.model) if args.model else parse_model("smollm2-135m-instruct").require_prepared()
    work = Path(tempfile.mkdtemp(prefix="slmw-bench-adapters-"))
    adapters = {
        "attn-r8": make_adapter(model_dir, work / "attn-r8", seed=1, r=8, targets=["q_proj", "v_proj"]),
        "all-r16": make_adapter(model_dir, work / "all-r16", seed=2, r=16, targets="all-linear"),
    }
    if args.load:
        load_bench(model_dir, work, adapters, args)
        return
    params = GenParams(max_new_tokens=args.tokens)
    prompts = [[Message(role="user", content=p)] for p in PROMPTS[:args.prompts]]

    bases = {}
    for precision in ("fp32", "int8", "int4"):
        start = time.perf_counter()
        bases[precision] = export_lora_base(model_dir, work / f"lora-{precision}", precision=precision,
                                            work_dir=work / "build")
        size = sum(f.stat().st_size for f in bases[precision].iterdir()) / 2**20
        print(f"built lora-{precision}: {time.perf_counter() - start:.0f} s, {size:.0f} MiB")

    fp32 = OnnxGenaiBackend(bases["fp32"], threads=1)
    prompt_ids = [fp32.prompt_ids(p, params) for p in prompts]
    reference = {}
    for name, adapter in adapters.items():
        merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
                                           adapter).merge_and_unload()
        with torch.no_grad():
            reference[name] = [merged.generate(torch.tensor([ids]), max_new_tokens=args.tokens, do_sample=False)
                               [0, len(ids):].tolist() for ids in prompt_ids]
    base_alone = [list(fp32.generate_ids(ids, GenParams(max_new_tokens=args.tokens, adapter=""))) for ids in prompt_ids]
    changed = sum(a != b for a, b in zip(base_alone, reference["attn-r8"]))
    print(f"the adapters change the answer: attn-r8 changes {changed}/{len(prompts)} answers of the base alone")

    print(f"\n{'base':<10} {'adapter':<8} {'identical answers':>18} {'token agreement':>16}")
    for precision, folder in bases.items():
        backend = fp32 if precision == "fp32" else OnnxGenaiBackend(folder, threads=1)
        for name, adapter in adapters.items():
            got = [list(backend.generate_ids(ids, GenParams(max_new_tokens=args.tokens, adapter=str(adapter))))
                   for ids in prompt_ids]
            same = sum(g == r for g, r in zip(got, reference[name]))
            pairs = [(a, b) for g, r in zip(got, reference[name]) for a, b in zip(g, r)]
            agree = sum(a == b for a, b in pairs) / max(1, len(pairs))
            print(f"lora-{precision:<5} {name:<8} {same:>10}/{len(prompts):<7} {agree:>15.1%}")


def load_bench(model_dir: Path, work: Path, adapters: dict[str, Path], args: argparse.Namespace) -> None:
    from slm_workbench.engine.adapters.base import export_lora_base
    from slm_workbench.engine.deploy.bench.load import run_level, table
    from slm_workbench.engine.serve.app import ServerState
    from slm_workbench.engine.serve.pool import ModelPool
    from slm_workbench.engine.serve.request_log import RequestLog
    from slm_workbench.engine.serve.server import Server, bind

    base = export_lora_base(model_dir, work / "lora-int8", precision="int8", work_dir=work / "build")
    if args.plain:  # the baseline: one og.Generator per request, in parallel threads
        from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend
        from slm_workbench.engine.serve.pool import ServedModel, context_length

        plain = OnnxGenaiBackend(base)
        pool = ModelPool([ServedModel("lora-int8", str(base), plain, args.parallel, int(time.time()), context_length(plain))])
    else:
        pool = ModelPool.open([f"lora-int8={base}"], parallel=args.parallel)
    print(f"serving through {type(pool.models['lora-int8'].backend).__name__}")
    names = [f"lora-int8:{path}" for path in adapters.values()]
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    levels = []
    try:
        server = Server(ServerState(pool, RequestLog(work / "requests.jsonl", echo=None)), bind("127.0.0.1", 0))
        with server.in_thread():
            for clients in [int(c) for c in args.clients.split(",")]:
                cpu = time.process_time()
                levels.append(run_level(server.url, "lora-int8", clients, requests=args.requests,
                                        max_tokens=args.tokens, prompt="Write a short paragraph about the history "
                                        "of the bicycle.", deadline=time.monotonic() + 600, api_key_env=None,
                                        server_pid=os.getpid(), alternate=names))
                cpu = time.process_time() - cpu
                tokens = levels[-1].tokens
                print(f"  {clients} clients done, load {os.getloadavg()[0]:.2f}; this process's CPU: {cpu:.1f} s, "
                      f"{1000 * cpu / max(1, tokens):.1f} ms per token (server and clients)", flush=True)
        backend = pool.models["lora-int8"].backend
        print(table(levels))
        by = {lv.clients: lv.tok_s_aggregate for lv in levels}
        if by.get(1) and by.get(4):
            print(f"aggregate tok/s at 4 clients / 1 client: {by[4] / by[1]:.2f}x (goal >= 2.5x)")
        print(f"largest batch: {getattr(backend, 'peak_batch', '-')}; answers in flight at most: "
              f"{getattr(backend, 'peak_rows', '-')}; load after: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        pool.close()


if __name__ == "__main__":
    main()
