"""Job stage ``compare``: build what is missing, measure everything, write report.json/.md/.csv."""

from __future__ import annotations

from pathlib import Path

from ...config.export import DEFAULT_VARIANTS, CompareRecipe
from ..errors import WorkbenchError
from ..export.export import export_variants
from ...config.presets import PRESETS, resolve_presets
from ..export.merge import merge_adapter
from ..model_source import ModelSource, resolve_source
from ..export.stage import check as check_export, progress_reporter, report_built
from ..first_use import prepare_in_job
from ..preflight.needs import LaunchNeeds
from ..runs.context import RunContext
from .compare import CompareSettings, compare_variants
from .evalset import build_evalset, heldout_tasks
from .report import write_report


def variants_to_compare(source: ModelSource, wanted: list[str] | None, recipe: CompareRecipe,
                        ctx: RunContext | None = None) -> dict[str, Path]:
    """Name -> folder of the variants to measure, building missing presets first."""
    built = source.built_variants()
    if wanted is None:
        wanted = list(built) or list(DEFAULT_VARIANTS)
    missing = [name for name in wanted if name not in built]
    unknown = [name for name in missing if name not in PRESETS]
    if unknown:
        raise WorkbenchError(f"variant(s) {', '.join(unknown)} of {source.name} are not built and are not presets",
                             hint=f"built: {', '.join(built) or 'none'}; presets: {', '.join(PRESETS)}")
    if missing:
        presets = resolve_presets(missing, **recipe.variant_knobs())
        renamed = dict(zip(missing, (p.name for p in presets)))  # int4 -> int4-b128 when a knob is set
        names = [p.name for p in presets]
        export_variants(source, presets, work_dir=(ctx.run_dir if ctx else Path.cwd()) / "work",
                        on_progress=progress_reporter(ctx, names) if ctx else (lambda *a: None),
                        check_cancelled=ctx.check_cancelled if ctx else (lambda: None),
                        on_built=(lambda v: report_built(ctx, v, finished=False)) if ctx else (lambda v: None))
        built = source.built_variants()
        wanted = [renamed.get(w, w) for w in wanted]
    return {name: built[name] for name in wanted if name in built}


def run(recipe: CompareRecipe, ctx: RunContext) -> None:
    prepare_in_job(recipe.model, ctx)  # the built-in model on first use, as train does
    source = resolve_source(recipe.model)
    if source.hf_folder is None:
        ctx.progress("merging the adapter into its base", 0, None)
        source = merge_adapter(source, log=lambda m: print(f"[compare] {m}", flush=True))
    variants = variants_to_compare(source, recipe.variants, recipe, ctx)
    eval_data = recipe.eval or (str(source.eval_data) if source.eval_data else None)
    ctx.progress("tokenizing the held-out set", 0, None)
    evalset = build_evalset(source.hf_folder, eval_data, perplexity_tokens=recipe.perplexity_tokens,
                            task_examples=recipe.task_examples, prompt=recipe.prompt)
    if recipe.eval is None:  # the run's own eval split: too few examples -> its data's held-out companion
        evalset = heldout_tasks(evalset, source.hf_folder, source.eval_data, recipe.task_examples)
        if evalset.task_note:
            print(f"[compare] {evalset.task_note}", flush=True)
    names = (["torch-fp32"] if recipe.reference else []) + list(variants)
    print(f"[compare] {source.spec}: {', '.join(names)} on {len(evalset.ppl_ids)} tokens of {evalset.name}", flush=True)
    settings = CompareSettings(threads=recipe.threads, new_tokens=recipe.new_tokens, decode_runs=recipe.decode_runs,
                               rounds=recipe.rounds, perplexity_tokens=recipe.perplexity_tokens,
                               task_examples=recipe.task_examples, ppl_ratio=recipe.ppl_ratio, reference=recipe.reference)
    report = compare_variants(source, variants, evalset=evalset, work_dir=ctx.run_dir / "work", settings=settings,
                              on_progress=progress_reporter(ctx, names), check_cancelled=ctx.check_cancelled,
                              on_measured=lambda name, numbers: ctx.metrics({"variant": name, **numbers}),
                              on_verdict=lambda name, state, finished, detail: ctx.item_state(
                                  name, state, finished=finished, detail=detail))
    paths = write_report(report, ctx.artifacts_dir)
    for kind, path in paths.items():
        ctx.artifact(path.name, path, f"comparison report ({kind})")


def check(recipe: CompareRecipe) -> LaunchNeeds:
    """The launch check: the disk the variants still to build take, as ``export``'s."""
    return check_export(recipe)  # type: ignore[arg-type]  # the fields it reads are the same
