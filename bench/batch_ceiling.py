"""The most batching can give on this CPU: one decode step of a batch of N against one answer's.

    python bench/batch_ceiling.py [MODEL:VARIANT] [--threads 1,2] [--batches 1,2,4,8] [--steps 40]

Loads the variant (default ``smollm2-135m-instruct:int8``, built first if need be) in ONNX
Runtime GenAI and times ``generate_next_token`` on a batched ``og.Generator`` (the same prompt
in every row, after 3 warm-up steps), for each thread count and batch size, in one run. A batch
of N decodes N tokens per step, so ``N x step(1) / step(N)`` is what N clients can get over one
client from batching alone; ``slmw deploy bench``'s ratio at N clients also pays the prompts'
prefill and the HTTP path, so it lands below this. Prints the load average before and after.

Measured (SmolLM2-135M int8, 2 shared cores, load 1.1-1.2, 2026-12-07): 1 thread: 9.1 ms a step
alone, 16.1 ms for 4 (2.26x), 22.1 ms for 8 (3.28x); 2 threads: 5.7 / 9.0 / 12.8 ms (2.54x at 4,
3.54x at 8). Through ``slmw deploy bench`` at 4 clients the same day: 1.9-2.1x (1 thread),
2.1-2.2x (2 threads).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "Write a short paragraph about the history of the bicycle."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", nargs="?", default="smollm2-135m-instruct:int8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    import numpy as np
    import onnxruntime_genai as og

    from slm_workbench.engine.chat.locate import resolve_target
    from slm_workbench.engine.chat.variant_build import build_on_demand
    from slm_workbench.engine.models.variants import variant_complete

    target = resolve_target(args.target)
    assert target.kind == "onnx" and target.folder is not None, f"{args.target} is not an ONNX variant"
    if target.variant and not variant_complete(target.folder):
        build_on_demand(args.target.rpartition(":")[0], target.variant, on_status=print)
    print(f"{args.target} ({target.folder}); load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    batches = [int(b) for b in args.batches.split(",")]
    for threads in [int(t) for t in args.threads.split(",")]:
        config = og.Config(str(target.folder))
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
        model = og.Model(config)
        tokenizer = og.Tokenizer(model)
        ids = tokenizer.encode(tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": PROMPT}]),
                                                             add_generation_prompt=True))
        step: dict[int, float] = {}
        for batch in batches:
            params = og.GeneratorParams(model)
            params.set_search_options(batch_size=batch, max_length=len(ids) + args.steps + 8, do_sample=False)
            generator = og.Generator(model, params)
            generator.append_tokens(np.array([ids] * batch, dtype=np.int32))
            for _ in range(3):
                generator.generate_next_token()
            start = time.perf_counter()
            for _ in range(args.steps):
                generator.generate_next_token()
            step[batch] = (time.perf_counter() - start) / args.steps
        one = step.get(1)
        print(f"{threads} thread(s): " + "; ".join(
            f"batch {b}: {1000 * s:.1f} ms a step" + (f", {b * one / s:.2f}x one answer's tokens/s" if one else "")
            for b, s in step.items()))
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
