"""llama.cpp's perplexity of a ``slmw deploy gguf`` f16 file against the workbench's fp32 model.

    python bench/gguf_ppl.py [SOURCE] [--gguf FILE] [--tokens 1024] [--threads 1] [--llama-python PATH]

SOURCE is a model or a training run (default: the built-in SmolLM2-135M-Instruct); a run's
adapter is merged, as ``slmw deploy gguf`` does. Without ``--gguf`` the f16 file is written here
by the workbench's own writer (models that came from a GGUF). The held-out token ids are the
compare stage's (the run's eval data, else the workbench's held-out prose), the same ids for
both: fp32 perplexity with PyTorch in this process, llama.cpp's through ``bench/_llama_peer.py``
in a Python that has ``llama_cpp`` (llama-cpp-python has no wheels and builds in ~9 min: keep it
in its own environment and pass ``--llama-python``). Goal: within 0.5% of fp32.

Not run in CI. Measured: not yet (no llama-cpp-python on the machine this was written on; the
script prints "not measured" and exits 2 when it is missing).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
GOAL = 0.005


def torch_perplexity(folder: Path, ids: list[int], threads: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    nll = torch.logsumexp(logits, -1) - logits[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    return math.exp(float(nll.mean()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", default="smollm2-135m-instruct")
    parser.add_argument("--gguf", type=Path, default=None, help="an f16 GGUF already written by slmw deploy gguf")
    parser.add_argument("--tokens", type=int, default=1024, help="held-out tokens scored (one window)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--llama-python", default=sys.executable, help="a Python with llama-cpp-python")
    args = parser.parse_args()

    probe = subprocess.run([args.llama_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"not measured: llama-cpp-python is not importable by {args.llama_python} (pass --llama-python)")
        return 2

    from slm_workbench.engine.compare.evalset import build_evalset
    from slm_workbench.engine.deploy.gguf_write import write_like_source
    from slm_workbench.engine.deploy.gguf import origin_of, resolve_gguf_source
    from slm_workbench.engine.export.source import merge_adapter

    source = resolve_gguf_source(args.source)
    if source.hf_folder is None:
        source = merge_adapter(source)
    work = Path(tempfile.mkdtemp(prefix="gguf-ppl-"))
    gguf = args.gguf
    if gguf is None:
        origin = origin_of(source)
        if origin is None:
            print(f"{args.source} did not come from a GGUF: write its f16 file with `slmw deploy gguf` "
                  "(llama.cpp's converter) and pass --gguf")
            return 2
        t0 = time.perf_counter()
        gguf = work / "model-f16.gguf"
        write_like_source(source.hf_folder, origin, gguf, "f16", name=source.name, chat_template=None)
        print(f"f16 GGUF written in {time.perf_counter() - t0:.1f} s: {gguf.stat().st_size / 1e6:,.0f} MB")
    evalset = build_evalset(source.hf_folder, source.eval_data, perplexity_tokens=args.tokens)
    ids = evalset.ppl_ids[: args.tokens]
    fp32 = torch_perplexity(source.hf_folder, ids, args.threads)
    spec = {"gguf": str(gguf), "ids": ids, "prompt_ids": evalset.prompt_ids, "new_tokens": 8, "runs": 1,
            "threads": args.threads, "requantize": ""}
    (work / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([args.llama_python, str(REPO / "bench" / "_llama_peer.py"), str(work / "spec.json"),
                           str(work / "out.json")], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"llama.cpp failed: {done.stderr.strip().splitlines()[-1:]}")
        return 1
    llama = json.loads((work / "out.json").read_text())["perplexity"]
    diff = llama / fp32 - 1
    print(f"{source.spec}: {len(ids)} held-out tokens of {evalset.name}; llama-cpp-python {probe.stdout.strip()}")
    print(f"| model | perplexity | vs fp32 |\n|---|---:|---:|\n| workbench fp32 (PyTorch) | {fp32:.4f} | - |\n"
          f"| llama.cpp f16 GGUF | {llama:.4f} | {diff:+.3%} |")
    print(f"goal |difference| <= {GOAL:.1%}: {'met' if abs(diff) <= GOAL else 'NOT met'}")
    return 0 if abs(diff) <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
