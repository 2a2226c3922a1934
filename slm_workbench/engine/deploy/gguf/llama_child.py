"""Runs inside a Python that has llama-cpp-python: quantize a GGUF, or load one and answer.

Started by ``llama_python.py`` as ``PYTHON -I llama_child.py`` with one JSON request on stdin;
prints one JSON object on its last stdout line. It imports only the standard library, numpy
and ``llama_cpp``, never the workbench: llama-cpp-python builds from source (no wheels) and
lives in an environment of its own.

Requests (``action``):

- ``probe``: ``{"ok", "version"}``.
- ``quantize``: ``src``, ``dst``, ``ftype`` (``Q4_K_M`` ...), ``threads``: llama.cpp's
  ``llama_model_quantize``, the function behind ``llama-quantize``.
- ``check``: ``gguf``, ``prompts`` (token id lists), ``new_tokens``, ``eos`` (ids that end an
  answer), ``ppl_ids`` (optional), ``threads``: the greedy tokens of each prompt (argmax of the
  logits, the ids given as they are: no tokenization here) and the perplexity of ``ppl_ids``.
"""

from __future__ import annotations

import json
import math
import sys
import time

FTYPES = {"F16": 1, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18}
"""llama.cpp's ``llama_ftype`` values (``LLAMA_FTYPE_MOSTLY_*``)."""


def probe(request: dict) -> dict:
    import llama_cpp

    return {"ok": True, "version": llama_cpp.__version__}


def quantize(request: dict) -> dict:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[request["ftype"]]
    params.nthread = int(request.get("threads", 1))
    t0 = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(request["src"].encode(), request["dst"].encode(), params)
    if rc != 0:
        return {"ok": False, "error": f"llama_model_quantize({request['ftype']}) returned {rc}"}
    return {"ok": True, "version": llama_cpp.__version__, "seconds": round(time.perf_counter() - t0, 2)}


def check(request: dict) -> dict:
    import llama_cpp
    import numpy as np

    prompts, ppl_ids = request["prompts"], request.get("ppl_ids") or []
    new_tokens, threads, eos = int(request["new_tokens"]), int(request.get("threads", 1)), set(request.get("eos", []))
    n_ctx = max([len(ppl_ids)] + [len(p) + new_tokens for p in prompts]) + 8
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=request["gguf"], n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                          n_batch=256, logits_all=True, verbose=False)
    load_s = time.perf_counter() - t0
    answers = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        out: list[int] = []
        while len(out) < new_tokens:
            token = int(np.asarray(llm.scores[llm.n_tokens - 1]).argmax())
            out.append(token)
            if token in eos or len(out) == new_tokens:
                break
            llm.eval([token])
        answers.append(out)
    perplexity = None
    if len(ppl_ids) > 1:
        llm.reset()
        llm.eval(ppl_ids)
        scores = np.asarray(llm.scores[: len(ppl_ids) - 1], dtype=np.float64)
        peak = scores.max(-1, keepdims=True)
        lse = peak[:, 0] + np.log(np.exp(scores - peak).sum(-1))
        perplexity = math.exp(float((lse - scores[np.arange(len(ppl_ids) - 1), ppl_ids[1:]]).mean()))
    return {"ok": True, "version": llama_cpp.__version__, "load_s": round(load_s, 3), "answers": answers,
            "perplexity": perplexity, "n_vocab": llm.n_vocab()}


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        result = {"probe": probe, "quantize": quantize, "check": check}[request["action"]](request)
    except ImportError as exc:
        result = {"ok": False, "error": f"{sys.executable} has no llama-cpp-python ({exc})"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
