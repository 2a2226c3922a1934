"""Dataset preparation throughput, and time to first preview of a 1 GB JSONL file.

1. ``prepare`` on N generated chat rows (default 100,000) against the plain way to tokenize
   a chat dataset with ``datasets``, measured in the same run on the same file:
   ``load_dataset("json")`` -> ``map(apply_chat_template(..., tokenize=True), batched=True)``
   -> ``save_to_disk``. The workbench does more in its pass (checks every row, computes
   the loss mask, dedupes, hashes the file, splits, writes a manifest); the goal is at
   least 0.9x the baseline's rows/s. Runs alternate; medians are compared.
2. Time to the first 20 rows of a generated 1 GB JSONL: ``preview()`` in-process, and a
   cold ``python -c`` that imports the engine and previews (what a fresh CLI pays),
   against ``datasets`` streaming (``load_dataset(..., streaming=True).take(20)``). Goal:
   under 1 s.

    .venv/bin/python bench/data.py [--rows 100000] [--gb 1] [--runs 3] [--model M]

Single process throughout (no ``num_proc``), TOKENIZERS_PARALLELISM left to its default.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

WORDS = ("the a model data token train small language answer question city river number code test value time "
         "world light water energy system memory learn write read build check simple clear fast slow good best "
         "first last next every many some other about between through under over before after while").split()


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(lo, hi))
    return " ".join(words).capitalize() + rng.choice(".?!")


def chat_row(rng: random.Random, i: int) -> dict:
    messages = [{"role": "system", "content": "You are a concise assistant."}] if rng.random() < 0.2 else []
    for _ in range(2 if rng.random() < 0.1 else 1):
        messages.append({"role": "user", "content": f"Q{i}: " + sentence(rng, 5, 40)})
        messages.append({"role": "assistant", "content": " ".join(sentence(rng, 5, 25) for _ in range(rng.randint(1, 4)))})
    return {"messages": messages}


def write_rows(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(chat_row(rng, i)) + "\n")


def write_big(path: Path, gigabytes: float) -> int:
    rng = random.Random(1)
    block = "".join(json.dumps(chat_row(rng, i)) + "\n" for i in range(4000)).encode()
    target, written = int(gigabytes * 1e9), 0
    with open(path, "wb") as fh:
        while written < target:
            fh.write(block)
            written += len(block)
    return written


def run_workbench(src: Path, out: Path, model: str) -> float:
    from slm_workbench.config.recipes import PrepareDataRecipe
    from slm_workbench.engine.data import prepare_dataset

    recipe = PrepareDataRecipe(source=str(src), output=str(out), model=model, max_length=4096, overwrite=True)
    start = time.perf_counter()
    result = prepare_dataset(recipe)
    seconds = time.perf_counter() - start
    assert result.train_rows + result.eval_rows > 0
    return seconds


def run_baseline(src: Path, out: Path, cache: Path, model: str) -> tuple[float, float]:
    import datasets

    from slm_workbench.engine.data import load_tokenizer

    tok = load_tokenizer(model)
    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    ds = datasets.load_dataset("json", data_files=str(src), split="train", cache_dir=str(cache))
    t_map = time.perf_counter()
    mapped = ds.map(lambda b: tok.apply_chat_template(b["messages"], tokenize=True, return_dict=True), batched=True)
    map_seconds = time.perf_counter() - t_map
    mapped.save_to_disk(str(out))
    return time.perf_counter() - start, map_seconds


def bench_prepare(tmp: Path, rows: int, runs: int, model: str) -> None:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    src = tmp / "rows.jsonl"
    write_rows(src, rows)
    print(f"prepare: {rows:,} generated chat rows ({src.stat().st_size / 1e6:.1f} MB), {runs} runs each, alternating")
    from slm_workbench.engine.data import load_tokenizer

    load_tokenizer(model)  # both sides start with the tokenizer loaded
    ours, base, base_map = [], [], []
    for k in range(runs):
        total, map_s = run_baseline(src, tmp / f"base-{k}", tmp / "hf-cache", model)
        base.append(total)
        base_map.append(map_s)
        ours.append(run_workbench(src, tmp / f"ours-{k}", model))
        shutil.rmtree(tmp / f"base-{k}", ignore_errors=True)
        shutil.rmtree(tmp / f"ours-{k}", ignore_errors=True)
        print(f"  run {k + 1}: workbench {ours[-1]:.2f} s, baseline {base[-1]:.2f} s (map {map_s:.2f} s)")
    o, b, m = statistics.median(ours), statistics.median(base), statistics.median(base_map)
    print(f"  workbench prepare (check + mask + dedupe + hash + split + write): {rows / o:,.0f} rows/s (median {o:.2f} s)")
    print(f"  baseline load_dataset + map(apply_chat_template) + save_to_disk: {rows / b:,.0f} rows/s (median {b:.2f} s; "
          f"the map alone {rows / m:,.0f} rows/s)")
    print(f"  ratio workbench / baseline: {b / o:.2f}x (goal >= 0.9x)")


PREVIEW_CODE = ("import time, sys; t = time.perf_counter(); from slm_workbench.engine.data import preview; "
                "p = preview(sys.argv[1], 20); assert len(p.rows) == 20; print(time.perf_counter() - t)")


def bench_preview(tmp: Path, gigabytes: float, runs: int) -> None:
    import datasets

    from slm_workbench.engine.data import preview

    big = tmp / "big.jsonl"
    start = time.perf_counter()
    size = write_big(big, gigabytes)
    print(f"preview: {size / 1e9:.2f} GB JSONL written in {time.perf_counter() - start:.1f} s; first 20 rows, {runs} runs")
    inproc, cold, cold_inner, streaming = [], [], [], []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(runs):
        t = time.perf_counter()
        assert len(preview(str(big), 20).rows) == 20
        inproc.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PREVIEW_CODE, str(big)], capture_output=True, text=True, env=env, check=True)
        cold.append(time.perf_counter() - t)
        cold_inner.append(float(out.stdout.strip()))
        t = time.perf_counter()
        rows = list(datasets.load_dataset("json", data_files=str(big), split="train", streaming=True).take(20))
        streaming.append(time.perf_counter() - t)
        assert len(rows) == 20
    med = statistics.median
    print(f"  preview() in-process: median {med(inproc) * 1000:.1f} ms")
    print(f"  cold process (python start + engine import + preview): median {med(cold):.3f} s "
          f"(import + preview inside it {med(cold_inner):.3f} s)")
    print(f"  datasets streaming take(20), datasets already imported: median {med(streaming):.3f} s")
    print(f"  ratio streaming / preview(): {med(streaming) / med(inproc):.0f}x; goal < 1 s: "
          f"{'met' if med(cold) < 1 else 'NOT met'} (cold {med(cold):.3f} s)")


def default_model() -> str:
    from slm_workbench.engine.models.resolve import parse_model

    ref = parse_model(None)
    if ref.prepared:
        return str(ref.folder)
    cache = REPO / ".slmw-test-cache" / "models" / ref.name
    if (cache / "tokenizer.json").is_file():
        return str(cache)
    raise SystemExit(f"the built-in model is not prepared: run `slmw models prepare {ref.name}`, or pass --model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", help="model or tokenizer folder (default: the built-in SmolLM2)")
    parser.add_argument("--skip", choices=["prepare", "preview"], action="append", default=[])
    args = parser.parse_args()
    model = args.model or default_model()
    with tempfile.TemporaryDirectory(prefix="slmw-bench-data-") as tmp:
        if "prepare" not in args.skip:
            bench_prepare(Path(tmp), args.rows, args.runs, model)
        if "preview" not in args.skip:
            bench_preview(Path(tmp), args.gb, max(args.runs, 5))


if __name__ == "__main__":
    main()
