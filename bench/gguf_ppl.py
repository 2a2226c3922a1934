"""llama.cpp's perplexity of a ``slmw deploy gguf`` f16 file against the workbench's fp32 model.

    python bench/gguf_ppl.py [SOURCE] [--gguf FILE] [--tokens 1024] [--threads 1] [--llama-python PATH]

SOURCE is a model or a training run (default: the built-in SmolLM2-135M-Instruct); a run's
adapter is merged, as ``slmw deploy gguf`` does. Without ``--gguf`` the f16 file is written here
by the workbench's own writer (models that came from a GGUF). The held-out token ids are the
compare stage's (the run's eval data, else the workbench's held-out prose), the same ids for
both: fp32 perplexity with PyTorch in this process, llama.cpp's through ``bench/_llama_peer.py``
in a Python that has ``llama_cpp`` (llama-cpp-python has no wheels and builds in ~9 min: keep it
in its own environment and pass ``--llama-python``). Goal: within 0.5% of fp32.

Every run also scores each GGUF read back by transformers (the file's tensors with PyTorch's
kernels: layout, permutation and rounding, not llama.cpp's arithmetic). Not run in CI.
Without llama-cpp-python the llama.cpp row says "not measured" and the script exits 2.

Measured (2026-12-01, 2 shared cores, load ~7.8; SmolLM2-135M-Instruct, 1024 tokens of
heldout.txt; ``--types f16,q8_0``): fp32 23.0867; f16 read back 23.0839 (-0.012%); q8_0 read
back 23.1968 (+0.477%); files 271 MB / 145 MB written in 7.7 s / 6.8 s. llama.cpp: not
measured (llama-cpp-python is not built on this machine).
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


def torch_perplexity(folder: Path, ids: list[int], threads: int, gguf_file: str | None = None) -> float:
    """Perplexity of the HF folder, or (``gguf_file``) of the GGUF's tensors read back by transformers."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32).eval()
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
    parser.add_argument("--types", default="f16", help="GGUF types written and read back (f16,q8_0)")
    args = parser.parse_args()
    probe = subprocess.run([args.llama_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                           capture_output=True, text=True)
    has_llama = probe.returncode == 0

    from slm_workbench.engine.compare.evalset import build_evalset
    from slm_workbench.engine.deploy.gguf.write import write_like_source
    from slm_workbench.engine.deploy.gguf.stage import origin_of, resolve_gguf_source
    from slm_workbench.engine.export.merge import merge_adapter

    source = resolve_gguf_source(args.source)
    if source.hf_folder is None:
        source = merge_adapter(source)
    work = Path(tempfile.mkdtemp(prefix="gguf-ppl-"))
    files: dict[str, Path] = {}
    if args.gguf is not None:
        files["given"] = args.gguf
    else:
        origin = origin_of(source)
        if origin is None:
            print(f"{args.source} did not come from a GGUF: write its f16 file with `slmw deploy gguf` "
                  "(llama.cpp's converter) and pass --gguf")
            return 2
        for qtype in args.types.split(","):
            t0 = time.perf_counter()
            files[qtype] = work / f"model-{qtype}.gguf"
            write_like_source(source.hf_folder, origin, files[qtype], qtype, name=source.name, chat_template=None)
            print(f"{qtype} GGUF written in {time.perf_counter() - t0:.1f} s: {files[qtype].stat().st_size / 1e6:,.0f} MB")
    evalset = build_evalset(source.hf_folder, source.eval_data, perplexity_tokens=args.tokens)
    ids = evalset.ppl_ids[: args.tokens]
    fp32 = torch_perplexity(source.hf_folder, ids, args.threads)
    rows = [("workbench fp32 (PyTorch)", fp32)]
    for kind, path in files.items():
        rows.append((f"{kind} GGUF read back by transformers (its tensors, PyTorch kernels)",
                     torch_perplexity(path.parent, ids, args.threads, gguf_file=path.name)))
    llama = None
    if has_llama:
        path = files.get("f16", files.get("given"))
        spec = {"gguf": str(path), "ids": ids, "prompt_ids": evalset.prompt_ids, "new_tokens": 8, "runs": 1,
                "threads": args.threads, "requantize": ""}
        (work / "spec.json").write_text(json.dumps(spec))
        done = subprocess.run([args.llama_python, str(REPO / "bench" / "_llama_peer.py"), str(work / "spec.json"),
                               str(work / "out.json")], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"llama.cpp failed: {done.stderr.strip().splitlines()[-1:]}")
            return 1
        llama = json.loads((work / "out.json").read_text())["perplexity"]
        rows.append((f"{path.name} in llama.cpp (llama-cpp-python {probe.stdout.strip()})", llama))
    print(f"{source.spec}: {len(ids)} held-out tokens of {evalset.name}, the same ids for every row")
    print("| model | perplexity | vs fp32 |\n|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.4f} | {'-' if value is fp32 else f'{value / fp32 - 1:+.3%}'} |")
    if llama is None:
        print(f"llama.cpp: not measured (llama-cpp-python is not importable by {args.llama_python}; pass --llama-python)")
        return 2
    diff = llama / fp32 - 1
    print(f"goal: llama.cpp's f16 within {GOAL:.1%} of fp32: {'met' if abs(diff) <= GOAL else 'NOT met'} ({diff:+.3%})")
    return 0 if abs(diff) <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
