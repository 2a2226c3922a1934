"""``slmw export MODEL_OR_RUN`` and ``slmw compare MODEL_OR_RUN``: jobs, followed or detached.

``--json`` waits quietly and prints what the job wrote: ``export.json`` (the variants built)
or the comparison report, ``{"variants": [{"name", "settings", "perplexity", "decode_tok_s", "ttft_s",
"size_mb", "peak_rss_mb", "model_rss_mb", "load_s", "agreement", "task_score", "task_ratio", "broken", "rank",
...}, ...], "recommended", "quality_checked", "fastest", ...}``. Without a reference (``--no-reference``)
the verdict says that no quality check was made and nothing is recommended.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config.export import CompareRecipe, ExportRecipe
from ..engine.errors import WorkbenchError
from ..engine.runs.run import Run
from .jobs import add_job_flags, launch_until_done
from .output import print_json, table
from .recipe_flags import add_recipe_flags, build_recipe


def add_export(sub: argparse._SubParsersAction) -> None:
    from ..config.presets import PRESETS

    presets = ", ".join(f"{p.name} ({p.description})" for p in PRESETS.values())
    p = sub.add_parser("export", help="export a model or run to ONNX Runtime GenAI variants (a job, followed)",
                       description=f"Build ONNX Runtime GenAI variants. Presets: {presets}.")
    add_recipe_flags(p, ExportRecipe, positional=("model",), aliases={"execution_provider": ["--ep"]},
                     help={"model": "model name, HF folder, GGUF, or a training run id; MODEL:VARIANT names one variant"})
    add_job_flags(p, stage="export")
    p.set_defaults(func=cmd_export)


def add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="measure variants side by side with the PyTorch reference (a job, followed)",
                       description="Size, load time, peak RAM, time to first token, decode tok/s, perplexity "
                                   "(identical token ids), agreement with the reference and task score; "
                                   "broken variants are flagged, never ranked.")
    add_recipe_flags(p, CompareRecipe, positional=("model",),
                     aliases={"decode_runs": ["--runs"], "perplexity_tokens": ["--ppl-tokens"]},
                     help={"model": "model name, HF folder, GGUF, or a training run id; MODEL:VARIANT names one variant"})
    add_job_flags(p, stage="compare")
    p.set_defaults(func=cmd_compare)


def _check_source(spec: str) -> str:
    from ..engine.model_source import resolve_source
    from ..engine.first_use import model_to_prepare

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
        if args.variants and args.variants != [named.variant]:
            raise WorkbenchError(f"{args.model} names a variant; do not also give --variants")
        args.model, args.variants = named.base, [named.variant]


def _run(recipe: object, title: str, args: argparse.Namespace, artifact: str) -> Path | None:
    """Follow the job; its artifact once it is done, ``None`` when detached."""
    info = launch_until_done(recipe, title=title, args=args)
    return None if info is None else Run(info.dir).artifact(artifact)


def cmd_export(args: argparse.Namespace) -> int:
    _split_spec(args)
    name = _check_source(args.model)
    recipe = build_recipe(args, where="slmw export")
    result = _run(recipe, f"export {name}: {','.join(recipe.variants)}", args, "export.json")
    if result is None:
        return 0
    data = json.loads(result.read_text(encoding="utf-8"))
    if args.json:
        print_json({"run": result.parent.parent.name, **data})
        return 0
    rows = [(v["label"], v["precision"], f"{v['size_bytes'] / 1e6:,.0f} MB",
             "kept" if v["reused"] else f"{v['seconds']:.0f} s", v["folder"]) for v in data["variants"]]
    print(table(["VARIANT", "PRECISION", "SIZE", "BUILT", "FOLDER"], rows))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..engine.compare.report import load_report, summary_json

    _split_spec(args)
    name = _check_source(args.model)
    recipe = build_recipe(args, where="slmw compare")
    title = f"compare {name}" + (f": {','.join(recipe.variants)}" if recipe.variants else "")
    result = _run(recipe, title, args, "report.json")
    if result is None:
        return 0
    report = load_report(result)
    if args.json:
        print_json({"run": result.parent.parent.name, **summary_json(report)})
        return 0
    from ..engine.compare.report import BRIEF_COLUMNS, brief_rows, verdict_lines

    print(table(BRIEF_COLUMNS, brief_rows(report)))
    print("\n" + "\n".join(line for line, _kind in verdict_lines(report)))
    print(f"\nreport: {result.parent / 'report.md'} (also report.csv, report.json)")
    return 0
