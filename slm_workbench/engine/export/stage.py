"""Job stage ``export``: build the recipe's variants with progress per variant."""

from __future__ import annotations

import json
from pathlib import Path

from ...config.export import ExportRecipe
from ..events import BUILT
from ..errors import WorkbenchError
from ..first_use import prepare_in_job
from ..preflight.disk import BYTES_PER_WEIGHT, DiskNeed
from ..preflight.needs import LaunchNeeds
from ..runs.context import RunContext
from .export import BuiltVariant, export_variants
from ...config.presets import PRESETS, resolve_presets
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
    """The launch check of ``export`` (and ``compare``): the settings (calibration data, block size, a built
    variant made otherwise), then the disk the variants still to build take."""
    check_settings(recipe)
    return LaunchNeeds(export_needs(recipe.model, recipe.variants or [], overwrite=getattr(recipe, "overwrite", False)))


EVAL_SPLITS = ("eval", "validation", "test")


def matrix_inner_dims(folder: Path) -> dict[str, int]:
    """The inner dimensions (K) of a decoder's weight matrices, from its config.json."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        hidden = int(config["hidden_size"])
        heads = int(config.get("num_attention_heads") or 1)
        head_dim = int(config.get("head_dim") or hidden // heads)
        return {"hidden (q/k/v, gate/up, lm_head, embedding)": hidden, "attention output": heads * head_dim,
                "MLP down": int(config.get("intermediate_size") or hidden)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def check_settings(recipe: ExportRecipe) -> None:
    """Bad settings, each one line before anything is built (a ``WorkbenchError``)."""
    from .calibrated import calibration_ids, calibration_texts
    from .export import calibration_source, read_variant_info, stale_reason, variant_identity
    from ...config.presets import CALIBRATION_SAMPLES

    try:
        source = resolve_source(recipe.model)
    except WorkbenchError:
        return  # the job says what is wrong with the model
    built = source.built_variants()
    wanted = recipe.variants
    if wanted is None:  # compare's default: what is built
        return
    presets = resolve_presets([w for w in wanted if w not in built or w in PRESETS], **recipe.variant_knobs())
    folder = source.hf_folder or source.base_folder
    dims = matrix_inner_dims(folder) if folder else {}
    for preset in presets:
        if preset.path in ("offset4", "gptq") and dims:
            bad = {what: k for what, k in dims.items() if k % preset.block_size}
            if bad:
                fits = [b for b in (16, 32, 64, 128, 256) if all(k % b == 0 for k in dims.values())]
                raise WorkbenchError(
                    f"{preset.name}: block size {preset.block_size} does not divide the inner dimension of "
                    + ", ".join(f"{what} ({k})" for what, k in bad.items())
                    + f" of {source.name}; those matrices would stay fp32",
                    hint=f"block sizes that divide them all: {', '.join(map(str, fits)) or 'none'}")
        if preset.path != "gptq" or preset.algorithm == "ort-hqq":
            continue
        data = calibration_source(source, preset)
        path = Path(data).expanduser()
        if not data.startswith("slmw:"):
            if not path.exists():
                raise WorkbenchError(f"calibration data {data}: no such file or folder")
            evals = {Path(e).expanduser().resolve() for e in (getattr(recipe, "eval", None), source.eval_data) if e}
            if path.resolve() in evals and not (path / "dataset_dict.json").is_file() or (
                    path.name in EVAL_SPLITS and (path.parent / "dataset_dict.json").is_file()):
                raise WorkbenchError(f"calibration data {data} is the eval split the comparison scores",
                                     hint="calibrate on training data (a prepared dataset folder uses its train split)")
        if not calibration_texts(data):
            raise WorkbenchError(f"calibration data {data} is empty")
        if preset.calibration_samples != CALIBRATION_SAMPLES and folder is not None:
            have = len(calibration_ids(folder, data, preset.calibration_samples))
            if have < preset.calibration_samples:
                raise WorkbenchError(f"calibration data {data} holds {have} sequences of 256 tokens; "
                                     f"--calibration-samples {preset.calibration_samples} asks for more")
    if getattr(recipe, "overwrite", False):
        return
    for preset in presets:
        if preset.name in built:
            reason = stale_reason(read_variant_info(built[preset.name]), variant_identity(preset, source))
            if reason:
                raise WorkbenchError(f"variant {preset.name} of {source.name} {reason}",
                                     hint=f"slmw export {recipe.model} --variants {preset.name} --overwrite rebuilds it")


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
