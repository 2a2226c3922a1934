"""llama.cpp as a peer for bench/variants.py: ``python bench/_llama_peer.py SPEC.json OUT.json``.

Runs in its own process, with whichever Python has ``llama_cpp`` (llama-cpp-python, optional,
never a dependency of the workbench). Build it with ``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON
-DGGML_FMA=ON -DGGML_F16C=ON"``: 0.3.36 built natively on this AVX-512 machine segfaulted on every
quantized file (Q4_1, Q4_K_M) while f16 worked. SPEC: ``gguf``, ``ids`` (the same held-out token ids
the other variants are scored on), ``prompt_ids``, ``new_tokens``, ``runs``, ``threads``,
``requantize`` (``""`` for the file as is, else a llama.cpp type: ``Q4_K_M``, ``Q4_0`` ...:
the file is re-quantized from its dequantized weights, i.e. from the same fp32 the ONNX
variants are built from). Writes perplexity, decode tok/s (median), TTFT, size and tokens.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q4_K_M": 15, "Q4_K_S": 14, "Q5_K_M": 17, "Q6_K": 18}


def requantize(src: str, kind: str, out_dir: str) -> str:
    import llama_cpp

    dst = os.path.join(out_dir, f"requant-{kind}.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.allow_requantize = True
    params.nthread = 1
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({kind}) returned {rc}")
    return dst


def main() -> int:
    spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
    from llama_cpp import Llama

    path = spec["gguf"]
    scratch = tempfile.mkdtemp(prefix="llama-peer-")
    if spec.get("requantize"):
        path = requantize(path, spec["requantize"], scratch)
    ids = spec["ids"]
    threads = int(spec.get("threads", 1))
    t0 = time.perf_counter()
    llm = Llama(model_path=path, n_ctx=max(len(ids), len(spec["prompt_ids"]) + spec["new_tokens"]) + 8,
                n_threads=threads, n_threads_batch=threads, n_batch=256, logits_all=True, verbose=False)
    load_s = time.perf_counter() - t0
    llm.reset()
    llm.eval(ids)
    scores = np.asarray(llm.scores[: len(ids) - 1], dtype=np.float64)
    peak = scores.max(-1, keepdims=True)
    lse = peak[:, 0] + np.log(np.exp(scores - peak).sum(-1))
    nll = lse - scores[np.arange(len(ids) - 1), ids[1:]]
    ppl = math.exp(float(nll.mean()))
    rates, ttfts, tokens = [], [], []
    for _ in range(int(spec.get("runs", 3))):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(spec["prompt_ids"])
        out = []
        t_first = None
        for _ in range(spec["new_tokens"]):
            logits = np.asarray(llm.scores[llm.n_tokens - 1])
            token = int(logits.argmax())
            out.append(token)
            if t_first is None:
                t_first = time.perf_counter()
            if len(out) == spec["new_tokens"]:
                break
            llm.eval([token])
        end = time.perf_counter()
        ttfts.append(t_first - t0)
        rates.append((len(out) - 1) / (end - t_first))
        tokens = tokens or out
    result = {"perplexity": ppl, "load_s": round(load_s, 3), "decode_tok_s": round(statistics.median(rates), 2),
              "decode_runs_tok_s": [round(r, 2) for r in rates], "ttft_s": round(statistics.median(ttfts), 4),
              "size_mb": round(os.path.getsize(path) / 1e6, 1), "tokens": tokens,
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)}
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
