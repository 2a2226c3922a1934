"""Chat speed: each backend's tokens/s on SmolLM2 against the raw library call, and the
TUI's keypress-to-screen latency while a model streams.

1. Throughput, same process, same thread count (1), interleaved runs, medians. Each
   backend answers a long prompt greedily through ``session.answer`` (the path the CLI and
   the TUI use); the baseline is the library alone producing the same tokens:
   - transformers: ``model.generate`` (prompt rendering and tokenization included);
   - onnx (int4 variant): the bare ``og.Generator`` loop, no detokenization;
   - http: ``slmw serve`` of the int4 variant in a subprocess, read by ``HttpBackend``,
     against the bare og loop in-process (what serving costs end to end).
   tokens/s here is tokens over the whole answer time (first token included), both sides;
   the ratio is the median of the per-pair ratios (each pair runs back to back, order alternating).
2. Latency: the real ``slmw`` in a 120x40 pty; the Chat pane streams a long answer while a
   key is typed every ~100 ms into the prompt; each sample is the time from writing the key
   to the pty until the typed character is on the terminal output.

   With ``--load``, two jobs run beside the TUI the whole time (started by the bench, stopped
   after): a LoRA training with 2 threads and a comparison (reference + int4), both on SmolLM2.

    .venv/bin/python bench/chat.py [--runs 3] [--tokens 128] [--keys 40]
    .venv/bin/python bench/chat.py --skip-throughput --load     # the latency goal: p95 <= 50 ms
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
PROMPT = "Write a long story about a dragon who learns to bake bread. Describe every step."
MESSAGES = [{"role": "user", "content": PROMPT}]


def model_folders() -> tuple[Path, Path]:
    """SmolLM2's HF folder and its int4 variant: the test cache's (tests build it), else the
    prepared built-in model and its variant in the workbench home (built now if missing)."""
    cache = Path(os.environ.get("SLMW_TEST_CACHE", REPO / ".slmw-test-cache"))
    hf, int4 = cache / "models" / "smollm2-135m-instruct", cache / "variants" / "smollm2-135m-instruct" / "int4"
    if (hf / "config.json").is_file() and (int4 / "genai_config.json").is_file():
        return hf, int4
    from slm_workbench.engine.chat.locate import resolve_target
    from slm_workbench.engine.chat.variant_build import build_on_demand

    hf = resolve_target("smollm2-135m-instruct").folder  # raises with the `slmw models prepare` hint
    int4 = resolve_target("smollm2-135m-instruct:int4").folder
    if not (int4 / "genai_config.json").is_file():
        print("building the int4 variant once (slmw export)…", flush=True)
        build_on_demand("smollm2-135m-instruct", "int4")
    return hf, int4


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_transformers(backend, n: int) -> None:
    import torch

    tok = backend.tokenizer
    text = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        out = backend.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                                     pad_token_id=tok.eos_token_id)
    assert out.shape[1] - ids.shape[1] == n


def raw_og(backend, n: int) -> None:
    import json

    import onnxruntime_genai as og

    tokenizer, model = backend.tokenizer, backend.model
    ids = tokenizer.encode(tokenizer.apply_chat_template(json.dumps(MESSAGES), add_generation_prompt=True))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + n, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(ids)
    count = 0
    while not generator.is_done():
        generator.generate_next_token()
        generator.get_next_tokens()
        count += 1
    assert count == n, (count, n)


def compare(name: str, backend, raw, baseline_backend, runs: int, n_tokens: int) -> tuple[float, float]:
    from slm_workbench.engine.chat.session import answer
    from slm_workbench.engine.chat.types import GenParams

    params = GenParams(max_new_tokens=n_tokens)
    answer(backend, MESSAGES, params)  # warm-up, not counted
    ours, base = [], []
    n = answer(backend, MESSAGES, params).tokens
    for i in range(runs):  # alternate which goes first, so drift in machine load hits both
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            if side == 0:
                reply = answer(backend, MESSAGES, params)
                assert reply.tokens == n
                ours.append(reply.tokens / reply.seconds)
            else:
                base.append(n / timed(lambda: raw(baseline_backend, n)))
    mine, theirs = statistics.median(ours), statistics.median(base)
    ratio = statistics.median(o / b for o, b in zip(ours, base))  # paired: each pair ran back to back
    print(f"  {name:13} {mine:7.1f} tok/s   raw library {theirs:7.1f} tok/s   ratio {ratio:.3f} (goal >= 0.95)  "
          f"({n} tokens; runs: {', '.join(f'{o:.1f}/{b:.1f}' for o, b in zip(ours, base))})", flush=True)
    return mine, theirs


def start_server(folder: Path):
    import re
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "slm_workbench", "serve", str(folder), "--port", "0",
                             "--threads", "1", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    match = re.search(r"at (http://\S+/v1)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"slmw serve did not start: {line!r}")
    return proc, match.group(1)


def throughput(hf: Path, int4: Path, runs: int, n_tokens: int) -> None:
    from slm_workbench.engine.chat.hf_backend import TransformersBackend
    from slm_workbench.engine.chat.http_backend import HttpBackend
    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend

    print(f"tokens/s on SmolLM2-135M-Instruct, 1 thread, greedy, {runs} interleaved runs (median):", flush=True)
    hf_backend = TransformersBackend(hf, threads=1)
    compare("transformers", hf_backend, raw_transformers, hf_backend, runs, n_tokens)
    hf_backend.close()
    og_backend = OnnxGenaiBackend(int4, threads=1)
    compare("onnx int4", og_backend, raw_og, og_backend, runs, n_tokens)
    proc, url = start_server(int4)
    try:
        compare("http (serve)", HttpBackend(url), raw_og, og_backend, runs, n_tokens)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start_load(hf: Path, int4: Path) -> list[Path]:
    """A 2-thread training and a comparison, as detached jobs in this bench's workbench home."""
    from slm_workbench.config.export import CompareRecipe
    from slm_workbench.config.train import TrainRecipe
    from slm_workbench.engine.model_source import resolve_source
    from slm_workbench.engine.paths import home
    from slm_workbench.engine.runs.launcher import start_recipe

    variants = home() / "variants" / resolve_source(str(hf)).name
    variants.mkdir(parents=True, exist_ok=True)
    if not (variants / "int4").exists():
        (variants / "int4").symlink_to(int4, target_is_directory=True)  # measured, not rebuilt
    train = TrainRecipe(model=str(hf), data="slmw:demo", method="lora", max_steps=100_000, batch_size=2, max_length=256,
                        eval_fraction=0.0, save_steps=100_000, logging_steps=1, threads=2)
    compare = CompareRecipe(model=str(hf), variants=["int4"], threads=1, decode_runs=50, rounds=10)
    runs = [start_recipe(train, title="bench load: training, 2 threads")]
    try:
        runs.append(start_recipe(compare, title="bench load: comparison"))
        metrics, deadline = runs[0] / "metrics.jsonl", time.monotonic() + 180
        while time.monotonic() < deadline and not (metrics.is_file() and metrics.stat().st_size):
            time.sleep(1)  # until the training has loaded its model and is stepping
    except BaseException:
        stop_load(runs)
        raise
    return runs


