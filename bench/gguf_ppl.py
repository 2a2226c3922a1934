"""``slmw deploy gguf`` files in llama.cpp itself: perplexity and greedy answers against the workbench's fp32.

    python bench/gguf_ppl.py --llama-python /work/llama-venv/bin/python [--source base|finetuned|both]
                             [--types f16,q8_0,q4_k_m] [--tokens 1024] [--threads 1] [--home DIR]
                             [--from-home DIR] [--readback]

For each source (the built-in SmolLM2-135M-Instruct; the smoke LoRA run, merged) and each type,
the file is written by ``slmw deploy gguf SOURCE --type T`` itself (a job in ``--home``, with
``SLMW_LLAMA_PYTHON`` set: q4_k_m by llama-cpp-python's ``llama_model_quantize``, no llama.cpp
CLI; its ``gguf.json`` records the job's own llama.cpp check on the Foundry check prompts). Then
the file is loaded by llama.cpp in that Python (``engine/deploy/gguf/llama_python.py``, the code
the job uses): its perplexity on the held-out token ids (the compare stage's: the run's eval
split, else the workbench's held-out prose; the same ids for every row) against the workbench's
fp32 perplexity with PyTorch, and its greedy answers to the check prompts (the Foundry check
prompts, the compare stage's agreement prompts and its story prompt; 16 tokens, stopped at EOS)
against the fp32 model's, token by token. Goals: f16 within 0.5%, q8_0 within 1% of fp32;
q4_k_m reported. ``--readback`` adds each file read back by transformers (its tensors with
PyTorch's kernels: layout and rounding, not llama.cpp's arithmetic).

The fine-tuned source is the first finished training run in ``--home`` (``recipes/smoke-lora.yaml``
is trained there once when there is none, ~3 min on 2 cores); ``--from-home DIR`` copies the
newest finished training run of another home instead (read only: DIR is never written).
llama-cpp-python has no wheels and builds in ~9 min: keep it in its own environment (see
``bench/_llama_peer.py`` for the build flags) and pass ``--llama-python``. Not run in CI.

Measured 2026-12-07 07:28-07:37 UTC (llama-cpp-python 0.3.36 built as ``bench/_llama_peer.py`` says,
1 thread, 1024 held-out tokens, 6 check prompts of 16 greedy tokens; 2 shared cores, load average
3.6-5.1 during the run; ``--from-home /tmp/q19 --readback``: the smoke LoRA is run
20261207-043640-train-6eeb, its perplexity on its own eval split; q4_k_m by ``llama_model_quantize``,
no llama.cpp CLI). "read back": the same file's tensors in transformers.

| source | type | MB | perplexity llama.cpp | fp32 | vs fp32 | goal | same first token | same answer | read back |
|---|---|---:|---:|---:|---:|---|---:|---:|---:|
| SmolLM2-135M-Instruct | f16 | 271 | 23.0836 | 23.0867 | -0.014% | met (±0.5%) | 6/6 | 6/6 | 23.0839 |
| SmolLM2-135M-Instruct | q8_0 | 145 | 23.3034 | 23.0867 | +0.938% | met (±1.0%) | 4/6 | 1/6 | 23.1968 |
| SmolLM2-135M-Instruct | q4_k_m | 105 | 24.2857 | 23.0867 | +5.193% | - | 4/6 | 1/6 | 24.3198 |
| smoke LoRA 20261207-043640-train-6eeb | f16 | 271 | 3.4359 | 3.4360 | -0.005% | met (±0.5%) | 6/6 | 6/6 | 3.4359 |
| smoke LoRA 20261207-043640-train-6eeb | q8_0 | 145 | 3.4354 | 3.4360 | -0.017% | met (±1.0%) | 6/6 | 3/6 | 3.4301 |
| smoke LoRA 20261207-043640-train-6eeb | q4_k_m | 105 | 3.6467 | 3.4360 | +6.131% | - | 6/6 | 1/6 | 3.6433 |

The jobs' own checks (gguf.json, the 2 Foundry check prompts): f16 ``identical`` for both sources,
q8_0 and q4_k_m ``loads``. The base model's q8_0 is the tightest: its fp32 weights are the shipped
Q4_1 dequantized, which re-round badly onto Q8_0's grid (+0.48% read back by transformers), and
llama.cpp's q8_0 kernels also round the activations to 8 bits (+0.94%); "What is the capital of
France?" then starts "La" instead of "The" (fp32 logits 24.94 vs 25.33: a 0.38 margin).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
GOALS = {"f16": 0.005, "q8_0": 0.01}
NEW_TOKENS = 16


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def copy_finished_run(from_home: Path, home: Path) -> None:
    """The newest finished training run of ``from_home`` copied into ``home`` (``from_home`` only read)."""
    from slm_workbench.engine.runs.store import RunStore

    runs = [i for i in RunStore(from_home / "runs").list() if i.stage == "train" and i.state == "done"]
    if not runs:
        raise SystemExit(f"--from-home {from_home}: no finished training run in {from_home / 'runs'}")
    newest = max(runs, key=lambda i: i.id)
    target = home / "runs" / newest.id
    if not target.exists():
        shutil.copytree(from_home / "runs" / newest.id, target, symlinks=True)
        print(f"copied run {newest.id} from {from_home}", flush=True)


def deploy(spec: str, qtype: str, out: Path, args: argparse.Namespace) -> dict:
    """``slmw deploy gguf SPEC --type QTYPE -o OUT --json`` as a user runs it; its JSON (gguf.json and more)."""
    if (out / "gguf.json").is_file():
        return {"folder": str(out), **json.loads((out / "gguf.json").read_text()), "reused": True}
    env = dict(os.environ, SLMW_HOME=str(args.home), SLMW_LLAMA_PYTHON=args.llama_python, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "slm_workbench.cli.main", "deploy", "gguf", spec, "--type", qtype,
                           "-o", str(out), "--json"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"slmw deploy gguf {spec} --type {qtype} failed: {done.stderr.strip()[-400:]}")
    result = json.loads(done.stdout)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def bench_source(args: argparse.Namespace, spec: str, title: str) -> list[dict]:
    from transformers import AutoTokenizer

    from slm_workbench.config.deploy_foundry import DEFAULT_PROMPTS
    from slm_workbench.engine.compare.evalset import AGREEMENT_PROMPTS, DEFAULT_PROMPT, build_evalset
    from slm_workbench.engine.deploy.gguf.llama_python import (
        LlamaPython,
        chat_prompt_ids,
        check_in_llama_cpp,
        torch_greedy,
    )
    from slm_workbench.engine.deploy.gguf.stage import resolve_gguf_source
    from slm_workbench.engine.export.merge import merge_adapter

    source = resolve_gguf_source(spec)
    if source.hf_folder is None:
        source = merge_adapter(source)
    evalset = build_evalset(source.hf_folder, source.eval_data, perplexity_tokens=args.tokens)
    ids = evalset.ppl_ids[: args.tokens]
    prompts = list(dict.fromkeys([*DEFAULT_PROMPTS, *AGREEMENT_PROMPTS, DEFAULT_PROMPT]))
    tokenizer = AutoTokenizer.from_pretrained(source.hf_folder)
    eos = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    reference = torch_greedy(source.hf_folder, chat_prompt_ids(tokenizer, prompts), NEW_TOKENS, eos, args.threads)
    fp32 = torch_perplexity(source.hf_folder, ids, args.threads)
    print(f"\n{title}: {len(ids)} held-out tokens of {evalset.name}; fp32 (PyTorch) perplexity {fp32:.4f}; "
          f"{len(prompts)} check prompts; load {load()}", flush=True)
    llama = LlamaPython(args.llama_python, args.llama_version, f"llama-cpp-python {args.llama_version}")
    rows = []
    for qtype in args.types:
        out = args.home / "gguf" / f"{source.name}-{qtype}"
        job = deploy(spec, qtype, out, args)
        gguf = out / "model.gguf"
        check = check_in_llama_cpp(llama, gguf, source.hf_folder, prompts, new_tokens=NEW_TOKENS,
                                   threads=args.threads, ppl_ids=ids, reference=reference)
        if check["verdict"] == "failed":
            raise SystemExit(f"{gguf}: {check['detail']}")
        ppl = check["perplexity"]
        row = {"source": title, "type": qtype, "mb": gguf.stat().st_size / 1e6, "ppl": ppl, "fp32": fp32,
               "diff": ppl / fp32 - 1, "goal": GOALS.get(qtype), "first": check["same_first_token"],
               "same": check["same_answer"], "n": len(prompts), "job_check": job.get("check", {}),
               "quantizer": job.get("quantizer", "-"), "load_s": check.get("load_s"),
               "written_s": job.get("seconds")}
        if args.readback:
            row["readback"] = torch_perplexity(out, ids, args.threads, gguf_file="model.gguf")
        rows.append(row)
        print(f"  {qtype}: {row['mb']:.0f} MB, llama.cpp perplexity {ppl:.4f} ({row['diff']:+.3%}), "
              f"{row['first']}/{row['n']} same first token, {row['same']}/{row['n']} same answer; "
              f"job's check: {row['job_check'].get('verdict')} ({row['job_check'].get('detail')})", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-python", default=os.environ.get("SLMW_LLAMA_PYTHON", sys.executable),
                        help="a Python with llama-cpp-python (default: $SLMW_LLAMA_PYTHON, else this one)")
    parser.add_argument("--source", choices=("base", "finetuned", "both"), default="both")
    parser.add_argument("--types", default="f16,q8_0,q4_k_m")
    parser.add_argument("--tokens", type=int, default=1024, help="held-out tokens scored (one window)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="SLMW_HOME for the jobs (default: a new temp folder)")
    parser.add_argument("--from-home", type=Path, default=None,
                        help="copy the newest finished training run of this home (only read) as the fine-tuned source")
    parser.add_argument("--readback", action="store_true", help="also each file read back by transformers")
    args = parser.parse_args()
    args.types = [t for t in args.types.split(",") if t]
    probe = subprocess.run([args.llama_python, "-I", "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"llama.cpp: not measured (llama-cpp-python is not importable by {args.llama_python}; "
              "pass --llama-python or set SLMW_LLAMA_PYTHON)")
        return 2
    args.llama_version = probe.stdout.strip()
    args.home = (args.home or Path(tempfile.mkdtemp(prefix="gguf-bench-home-"))).resolve()
    (args.home / "runs").mkdir(parents=True, exist_ok=True)
    os.environ["SLMW_HOME"] = str(args.home)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from variants import finetuned_source, smollm2_folder  # the bench home's base model and smoke LoRA run

    print(f"llama-cpp-python {args.llama_version} ({args.llama_python}); home {args.home}; load {load()}", flush=True)
    rows: list[dict] = []
    if args.source in ("base", "both"):
        folder = smollm2_folder(args.home)
        rows += bench_source(args, str(folder), "SmolLM2-135M-Instruct")
    if args.source in ("finetuned", "both"):
        if args.from_home is not None:
            copy_finished_run(args.from_home.resolve(), args.home)
        tuned = finetuned_source(args.home)
        rows += bench_source(args, tuned.run.id, f"smoke LoRA {tuned.run.id}")
    print(f"\nllama.cpp (llama-cpp-python {args.llama_version}, {args.threads} thread(s)) on the workbench's GGUFs; "
          f"load average {load()}")
    print("| source | type | MB | perplexity llama.cpp | fp32 | vs fp32 | goal | same first token | same answer |"
          + (" read back |" if args.readback else ""))
    print("|---|---|---:|---:|---:|---:|---|---:|---:|" + ("---:|" if args.readback else ""))
    met = True
    for r in rows:
        goal = "-" if r["goal"] is None else ("met" if abs(r["diff"]) <= r["goal"] else "NOT met") + f" (±{r['goal']:.1%})"
        met = met and (r["goal"] is None or abs(r["diff"]) <= r["goal"])
        print(f"| {r['source']} | {r['type']} | {r['mb']:.0f} | {r['ppl']:.4f} | {r['fp32']:.4f} | {r['diff']:+.3%} | "
              f"{goal} | {r['first']}/{r['n']} | {r['same']}/{r['n']} |"
              + (f" {r['readback']:.4f} |" if args.readback else ""))
    print("the jobs' own checks (gguf.json, Foundry check prompts): "
          + "; ".join(f"{r['source']} {r['type']}: {r['job_check'].get('verdict')}" for r in rows))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
