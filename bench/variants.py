"""Quantized variants of SmolLM2-135M side by side: size, decode speed, perplexity, agreement.

Everything is measured in this run, through the engine's own ``compare_variants`` (one fresh
process per model, the same token ids for all, 1 thread by default), with ratios against
PyTorch fp32 greedy decoding (the reference):

- the presets: ONNX fp32, int8, int4 (builder RTN), int4-hq (our pass: exact block offsets,
  8-bit embeddings/head), int4-olive (Olive RTN, blocks of 128);
- what was tried on the way to a better int4 (``--explore``): builder int4 asymmetric,
  accuracy level 1, k-quant, lm_head at 8 bits (all through the builder's extra options);
- two int8 paths that look like int8 but are not equal: ``onnxruntime.quantization
  .quantize_dynamic`` per-channel QInt8 (broken on AVX2 without VNNI: it saturates) and
  PyTorch dynamic int8;
- llama.cpp as a peer when llama-cpp-python is importable (by ``--llama-python``, default
  this Python): the shipped Q4_1 GGUF, and Q4_K_M / Q4_0 re-quantized from it (that is, from
  the same fp32 weights), scored on the same token ids.

    .venv/bin/python bench/variants.py [--tokens 2048] [--new-tokens 64] [--runs 3] [--rounds 2]
                                       [--threads 1] [--explore] [--llama-python PATH] [--home DIR]

Builds are kept in ``--home`` (default ``.slmw-test-cache/bench-home``), so a rerun only measures.
Speeds move with the machine's load: the load average is printed with the table.

Measured here (2 AVX2 cores without VNNI, other jobs running, load average 1.7-3.8: speeds are
below a quiet machine's; ``--runs 3 --rounds 2``; the llama.cpp rows run after the rounds):

| variant                    |  MB | decode tok/s | x torch | perplexity |    ppl | same prefix |
|----------------------------|-----|--------------|---------|------------|--------|-------------|
| torch-fp32 (reference)     | 538 |          4.5 |    1.00 |      22.24 |  +0.0% | 64/64       |
| fp32 (builder)             | 544 |          9.4 |    2.09 |      22.24 |  +0.0% | 64/64       |
| int8 (builder)             | 270 |         18.3 |    4.04 |      22.45 |  +1.0% | 41/64       |
| int4 (builder RTN)         |  90 |         39.9 |    8.81 |      29.33 | +31.9% |  0/64       |
| int4-hq (ours)             | 111 |         25.4 |    5.61 |      22.39 |  +0.7% |  7/64       |
| int4-olive                 | 197 |         14.5 |    3.21 |      37.66 | +69.3% |  0/64       |
| qint8-dynamic              | 255 |         26.2 |    5.78 |    4724.01 | BROKEN (212x) | 0/64 |
| torch-dynamic-int8         |   - |          7.9 |    1.74 |      38.00 | +70.9% |  0/64       |
| llama.cpp Q4_1 (shipped)   |  98 |         32.3 |    7.12 |      22.30 |  +0.3% | 19/64       |
| llama.cpp Q4_K_M (requant) | 106 |         39.5 |    8.71 |      23.33 |  +4.9% |  7/64       |
| llama.cpp Q4_0 (requant)   |  92 |         28.4 |    6.27 |      26.45 | +18.9% |  0/64       |

With ``--explore`` (an earlier run, load ~5, so slower): int4-hq-a1 +0.1% at 1.1 tok/s;
builder int4 asymmetric +37.4%, accuracy level 1 +31.1%, k_quant +38.2%, lm_head int8 +19.4%.
llama.cpp's Q4_K_M is not all 4-bit here: 576-wide rows are not a multiple of 256, so 180 of
272 tensors fall back to q5_0 (6.2 bits per weight).

What this says about int4 on this model (fp32 = dequantized Q4_1, so every 4-bit block of the
source is an exact ``scale * q + min``):
- the builder's RTN int4 loses 32% perplexity; none of its options closes the gap: asymmetric
  (uint8 zero points) +37%, k_quant +38%, accuracy level 1 +31%, lm_head at 8 bits +19%;
  asymmetric or lm_head-int8 builds with the default shared embeddings write graphs that do
  not load (0.18), so they need ``shared_embeddings=false`` (and then carry an fp32 embedding);
- int4-hq recovers each block exactly (100% exact blocks): +0.7% with int8 activations
  (accuracy level 4), +0.1% with fp32 activations; that beats llama.cpp's Q4_K_M from the same
  weights (+4.9% here) and meets the +5% goal;
- its price is speed: ~0.64-0.8x the builder int4's decode (the offset ops; see
  ``engine/export/offset_quant.py``), 0.79x llama.cpp Q4_1 in this run: the 1.3x speed goal is
  NOT met (the builder's int4 reached 1.24x llama.cpp Q4_1 here, 1.42x in the issue);
- float zero points in MatMulNBits (the direct way to hold a Q4_1 block) drop onnxruntime 1.31
  to a dequantize-per-call path (~50x slower per MatMul), and 8-bit MatMulNBits at accuracy
  level 1 does too: both are unusable on CPU today.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXPLORED = {
    # name: (builder extra options, note)
    "int4-asym": ({"is_symmetric": "false", "shared_embeddings": "false"}, "builder asymmetric (uint8 zero points)"),
    "int4-acc1": ({"accuracy_level": "1"}, "builder int4, fp32 activations"),
    "int4-kquant": ({"algo_config": "k_quant"}, "builder k_quant"),
    "int4-lm8": ({"matmul_mixed_precision": "last_matmul:int8", "shared_embeddings": "false"},
                 "builder int4, lm_head int8 (embeddings fp32)"),
}
NOTES = {
    "torch-fp32": "reference (PyTorch greedy, KV cache)",
    "fp32": "builder fp32",
    "int8": "builder int8 (MatMulNBits, blocks of 32)",
    "int4": "builder int4 RTN: symmetric, block 32, accuracy level 4",
    "int4-hq": "ours: exact block offsets, 8-bit embeddings/head",
    "int4-hq-a1": "ours, accuracy level 1 (fp32 activations)",
    "int4-olive": "Olive RTN int4, block 128",
    "qint8-dynamic": "quantize_dynamic QInt8 per-channel",
    "torch-dynamic-int8": "PyTorch dynamic int8 (nn.Linear)",
}


def smollm2_folder(home: Path) -> Path:
    from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL
    from slm_workbench.engine.models.gguf_convert import convert_gguf

    cached = REPO / ".slmw-test-cache" / "models" / DEFAULT_MODEL
    if (cached / "config.json").is_file():
        return cached
    folder = home / "models" / DEFAULT_MODEL
    if not (folder / "config.json").is_file():
        builtin = BUILTIN_MODELS[DEFAULT_MODEL]
        convert_gguf(builtin.gguf_path(), folder, display_name=DEFAULT_MODEL, upstream=builtin.upstream)
    return folder


def build_qint8_dynamic(fp32: Path, out: Path) -> Path:
    """ONNX Runtime's dynamic QInt8 per-channel quantization of the fp32 graph, as a GenAI folder."""
    if (out / "genai_config.json").is_file():
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.parent / f".{out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in fp32.iterdir():
        if f.is_file() and not f.name.startswith("model.onnx") and f.name != "slmw_variant.json":
            shutil.copy2(f, tmp / f.name)
    quantize_dynamic(str(fp32 / "model.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], use_external_data_format=True,
                     extra_options={"MatMulConstBOnly": True})
    os.replace(tmp, out)
    return out


def llama_rows(args: argparse.Namespace, evalset, work: Path) -> list[dict]:
    from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL

    python = args.llama_python or sys.executable
    probe = subprocess.run([python, "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("llama.cpp peer: not measured (llama-cpp-python is not importable; pass --llama-python)")
        return []
    print(f"llama.cpp peer: llama-cpp-python {probe.stdout.strip()} ({python})")
    gguf = BUILTIN_MODELS[DEFAULT_MODEL].gguf_path()
    rows = []
    for name, requant in (("llama.cpp Q4_1 (shipped)", ""), ("llama.cpp Q4_K_M (requant)", "Q4_K_M"),
                          ("llama.cpp Q4_0 (requant)", "Q4_0")):
        spec = {"gguf": str(gguf), "ids": evalset.ppl_ids, "prompt_ids": evalset.prompt_ids, "new_tokens": args.new_tokens,
                "runs": args.runs * args.rounds, "threads": args.threads, "requantize": requant}
        spec_path, out_path = work / f"llama-{requant or 'q4_1'}.json", work / f"llama-{requant or 'q4_1'}-out.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        done = subprocess.run([python, str(REPO / "bench" / "_llama_peer.py"), str(spec_path), str(out_path)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{name}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append({"name": name, **json.loads(out_path.read_text())})
    return rows


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2048, help="held-out tokens for perplexity")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3, help="decode runs per model per round")
    parser.add_argument("--rounds", type=int, default=2, help="speed rounds visiting every model in turn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--explore", action="store_true", help="also the builder options tried for a better int4")
    parser.add_argument("--no-olive", action="store_true")
    parser.add_argument("--llama-python", default=None, help="a Python with llama-cpp-python (default: this one)")
    parser.add_argument("--home", type=Path, default=REPO / ".slmw-test-cache" / "bench-home")
    args = parser.parse_args()
    os.environ["SLMW_HOME"] = str(args.home.resolve())
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from slm_workbench.engine.compare.compare import REFERENCE_NAME, CompareSettings, Entry, compare_variants
    from slm_workbench.engine.compare.evalset import build_evalset
    from slm_workbench.engine.compare.judge import agreement, broken_reason
    from slm_workbench.engine.compare.report import write_report
    from slm_workbench.engine.export.export import export_variants
    from slm_workbench.engine.export.presets import PRESETS, resolve_presets
    from slm_workbench.engine.export.source import ExportSource

    started = time.time()
    folder = smollm2_folder(args.home)
    source = ExportSource(str(folder), "model", "smollm2-135m-instruct", folder)
    work = args.home / "work"
    work.mkdir(parents=True, exist_ok=True)
    presets = resolve_presets(["fp32", "int8", "int4", "int4-hq"] + ([] if args.no_olive else ["int4-olive"]))
    NOTES.update({name: note for name, (_, note) in EXPLORED.items()})
    if args.explore:
        presets += resolve_presets(["int4-hq"], accuracy_level=1)  # fp32 activations: the 8-bit head falls off the fast path
        presets += [replace(PRESETS["int4"], name=name, extra=options, description=note)
                    for name, (options, note) in EXPLORED.items()]
    print(f"building {len(presets)} variants (kept in {args.home}) ...", flush=True)
    built = {}
    for preset in presets:  # one at a time: a builder bug in one (see notes) must not stop the others
        try:
            (variant,) = export_variants(source, [preset], work_dir=work / "export", threads=args.threads)
            built[variant.name] = variant.folder
        except Exception as exc:  # noqa: BLE001 - reported in the table
            print(f"  {preset.name}: build failed: {str(exc)[:200]}")
            NOTES[preset.name] = f"BUILD FAILED: {str(exc)[:80]}"
    built["qint8-dynamic"] = build_qint8_dynamic(built["fp32"], source.variant_dir("qint8-dynamic"))
    evalset = build_evalset(folder, None, perplexity_tokens=args.tokens)
    settings = CompareSettings(threads=args.threads, new_tokens=args.new_tokens, decode_runs=args.runs,
                               rounds=args.rounds, perplexity_tokens=args.tokens)
    extra = [Entry("torch-dynamic-int8", "PyTorch dynamic int8", "torch-dynamic-int8", folder, "int8")]
    print(f"measuring {len(built) + 2} models, {args.rounds} round(s) x {args.runs} decode runs ...", flush=True)
    report = compare_variants(source, built, evalset=evalset, work_dir=work / "compare", settings=settings,
                              extra_entries=extra,
                              on_progress=lambda v, phase, d, t: print(f"  {v}: {phase}", flush=True) if phase in ("loading",) else None)
    report.by_name("torch-dynamic-int8").size_mb = None  # quantized in memory at load; nothing on disk
    write_report(report, work / "report")
    ref = report.by_name(REFERENCE_NAME)
    rows = [dict(name=v.name, size_mb=v.size_mb, decode_tok_s=v.decode_tok_s, ttft_s=v.ttft_s, perplexity=v.perplexity,
                 ppl_change=v.ppl_change, agree=v.agreement, broken=v.broken_reason, speedup=v.speedup,
                 note=NOTES.get(v.name, "")) for v in report.variants]
    for peer in llama_rows(args, evalset, work):
        ppl = peer["perplexity"]
        rows.append(dict(name=peer["name"], size_mb=peer["size_mb"], decode_tok_s=peer["decode_tok_s"], ttft_s=peer["ttft_s"],
                         perplexity=ppl, ppl_change=ppl / ref.perplexity - 1,
                         agree=agreement(ref.tokens, peer["tokens"]).as_dict(),
                         broken=broken_reason(ppl, ref.perplexity, peer["tokens"], ref.tokens),
                         speedup=peer["decode_tok_s"] / ref.decode_tok_s if ref.decode_tok_s else None,
                         note="llama.cpp peer"))

    print()
    print(f"SmolLM2-135M-Instruct (fp32 = dequantized from the shipped Q4_1 GGUF); perplexity on {len(evalset.ppl_ids)} "
          f"tokens of {evalset.name}, same ids for all; {args.new_tokens} greedy tokens, median of "
          f"{args.runs * args.rounds} runs over {args.rounds} interleaved round(s); {args.threads} thread(s); "
          f"{report.machine['cpu']}; load average at start {report.machine['load_avg']}, now "
          f"{[round(x, 2) for x in os.getloadavg()]}")
    head = f"| {'variant':28} | {'MB':>5} | {'decode tok/s':>12} | {'x torch':>7} | {'TTFT s':>6} | {'perplexity':>10} | " \
           f"{'ppl':>7} | {'same prefix':>11} | note"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|------")
    for r in rows:
        agree = r["agree"] or {}
        note = f"BROKEN: {r['broken']}" if r["broken"] else r["note"]
        print(f"| {r['name']:28} | {fmt(r['size_mb'], '5.0f')} | {fmt(r['decode_tok_s'], '12.1f')} | "
              f"{fmt(r['speedup'], '7.2f')} | {fmt(r['ttft_s'], '6.3f')} | {fmt(r['perplexity'], '10.2f')} | "
              f"{'-' if r['ppl_change'] is None else format(r['ppl_change'] * 100, '+6.1f') + '%'} | "
              f"{(str(agree.get('same_prefix')) + '/' + str(agree.get('compared'))) if agree else '-':>11} | {note}")
    hq = report.by_name("int4-hq")
    int4 = report.by_name("int4")
    print()
    print(f"goal 1, int4 within +5% perplexity of fp32: int4-hq {hq.ppl_change * 100:+.1f}% "
          f"({'met' if hq.ppl_change <= 0.05 else 'NOT met'}); builder int4 {int4.ppl_change * 100:+.1f}%")
    peer = next((r for r in rows if r["name"].startswith("llama.cpp Q4_1")), None)
    if peer and peer["decode_tok_s"]:
        for v in (hq, int4):
            ratio = v.decode_tok_s / peer["decode_tok_s"]
            print(f"goal 2, decode >= 1.3x llama.cpp Q4_1 at {args.threads} thread(s): {v.name} {ratio:.2f}x "
                  f"({'met' if ratio >= 1.3 else 'NOT met'})")
    else:
        print(f"goal 2 (>= 1.3x llama.cpp Q4_1 decode) not measured here: int4-hq decodes at "
              f"{(hq.decode_tok_s or 0) / (int4.decode_tok_s or 1):.2f}x the builder int4's speed")
    print(f"report: {work / 'report' / 'report.md'}; took {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
