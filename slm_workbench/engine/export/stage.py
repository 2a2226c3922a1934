"""Job stage ``export``: build the recipe's variants with progress per variant."""

from __future__ import annotations

import json

from ...config.export import ExportRecipe
from ..events import BUILT
from ..errors import WorkbenchError
from ..first_use import prepare_in_job
from ..preflight.disk import BYTES_PER_WEIGHT, DiskNeed
from ..preflight.needs import LaunchNeeds
from ..runs.context import RunContext
from .export import BuiltVariant, export_variants
from ...config.presets import resolve_presets
from ..model_source import resolve_source
from .merge import merge_adapter


def progress_reporter(ctx: RunContext, names: list[str]):  # noqa: ANN201
    """A (variant, phase, done, total) callback that reports to the run which of ``names`` (k of n) is
    at which phase."""

    def report(variant: str, phase: str, done: float, total: float) -> None:
        k = names.index(variant) + 1 if variant in names else None
        ctx.progress(phase, done, total or None, unit="steps", item=variant, item_index=k,
                     item_count=len(names) if k else None)

    return report


def report_built(ctx: RunContext, variant: BuiltVariant, *, finished: bool) -> None:
    """Say ``variant`` is built; ``finished`` when building it is all the job does with it."""
    how = "already built" if variant.reused else f"built in {variant.seconds:.0f} s"
    ctx.item_state(variant.name, BUILT, finished=finished, detail=how)


def _built(ctx: RunContext, variant: BuiltVariant) -> None:
    report_built(ctx, variant, finished=True)
    ctx.artifact(variant.name, variant.folder, f"{variant.label}: {variant.size_bytes / 1e6:,.0f} MB"
                 + (" (already built)" if variant.reused else f", built in {variant.seconds:.0f} s"))
    ctx.metrics({"variant": variant.name, "size_mb": round(variant.size_bytes / 1e6, 1), "build_s": variant.seconds})


def run(recipe: ExportRecipe, ctx: RunContext) -> None:
    prepare_in_job(recipe.model, ctx)  # the built-in model on first use, as train does
    source = resolve_source(recipe.model)
    presets = resolve_presets(recipe.variants, **recipe.variant_knobs())
    if source.hf_folder is None:
        ctx.progress("merging the adapter into its base", 0, None)
        source = merge_adapter(source, log=lambda m: print(f"[export] {m}", flush=True))
    names = [p.name for p in presets]
    print(f"[export] {source.spec} -> {', '.join(names)}", flush=True)
    built = export_variants(source, presets, work_dir=ctx.run_dir / "work", execution_provider=recipe.execution_provider,
                            overwrite=recipe.overwrite, threads=recipe.threads,
                            on_progress=progress_reporter(ctx, names), check_cancelled=ctx.check_cancelled,
                            on_built=lambda variant: _built(ctx, variant))
    summary = {"source": {"spec": source.spec, "kind": source.kind, "name": source.name, "folder": str(source.hf_folder)},
               "variants": [v.as_dict() for v in built]}
    (ctx.artifacts_dir / "export.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    ctx.artifact("export.json", ctx.artifacts_dir / "export.json", "the variants built and where they are")


def check(recipe: ExportRecipe) -> LaunchNeeds:
    """The launch check of ``export`` (and ``compare``): the disk the variants still to build take."""
    return LaunchNeeds(export_needs(recipe.model, recipe.variants or [], overwrite=getattr(recipe, "overwrite", False)))


def export_needs(model: str, variants: list[str], *, overwrite: bool = False) -> list[DiskNeed]:
    """Each variant's weights, plus the fp32 graph the offset and Olive paths start from, plus a
    merged model for a run's adapter."""
    from ..models.info import safetensors_parameters
    from ...config.presets import PRESETS

    try:
        source = resolve_source(model)
    except WorkbenchError:
        return []  # the job says what is wrong with the model
    folder = source.hf_folder or source.base_folder
    if folder is None:
        return []
    params = safetensors_parameters(folder)
    built = source.built_variants()
    needs: list[DiskNeed] = []
    if source.hf_folder is None and source.run is not None:
        needs.append(DiskNeed(source.run.dir, params * 4.0, "the merged model"))
    for name in variants:
        preset = PRESETS.get(name)
        if preset is None or (name in built and not overwrite):
            continue
        size = params * BYTES_PER_WEIGHT[preset.precision]
        if preset.path != "builder":
            size += params * 4.0  # the fp32 graph the post-pass starts from
        needs.append(DiskNeed(source.variant_dir(name).parent, size, name))
    return needs
