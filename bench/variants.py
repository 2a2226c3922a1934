"""Quantized variants of SmolLM2-135M side by side: size, decode speed, perplexity, agreement.

Everything is measured in this run, through the engine's own ``compare_variants`` (one fresh
process per model, the same token ids for all, 1 thread by default), with ratios against
PyTorch fp32 greedy decoding (the reference):

- the presets: ONNX fp32, int8, int4 (builder RTN), int4-hq (our pass: exact block offsets
  folded into one MatMulNBits, 8-bit embeddings/head), int4-olive (Olive RTN, blocks of 128);
- what was tried on the way to a better int4 (``--explore``): builder int4 asymmetric,
  accuracy level 1, k-quant, lm_head at 8 bits (all through the builder's extra options);
- two int8 paths that look like int8 but are not equal: ``onnxruntime.quantization
  .quantize_dynamic`` per-channel QInt8 (broken on AVX2 without VNNI: it saturates) and
  PyTorch dynamic int8;
- llama.cpp as a peer when llama-cpp-python is importable (by ``--llama-python``, default
  this Python): the shipped Q4_1 GGUF, and Q4_K_M / Q4_0 re-quantized from it (that is, from
  the same fp32 weights), scored on the same token ids; their decode runs are taken once per
  round, interleaved with the ONNX rounds (before each round's reference).

    .venv/bin/python bench/variants.py [--tokens 2048] [--new-tokens 64] [--runs 3] [--rounds 2]
                                       [--threads 1] [--explore] [--llama-python PATH] [--home DIR]
                                       [--variants int4,int4-hq] [--peers Q4_1] [--prebuilt NAME=FOLDER]
                                       [--source base|finetuned|both] [--tasks 16]

``--source finetuned`` measures the smoke LoRA merged (``recipes/smoke-lora.yaml``, trained once
in ``--home`` when no finished run is there), on its own eval split: perplexity and task score
(the evaluator's task score of greedy answers, as the compare stage scores them: per-field
accuracy of a JSON answer, word F1 otherwise). ``both`` measures the base model
and then the fine-tuned one (each source's models interleaved in its own rounds); the base model
is then scored on the same eval split (the demo data's), so both tables have a task score. The
llama.cpp peers are the shipped GGUF's weights for the base model; for the fine-tuned source they are
re-quantized from an f16 GGUF of the merged weights written by ``slmw deploy gguf``'s own writer
(the shipped Q4_1 peer is then left out: it holds the base weights).

``--variants``/``--peers`` measure a subset (e.g. for the int4 speed ratio); ``--prebuilt`` adds
a GenAI folder built elsewhere, such as an earlier build of a variant, for an A/B in one run.

Builds are kept in ``--home`` (default ``.slmw-test-cache/bench-home``), so a rerun only measures.
Speeds move with the machine's load: the load average is printed with the table.

The figures issue #19 asks for (the best int4 against llama.cpp Q4_K_M of the same merged weights) come from
(llama-cpp-python built as ``bench/_llama_peer.py`` says, e.g. into /work/llama-venv; a quiet machine; the load
average is printed with each table)::

    .venv/bin/python bench/variants.py --source both --llama-python /work/llama-venv/bin/python \\
        --variants fp32,int8,int4,int4-hq-cal,int4-mix-cal --peers Q4_1,Q4_K_M \\
        --rounds 2 --runs 3 --tasks 64 --tokens 2048 --new-tokens 64 --threads 1

Measured (issue #19, 1 thread; the task on slmw:demo-eval's 64 examples, the runs' own split holding 17): the
smoke LoRA merged, on a quiet machine (load 0.72 at the start): int4-mix-cal 174.9 tok/s = 1.37x llama.cpp
Q4_K_M (127.4; +6.6% perplexity), -0.3% perplexity, task 0.891 vs fp32 0.901 (99%, paired [97%, 101%]);
int4-hq-cal 138.5 tok/s = 1.09x, -2.1%, 0.901 (100%, [97%, 103%]). The base model (load 1.4 -> 4.0: speeds
not comparable): int8 -0.8% perplexity, fp32's first token on 5 of the 6 check prompts (the README's
capital-of-France question among the 5; "Give me three tips for sleeping" differs); int4-hq-cal -0.1%,
task 0.115 vs 0.120 (96%, [70%, 131%]); int4-mix-cal -2.8% but 0.062 (52%, [21%, 88%]); llama.cpp Q4_1
+0.9%, Q4_K_M +8.1%. docs/quantization.md has the tables.

(Q4_1, the shipped file, is left out for the fine-tuned source by itself.) The pipeline, proved once with
``--home /tmp/int8-home --source finetuned --variants fp32,int8,int8-sym,int4 --peers Q4_K_M --rounds 1
--runs 3 --tasks 17 --tokens 512 --new-tokens 32`` (llama-cpp-python 0.3.36; load average 4.5-4.9; one
round, so the speeds are indicative only): perplexity on 512 tokens of the run's eval split, torch/fp32 5.07,
int8 5.07 (-0.0%), int8-sym 5.07, int4 5.88 (+15.9%), llama.cpp Q4_K_M of the merged weights (an f16 GGUF
by ``slmw deploy gguf``'s writer, re-quantized) 5.45 (+7.5%, 106 MB); decode tok/s: fp32 35.1, int8 54.5,
int8-sym 98.3, int4 74.2 (1.33x Q4_K_M), Q4_K_M 55.9.

int8, issue #19 (``slmw compare`` at 1 thread, 2,048 tokens of perplexity, 32 greedy tokens, 1 decode run;
other helpers loaded the 2 cores, load average 4.8-7.4, so every tok/s below is indicative; the quality columns
are not affected by load). "first token" / "8 tokens": greedy answers equal to the fp32 ONNX graph's on the six
check prompts (the Foundry smoke test's two, the README's first question among them, the compare stage's
other agreement prompts and its story prompt). "sym"/"asym": symmetric or uint8 zero points; "a4"/"a1":
accuracy level 4 (int8 activations) or 1 (fp32):

| base SmolLM2 (fp32 = dequantized Q4_1) |  MB |  ppl  | first token | 8 tokens | capital of France |
|----------------------------------------|-----|-------|-------------|----------|-------------------|
| int8 sym a4 (the preset before)        | 270 | +0.9% |         4/6 |      2/6 | "L'Étoile, la Cit" |
| int8 asym a4 (the preset now)          | 275 | +0.3% |         5/6 |      5/6 | as fp32            |
| int8 sym a1                            | 270 | +0.6% |         5/6 |      4/6 | "L'Étoile, la Mar" |
| int8 asym a1                           | 275 | -0.2% |         6/6 |      5/6 | as fp32            |
| int8 sym a4, blocks of 16              | 287 | +0.4% |         4/6 |      4/6 | "L'Étoile, la Cit" |
| int8 asym a4, blocks of 16             | 296 | +0.3% |         4/6 |      3/6 | "L'Étoile, la Cit" |

| smoke LoRA merged                      |  MB |  ppl  | first token | 8 tokens | task (17 examples) |
|----------------------------------------|-----|-------|-------------|----------|--------------------|
| fp32 (ONNX)                            | 544 | +0.0% |         6/6 |      6/6 | 0.850 [0.75, 0.94] |
| int8 sym a4 (the preset before)        | 270 | +0.0% |         6/6 |      5/6 | 0.850              |
| int8 asym a4 (the preset now)          | 275 | +0.4% |         5/6 |      2/6 | 0.850              |
| int8 sym a1                            | 271 |   -   |         6/6 |      5/6 | -                  |
| int8 asym a1                           | 275 |   -   |         6/6 |      5/6 | -                  |
| int8 asym a4, blocks of 16             | 296 | +0.3% |         5/6 |      4/6 | 0.850              |

fp32's first-token margins on the base are 0.08 logits on two of the six prompts (the capital of France:
"The" over "L"; the sleeping tips: "1" over "Here"), 0.20-2.2 on the others; on the LoRA run the smallest is
0.20 (sleeping tips). Accuracy level 4 moves the top logits by 0.6 (asym) to 1.5 (sym) on the capital
question, level 1 by 0.15-0.42, so a 0.08 margin is a coin toss for every fast int8. Asymmetric int8 fixes the
README's question on the base because its weights are Q4_1 blocks (min + q*d): a uint8 grid over the same 32
values has step 15d/255 = d/17, so every value is within d/34 of it. On the LoRA run (weights off that grid)
asymmetric int8 is +0.4% where symmetric is +0.0%, and agrees less on long continuations; both keep the task.
The Foundry check prompts (capital, sea) get fp32's first token from both on the LoRA run.

Speed, decode tok/s at 1 thread, interleaved in one process (64 tokens of the story prompt): base, load
5.4: fp32 21.2, sym a4 57.0, asym a4 48.6, sym a1 1.8, asym a1 2.0 (3 runs each); load 7.4: sym a4 29.3,
asym a4 33.2 (6 runs each); smoke LoRA merged, load 3.6: sym a4 76.2, asym a4 67.8 (6 runs each). So
asymmetric int8 costs about 10% (0-15%) of symmetric's decode speed, and accuracy level 1 is unusable for 8-bit weights on CPU (~2 tok/s, below fp32: the 8-bit
MatMulNBits has no fp32-activation fast path in this onnxruntime). Embedding: both keep the 113 MB fp32
token embedding (the builder unties it for int8); the head is 8-bit (28 MB + scales). Excluding the head
from quantization (fp32, tied to the embedding: 228-231 MB) does not change which prompts flip.

Earlier int4 findings (issue #14; machine at load 5-12, word-F1 on 16 examples, so only indicative), kept for
what they explain: the builder's RTN int4 loses ~32% perplexity on the base (its fp32 is dequantized Q4_1),
int4-hq recovers the Q4_1 blocks exactly (+0.7%) but loses the fine-tuned skill (a merged LoRA moves the
weights off that grid), GPTQ (int4-cal) holds it; llama.cpp's Q4_K_M is not all 4-bit here (576-wide rows are
not a multiple of 256, so 180 of 272 tensors fall back to q5_0, 6.2 bits per weight); float zero points in
MatMulNBits drop to a dequantize-per-call path (~50x slower per MatMul).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
DEFAULT_SET = ("fp32", "int8", "int4", "int4-hq", "int4-cal", "int4-olive", "qint8-dynamic", "torch-dynamic-int8")
OTHERS = ("qint8-dynamic", "torch-dynamic-int8")  # not presets: built (or quantized at load) here
NOTES = {
    "torch-fp32": "reference (PyTorch greedy, KV cache)",
    "fp32": "builder fp32",
    "int8": "builder int8 asymmetric (uint8 zero points), block 32, accuracy level 4",
    "int8-sym": "builder int8 symmetric (the preset before issue #19), block 32, accuracy level 4",
    "int4": "builder int4 RTN: symmetric, block 32, accuracy level 4",
    "int4-hq": "ours: block offsets folded into one symmetric MatMulNBits, 8-bit embeddings/head",
    "int4-cal": "ours: GPTQ on calibration text (the run's training data; demo data for the base), packed zero points",
    "int4-hq-offset8": "ours before: offsets in a second 8-bit MatMulNBits + Add",
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


PEERS = {"Q4_1": ("llama.cpp Q4_1 (shipped)", ""), "Q4_K_M": ("llama.cpp Q4_K_M (requant)", "Q4_K_M"),
         "Q4_0": ("llama.cpp Q4_0 (requant)", "Q4_0")}


class LlamaPeers:
    """llama.cpp peers measured once per speed round (``args.runs`` decode runs each), interleaved with the
    ONNX rounds: ``measure()`` runs before the first round and again as each later round starts."""

    def __init__(self, args: argparse.Namespace, evalset, work: Path) -> None:
        self.args, self.evalset, self.work = args, evalset, work
        self.results: dict[str, dict] = {}
        self.python = args.llama_python or sys.executable
        probe = subprocess.run([self.python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                               capture_output=True, text=True)
        self.available = probe.returncode == 0 and bool(args.peers)
        if probe.returncode != 0:
            print("llama.cpp peer: not measured (llama-cpp-python is not importable; pass --llama-python)")
        elif self.available:
            print(f"llama.cpp peer: llama-cpp-python {probe.stdout.strip()} ({self.python})")
        self.gguf: Path | None = None
        """The GGUF the peers are quantized from: the shipped file, or (fine-tuned) the merged weights' f16."""

    def measure(self) -> None:
        from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL

        if not self.available:
            return
        gguf = self.gguf or BUILTIN_MODELS[DEFAULT_MODEL].gguf_path()
        for kind in self.args.peers:
            name, requant = PEERS[kind]
            spec = {"gguf": str(gguf), "ids": self.evalset.ppl_ids, "prompt_ids": self.evalset.prompt_ids,
                    "new_tokens": self.args.new_tokens, "runs": self.args.runs, "threads": self.args.threads,
                    "requantize": requant}
            spec_path, out_path = self.work / f"llama-{kind}.json", self.work / f"llama-{kind}-out.json"
            spec_path.write_text(json.dumps(spec))
            env = dict(os.environ, OMP_NUM_THREADS=str(self.args.threads))
            done = subprocess.run([self.python, str(REPO / "bench" / "_llama_peer.py"), str(spec_path), str(out_path)],
                                  capture_output=True, text=True, env=env)
            if done.returncode != 0:
                print(f"{name}: failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(out_path.read_text())
            if name in self.results:
                self.results[name]["decode_runs_tok_s"] += result["decode_runs_tok_s"]
            else:
                self.results[name] = result

    def rows(self) -> list[dict]:
        out = []
        for name, result in self.results.items():
            result["decode_tok_s"] = statistics.median(result["decode_runs_tok_s"])
            out.append({"name": name, **result})
        return out


CHECK_TOKENS = 8


def check_prompt_agreement(tokenizer_folder: Path, fp32: Path, variant: Path) -> tuple[int, int, int, list[str]]:
    """Greedy first tokens of ``variant`` against the fp32 ONNX graph's on the check prompts (the Foundry smoke
    test's, the README's first question among them, then the compare stage's agreement prompts): how many
    prompts share the first token, how many the first ``CHECK_TOKENS``, of how many, and which differ."""
    from transformers import AutoTokenizer

    from slm_workbench.config.deploy_foundry import DEFAULT_PROMPTS
    from slm_workbench.engine.compare.evalset import AGREEMENT_PROMPTS, DEFAULT_PROMPT
    from slm_workbench.engine.data.records import chat_text
    from slm_workbench.engine.measure.backends import open_backend

    texts = list(dict.fromkeys([*DEFAULT_PROMPTS, *AGREEMENT_PROMPTS, DEFAULT_PROMPT]))
    tok = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    ids = [tok(chat_text(tok, [{"role": "user", "content": t}], True), add_special_tokens=False)["input_ids"]
           for t in texts]
    ref, out = ([backend.greedy(i, CHECK_TOKENS, stop_at_eos=False).tokens for i in ids]
                for backend in (open_backend("onnx", Path(f), 1) for f in (fp32, variant)))
    wrong = [repr(t[:30]) for t, a, b in zip(texts, ref, out) if a[:1] != b[:1]]
    return (sum(a[:1] == b[:1] for a, b in zip(ref, out)), sum(a == b for a, b in zip(ref, out)), len(texts), wrong)


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
    parser.add_argument("--variants", default=",".join(DEFAULT_SET),
                        help="presets to build and measure, plus qint8-dynamic / torch-dynamic-int8")
    parser.add_argument("--prebuilt", action="append", default=[], metavar="NAME=FOLDER",
                        help="also measure a GenAI folder built elsewhere (e.g. an earlier build of a variant)")
    parser.add_argument("--peers", default="Q4_1,Q4_K_M,Q4_0", help=f"llama.cpp peers, of {','.join(PEERS)}")
    parser.add_argument("--llama-python", default=None, help="a Python with llama-cpp-python (default: this one)")
    parser.add_argument("--home", type=Path, default=REPO / ".slmw-test-cache" / "bench-home")
    parser.add_argument("--source", choices=("base", "finetuned", "both"), default="base",
                        help="the base SmolLM2, the smoke LoRA merged, or both (one after the other)")
    parser.add_argument("--tasks", type=int, default=16, help="eval examples answered and scored (with an eval split)")
    args = parser.parse_args()
    args.peers = [p for p in args.peers.split(",") if p]
    os.environ["SLMW_HOME"] = str(args.home.resolve())
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from slm_workbench.engine.model_source import ModelSource

    folder = smollm2_folder(args.home)
    base = ModelSource(str(folder), "model", "smollm2-135m-instruct", folder)
    if args.source == "base":
        return bench_source(args, base, None, "SmolLM2-135M-Instruct (fp32 = dequantized from the shipped Q4_1 GGUF)")
    tuned = finetuned_source(args.home)
    if args.source == "both":
        bench_source(args, base, tuned.eval_data, "SmolLM2-135M-Instruct, base (fp32 = dequantized Q4_1)")
    args.peers = [p for p in args.peers if p != "Q4_1"]  # the shipped Q4_1 holds the base weights, not these
    return bench_source(args, tuned, tuned.eval_data, f"SmolLM2-135M-Instruct + smoke LoRA merged (run {tuned.name})",
                        peer_gguf=merged_gguf(tuned, args.home))


def merged_gguf(source, home: Path) -> Path:  # noqa: ANN001 - a ModelSource
    """The merged fine-tuned weights as an f16 GGUF, by ``slmw deploy gguf``'s own writer (into the shipped
    file's metadata); the llama.cpp peers are re-quantized from it, i.e. from the same weights as the variants."""
    from slm_workbench.engine.deploy.gguf.stage import origin_of
    from slm_workbench.engine.deploy.gguf.write import write_like_source

    out = home / "peer-gguf" / f"{source.name}-f16.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        origin = origin_of(source)
        assert origin is not None, f"{source.spec} did not come from a GGUF"
        write_like_source(source.hf_folder, origin, out, "f16", name=source.name, chat_template=None)
    return out


def finetuned_source(home: Path):  # noqa: ANN201 - a ModelSource
    """The smoke LoRA run in ``home`` (trained here once, ~2-3 min on 2 cores), its adapter merged."""
    from slm_workbench.engine.export.merge import merge_adapter
    from slm_workbench.engine.model_source import run_source
    from slm_workbench.engine.runs.run import Run
    from slm_workbench.engine.runs.store import RunStore

    def finished() -> Run | None:
        runs = [i for i in RunStore(home / "runs").list() if i.stage == "train" and i.state == "done"]
        return Run(home / "runs" / runs[0].id) if runs else None

    run = finished()
    if run is None:
        print("training the smoke LoRA once (recipes/smoke-lora.yaml) ...", flush=True)
        subprocess.run([sys.executable, "-m", "slm_workbench.cli.main", "train", "smoke-lora"], check=True,
                       env=dict(os.environ, SLMW_HOME=str(home.resolve()), PYTHONPATH=str(REPO)))
        run = finished()
        assert run is not None, "the smoke LoRA run did not finish"
    return merge_adapter(run_source(run.id, run), log=lambda m: print(f"  {m}", flush=True))


def bench_source(args: argparse.Namespace, source, eval_data: Path | None, title: str,  # noqa: ANN001
                 peer_gguf: Path | None = None) -> int:
    from slm_workbench.engine.compare.compare import REFERENCE_NAME, CompareSettings, Entry, compare_variants
    from slm_workbench.engine.compare.evalset import build_evalset, heldout_tasks
    from slm_workbench.engine.compare.judge import agreement, broken_reason
    from slm_workbench.engine.compare.report import write_report
    from slm_workbench.engine.export.export import export_variants
    from slm_workbench.config.presets import PRESETS, resolve_presets

    started = time.time()
    folder = source.hf_folder
    work = args.home / "work" / source.name
    work.mkdir(parents=True, exist_ok=True)
    wanted = [v for v in args.variants.split(",") if v and not (args.no_olive and v == "int4-olive")]
    presets = resolve_presets([v for v in wanted if v not in OTHERS and v != "int8-sym"])
    if "int8-sym" in wanted:  # the int8 preset before issue #19, for the A/B
        presets += resolve_presets(["int8"], symmetric=True)
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
    if "qint8-dynamic" in wanted:
        built["qint8-dynamic"] = build_qint8_dynamic(source.variant_dir("fp32"), source.variant_dir("qint8-dynamic"))
    for item in args.prebuilt:
        name, _, path = item.partition("=")
        built[name] = Path(path)
    evalset = build_evalset(folder, eval_data, perplexity_tokens=args.tokens, task_examples=args.tasks)
    if eval_data is not None:  # as the compare stage: too few eval examples -> the data's held-out companion
        evalset = heldout_tasks(evalset, folder, eval_data, args.tasks)
        if evalset.task_note:
            print(evalset.task_note)
    settings = CompareSettings(threads=args.threads, new_tokens=args.new_tokens, decode_runs=args.runs,
                               rounds=args.rounds, perplexity_tokens=args.tokens)
    extra = [Entry("torch-dynamic-int8", "PyTorch dynamic int8", "torch-dynamic-int8", folder, "int8")] \
        if "torch-dynamic-int8" in wanted else []
    peers = LlamaPeers(args, evalset, work)
    peers.gguf = peer_gguf
    peers.measure()

    def progress(variant: str, phase: str, done: float, total: float) -> None:
        if phase == "loading":
            print(f"  {variant}: {phase}", flush=True)
        if variant == REFERENCE_NAME and phase.startswith("speed round"):
            peers.measure()  # the peers' turn in this round, before the reference's

    print(f"measuring {len(built) + 1 + len(extra)} models, {args.rounds} round(s) x {args.runs} decode runs ...",
          flush=True)
    report = compare_variants(source, built, evalset=evalset, work_dir=work / "compare", settings=settings,
                              extra_entries=extra, on_progress=progress)
    if extra:
        report.by_name("torch-dynamic-int8").size_mb = None  # quantized in memory at load; nothing on disk
    write_report(report, work / "report")
    ref = report.by_name(REFERENCE_NAME)
    rows = [dict(name=v.name, size_mb=v.size_mb, decode_tok_s=v.decode_tok_s, ttft_s=v.ttft_s, perplexity=v.perplexity,
                 ppl_change=v.ppl_change, agree=v.agreement, broken=v.broken_reason, speedup=v.speedup,
                 task=v.task_score, rss=v.peak_rss_mb, note=NOTES.get(v.name, "")) for v in report.variants]
    for peer in peers.rows():
        ppl = peer["perplexity"]
        rows.append(dict(name=peer["name"], size_mb=peer["size_mb"], decode_tok_s=peer["decode_tok_s"], ttft_s=peer["ttft_s"],
                         perplexity=ppl, ppl_change=ppl / ref.perplexity - 1,
                         agree=agreement(ref.tokens, peer["tokens"]).as_dict(),
                         broken=broken_reason(ppl, ref.perplexity, [peer["tokens"]], [ref.tokens]),
                         speedup=peer["decode_tok_s"] / ref.decode_tok_s if ref.decode_tok_s else None,
                         task=None, rss=None, note="llama.cpp peer"))

    print()
    print(f"{title}; perplexity on {len(evalset.ppl_ids)} "
          f"tokens of {evalset.name}, same ids for all; {args.new_tokens} greedy tokens, median of "
          f"{args.runs * args.rounds} runs over {args.rounds} interleaved round(s); {args.threads} thread(s); "
          f"{report.machine['cpu']}; load average at start {report.machine['load_avg']}, now "
          f"{[round(x, 2) for x in os.getloadavg()]}")
    head = f"| {'variant':28} | {'MB':>5} | {'decode tok/s':>12} | {'x torch':>7} | {'TTFT s':>6} | {'perplexity':>10} | " \
           f"{'ppl':>7} | {'task':>5} | {'RSS MB':>6} | {'same prefix':>11} | note"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|------")
    for r in rows:
        agree = r["agree"] or {}
        note = f"BROKEN: {r['broken']}" if r["broken"] else r["note"]
        print(f"| {r['name']:28} | {fmt(r['size_mb'], '5.0f')} | {fmt(r['decode_tok_s'], '12.1f')} | "
              f"{fmt(r['speedup'], '7.2f')} | {fmt(r['ttft_s'], '6.3f')} | {fmt(r['perplexity'], '10.2f')} | "
              f"{'-' if r['ppl_change'] is None else format(r['ppl_change'] * 100, '+6.1f') + '%'} | "
              f"{fmt(r['task'], '5.2f')} | {fmt(r['rss'], '6.0f')} | "
              f"{(str(agree.get('same_prefix')) + '/' + str(agree.get('compared'))) if agree else '-':>11} | {note}")
    int4s = [v for v in report.variants if v.name.startswith("int4") and v.perplexity is not None]
    print()
    for v in int4s:
        print(f"goal 1, int4 within +3% perplexity of fp32: {v.name} {v.ppl_change * 100:+.1f}% "
              f"({'met' if v.ppl_change <= 0.03 else 'NOT met'})")
        if v.task_score is not None and ref.task_score:
            share = v.task_score / ref.task_score
            r = v.task_ratio or {}
            held = share >= 0.98 and r.get("high", share) >= 1.0  # the compare stage's rule (report.py)
            interval = f", paired 95% [{r['low']:.0%}, {r['high']:.0%}]" if "low" in r else ""
            print(f"goal 1b, int4 task score >= 98% of fp32's: {v.name} {v.task_score:.3f} vs {ref.task_score:.3f} = "
                  f"{share:.0%} on {v.task_n} examples{interval} ({'met' if held else 'NOT met'})")
    peer = next((r for r in rows if r["name"].startswith("llama.cpp Q4_K_M")), None) or next(
        (r for r in rows if r["name"].startswith("llama.cpp Q4_1")), None)
    for v in int4s:
        if peer and peer["decode_tok_s"] and v.decode_tok_s:
            ratio = v.decode_tok_s / peer["decode_tok_s"]
            print(f"goal 2, decode >= 1.3x {peer['name']} at {args.threads} thread(s): {v.name} {ratio:.2f}x "
                  f"({'met' if ratio >= 1.3 else 'NOT met'})")
    if "fp32" in built:
        for name in [n for n in built if n.startswith("int8")]:
            first, full, total, wrong = check_prompt_agreement(folder, built["fp32"], built[name])
            print(f"{name}: check prompts answered with fp32's first token {first}/{total}, first {CHECK_TOKENS} tokens "
                  f"{full}/{total}" + (f"; first token differs on {', '.join(wrong)}" if wrong else ""))
    print(f"report: {work / 'report' / 'report.md'}; took {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