def stop_load(runs: list[Path]) -> None:
    from slm_workbench.engine.errors import WorkbenchError
    from slm_workbench.engine.runs.launcher import stop_job, wait_for
    from slm_workbench.engine.runs.store import RunStore

    for run_dir in runs:
        info = RunStore(run_dir.parent).info(run_dir)
        try:
            stop_job(info)
        except WorkbenchError:
            pass  # already ended
    for run_dir in runs:
        info = wait_for(run_dir, timeout=60)
        print(f"  load job {run_dir.name}: {info.state}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--keys", type=int, default=40, help="keypresses sampled per backend")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--load", action="store_true",
                        help="run a 2-thread training and a comparison beside the TUI while measuring latency")
    args = parser.parse_args()
    hf, int4 = model_folders()
    os.environ["SLMW_HOME"] = tempfile.mkdtemp(prefix="slmw-bench-chat-")  # the TUI's history: thrown away
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work shares the CPU)", flush=True)
    if not args.skip_throughput:
        throughput(hf, int4, args.runs, args.tokens)
    if not args.skip_latency:
        from chat_latency import latency  # bench/chat_latency.py

        load = start_load(hf, int4) if args.load else []
        try:
            beside = " beside a 2-thread training and a comparison" if load else ""
            print(f"keypress-to-screen latency in the TUI while a model streams{beside} (120x40 pty, {args.keys} keys; "
                  f"load average {os.getloadavg()[0]:.2f}):", flush=True)
            for name, spec in (("transformers", hf), ("onnx int4", int4)):
                latency(name, str(spec), args.keys)
        finally:
            stop_load(load)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
