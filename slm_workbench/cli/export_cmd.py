"""``slmw export MODEL_OR_RUN`` and ``slmw compare MODEL_OR_RUN``: jobs, followed or detached.

``--json`` waits quietly and prints what the job wrote: ``export.json`` (the variants built)
or the comparison report, ``{"variants": [{"name", "perplexity", "decode_tok_s", "ttft_s",
"size_mb", "peak_rss_mb", "load_s", "agreement", "broken", ...}, ...], ...}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config.export import DEFAULT_VARIANTS, CompareRecipe, ExportRecipe
from ..engine.errors import WorkbenchError
from ..engine.events import Error
from ..engine.runs.launcher import start_recipe, wait_for
from ..engine.runs.store import RunStore, read_events
from .follow import follow
from .output import print_json, table


def _variant_list(text: str) -> list[str]:
    names = [n.strip() for n in text.replace(" ", ",").split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one variant, e.g. fp32,int8,int4")
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..engine.export.presets import PRESETS

    presets = ", ".join(f"{p.name} ({p.description})" for p in PRESETS.values())
    p = sub.add_parser("export", help="export a model or run to ONNX Runtime GenAI variants (as a job)",
                       description=f"Build ONNX Runtime GenAI variants. Presets: {presets}.")
    p.add_argument("model", metavar="MODEL_OR_RUN", help="model name, HF folder, GGUF, or a training run id")
    p.add_argument("--variants", type=_variant_list, default=list(DEFAULT_VARIANTS),
                   help="comma-separated presets or groups: fast, balanced, all (default: fp32,int8,int4)")
    _quant_knobs(p)
    p.add_argument("--asymmetric", action="store_true", help="asymmetric int4/int8 weights (names them …-asym)")
    p.add_argument("--execution-provider", "--ep", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--overwrite", action="store_true", help="rebuild variants that exist")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the builder")
    _job_flags(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="measure variants side by side with the PyTorch reference (as a job)",
                       description="Size, load time, peak RAM, time to first token, decode tok/s, perplexity "
                                   "(identical token ids), agreement with the reference and task score; "
                                   "broken variants are flagged, never ranked.")
    p.add_argument("model", metavar="MODEL_OR_RUN")
    p.add_argument("--variants", type=_variant_list, default=None,
                   help="variants or groups (fast, balanced, all) to compare; missing presets are built; "
                        "default: all built, else fp32,int8,int4")
    p.add_argument("--eval", metavar="DATA", default=None,
                   help="prepared dataset folder, JSONL or text file (default: built-in held-out prose)")
    p.add_argument("--threads", type=int, default=1, help="threads per model (default 1)")
    p.add_argument("--new-tokens", type=int, default=64, help="greedy tokens per decode (default 64)")
    p.add_argument("--runs", type=int, default=3, help="decode runs per model; the median is kept (default 3)")
    p.add_argument("--rounds", type=int, default=1, help="speed rounds visiting every model in turn (default 1)")
    p.add_argument("--ppl-tokens", type=int, default=2048, help="held-out tokens scored (default 2048)")
    p.add_argument("--task-examples", type=int, default=16, help="eval examples scored by F1 (default 16)")
    p.add_argument("--prompt", default=None, help="the prompt decoded for agreement and speed")
    p.add_argument("--no-reference", action="store_true", help="skip the PyTorch fp32 reference")
    _quant_knobs(p)
    _job_flags(p)
    p.set_defaults(func=cmd_compare)


def _quant_knobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--block-size", type=int, default=None, help="int4/int8 block size (default 32)")
    p.add_argument("--accuracy-level", type=int, default=None, help="MatMulNBits accuracy level 0-4 (default 4)")


def _job_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true", help="return once the job has started")
    p.add_argument("--json", action="store_true", help="wait, then print the result as JSON")


def _recipe(cls: type, where: str, **fields: object) -> object:
    from pydantic import ValidationError

    from ..config.loading import format_validation_error
    from ..engine.errors import RecipeError

    try:
        return cls(**fields)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc, where)) from None


def _check_source(spec: str) -> str:
    from ..engine.export.source import resolve_source
    from ..engine.models.ensure import model_to_prepare

    missing = model_to_prepare(spec)
    if missing is not None:  # the job prepares it first, as train does
        return missing.name
    source = resolve_source(spec)  # fail here, before a job starts, on a bad reference
    return source.name


def _split_spec(args: argparse.Namespace) -> None:
    """``MODEL:VARIANT`` names one variant: ``slmw compare smollm2-135m-instruct:int4``."""
    from ..engine.models.variants import split_variant

    named = split_variant(args.model)
    if named.variant is not None:
        if args.variants and args.variants != [named.variant] and args.variants != list(DEFAULT_VARIANTS):
            raise WorkbenchError(f"{args.model} names a variant; do not also give --variants")
        args.model, args.variants = named.base, [named.variant]


def _run(recipe: object, title: str, args: argparse.Namespace, artifact: str) -> tuple[int, Path | None]:
    run_dir = start_recipe(recipe, title=title)
    if args.detach:
        if args.json:
            print_json({"id": run_dir.name, "dir": str(run_dir), "state": RunStore(run_dir.parent).info(run_dir).state})
        else:
            print(run_dir.name)
        return 0, None
    if args.json:
        info = wait_for(run_dir)
    else:
        print(f"run {run_dir.name} started (Ctrl-C detaches; the job goes on)")
        info = follow(run_dir)
    if info.state != "done":
        errors = [e for e in read_events(run_dir) if isinstance(e, Error)]
        message = errors[-1].message if errors else f"the job ended {info.state}"
        raise WorkbenchError(f"run {run_dir.name}: {message}", hint=f"see {run_dir / 'worker.log'}")
    return 0, run_dir / "artifacts" / artifact


def cmd_export(args: argparse.Namespace) -> int:
    _split_spec(args)
    name = _check_source(args.model)
    recipe = _recipe(ExportRecipe, "slmw export", model=args.model, variants=args.variants, block_size=args.block_size,
                          accuracy_level=args.accuracy_level, symmetric=False if args.asymmetric else None,
                          execution_provider=args.execution_provider, overwrite=args.overwrite, threads=args.threads)
    code, result = _run(recipe, f"export {name}: {','.join(args.variants)}", args, "export.json")
    if result is None:
        return code
    data = json.loads(result.read_text(encoding="utf-8"))
    if args.json:
        print_json({"run": result.parent.parent.name, **data})
        return 0
    rows = [(v["label"], v["precision"], f"{v['size_bytes'] / 1e6:,.0f} MB",
             "kept" if v["reused"] else f"{v['seconds']:.0f} s", v["folder"]) for v in data["variants"]]
    print(table(["VARIANT", "PRECISION", "SIZE", "BUILT", "FOLDER"], rows))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..engine.compare.report import load_report, rows, summary_json

    _split_spec(args)
    name = _check_source(args.model)
    recipe = _recipe(CompareRecipe, "slmw compare", model=args.model, variants=args.variants, eval=args.eval, threads=args.threads,
                           new_tokens=args.new_tokens, decode_runs=args.runs, rounds=args.rounds,
                           perplexity_tokens=args.ppl_tokens, task_examples=args.task_examples, prompt=args.prompt,
                           reference=not args.no_reference, block_size=args.block_size,
                           accuracy_level=args.accuracy_level)
    title = f"compare {name}" + (f": {','.join(args.variants)}" if args.variants else "")
    code, result = _run(recipe, title, args, "report.json")
    if result is None:
        return code
    report = load_report(result)
    if args.json:
        print_json({"run": result.parent.parent.name, **summary_json(report)})
        return 0
    from ..engine.compare.report import COLUMNS

    print(table(COLUMNS, rows(report)))
    print(f"\nreport: {result.parent / 'report.md'} (also report.csv, report.json)")
    return 0
