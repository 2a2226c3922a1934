"""Each stage's launch check: what it will write, and where, and whether it fits.

The stage registry names one function here per stage (``StageSpec.preflight``); each takes
the recipe and returns a ``LaunchNeeds`` (disk needs, and refusals that ``--force`` can
override), raising ``WorkbenchError`` for what no flag can fix (a context too short).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import WorkbenchError
from .disk import BYTES_PER_WEIGHT, DATA_EXPANSION, DiskNeed


@dataclass
class LaunchNeeds:
    disk: list[DiskNeed] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    """(message, hint) for each reason to refuse the launch unless forced."""
    warnings: list[str] = field(default_factory=list)


def check_train(recipe: Any) -> LaunchNeeds:
    from ..models.resolve import parse_model
    from ..train.preflight import preflight

    checks = preflight(recipe)  # what no flag fixes: QLoRA without CUDA, a context too short, missing data ...
    if checks.errors:
        raise WorkbenchError(checks.errors[0], hint="; ".join(checks.errors[1:]) or None)
    ref = parse_model(recipe.model)
    device = _device()
    if not ref.prepared:  # prepared by the job: its memory and context are checked there
        return LaunchNeeds(prepare_model_needs(recipe.model, False) + train_needs(recipe, None, device),
                           warnings=checks.warnings)
    from ..train.memory import available_memory, estimate_memory

    needs = LaunchNeeds(train_needs(recipe, ref.folder, device), warnings=checks.warnings)
    estimate = estimate_memory(recipe, ref.folder, device=device, available=available_memory(device))
    if estimate.fits is False:
        needs.refusals.append((
            f"this train job needs about {_gib(estimate.total)} of memory by the estimate, "
            f"{_gib(estimate.available or 0)} is free on {device} (`slmw train RECIPE --estimate` shows the terms)",
            "change " + "; ".join(estimate.hints) if estimate.hints else "use a smaller model, batch or max_length",
        ))
    return needs


def check_export(recipe: Any) -> LaunchNeeds:
    """``export`` and ``compare``: the variants still to build."""
    return LaunchNeeds(export_needs(recipe.model, recipe.variants or [], overwrite=getattr(recipe, "overwrite", False)))


def check_prepare_model(recipe: Any) -> LaunchNeeds:
    return LaunchNeeds(prepare_model_needs(recipe.model, recipe.force))


def check_prepare_data(recipe: Any) -> LaunchNeeds:
    return LaunchNeeds(prepare_data_needs(recipe.source, recipe.output))


def check_eval(recipe: Any) -> LaunchNeeds:
    """What no flag fixes: a target that names nothing, data that is not there, perplexity of an endpoint."""
    from ..data.sources import DEMO_ALIASES
    from ..eval.examples import load_examples
    from ..eval.stage import default_data
    from ..models.ensure import model_to_prepare

    endpoint = recipe.target.startswith(("http://", "https://"))
    if endpoint and recipe.metrics and "perplexity" in recipe.metrics:
        raise WorkbenchError(f"{recipe.target}: perplexity needs token probabilities, which an endpoint does not give here",
                             hint="leave perplexity out of --metrics for an endpoint")
    if not endpoint and model_to_prepare(recipe.target) is None:
        from ..chat.locate import resolve_target

        from ..eval.answerers import refuse_unsupported

        refuse_unsupported(resolve_target(recipe.target, adapter=recipe.adapter), recipe.target)  # or names what it is not
    data = recipe.data
    if data is not None:
        if not Path(data).expanduser().exists() and data not in DEMO_ALIASES:
            raise WorkbenchError(f"no such eval data: {data}")
    else:
        data = default_data(recipe.target)
    load_examples(data, 1)  # raises when no row has a reference answer
    return LaunchNeeds()


def check_distill(recipe: Any) -> LaunchNeeds:
    """What no flag fixes: a teacher that names nothing, a student it cannot give, missing prompts or card data."""
    from ..data.sources import DEMO_ALIASES
    from ..distill.generate_stage import is_endpoint
    from ..distill.estimate import teacher_folder
    from ..distill.student import model_cost

    teacher = recipe.teacher
    if teacher is not None and is_endpoint(teacher):
        if recipe.student.keep_layers is not None:
            raise WorkbenchError(f"{teacher}: a remote teacher has no weights to cut a keep_layers student from",
                                 hint="give the student as student.model (a smaller local model)")
        if recipe.method != "sft":
            raise WorkbenchError(f"{teacher}: {recipe.method} needs the teacher's logits in the training process; "
                                 "an endpoint gives only text", hint="use method: sft (train on its answers)")
    elif recipe.student.keep_layers is not None:
        folder, _unknown = teacher_folder(recipe)  # the pane's estimate resolves it the same way, unloaded
        layers = model_cost(folder).layers if folder is not None else None
        if layers is not None and recipe.student.keep_layers >= layers:
            raise WorkbenchError(f"student.keep_layers {recipe.student.keep_layers} is not below the teacher's "
                                 f"{layers} layers", hint=f"keep 1 to {layers - 1} layers")
    elif teacher is not None and recipe.method in ("gkd", "distillation") and recipe.student.model is not None:
        _refuse_vocabulary_mismatch(recipe, teacher)
    from ...config.generate import GenerateRecipe
    from ..distill.generate_stage import resolve_inputs

    resolve_inputs(GenerateRecipe.model_validate({**recipe.generate.model_dump(), "teacher": teacher or "teacher"}))
    card = recipe.card.data
    if card is not None and card not in DEMO_ALIASES and not Path(card).expanduser().exists():
        raise WorkbenchError(f"card.data: no such file or folder: {card}")
    return LaunchNeeds()


def _refuse_vocabulary_mismatch(recipe: Any, teacher: str) -> None:
    """Logit KD between tokenizers that differ: refused before the teacher answers a single prompt."""
    from ..train.teacher import teacher_tokenizer_folder
    from ..models.resolve import parse_model
    from ..models.variants import split_variant
    from ..train.kd import vocabulary_mismatch

    teacher_folder = teacher_tokenizer_folder(split_variant(teacher).base)
    student = parse_model(recipe.student.model)
    if teacher_folder is not None and student.prepared:
        why = vocabulary_mismatch(student.folder, teacher_folder, recipe.method, teacher)
        if why:
            raise WorkbenchError(why)


def _device() -> str:
    from .. import system

    return "cuda" if system.gpus() else "cpu"


def _gib(value: float) -> str:
    gib = value / 2**30
    return f"{gib:.1f} GiB" if gib < 1e5 else f"{gib:.2g} GiB"


def train_needs(recipe: Any, model_folder: Path | None, device: str) -> list[DiskNeed]:
    from ..models.info import safetensors_parameters
    from ..train.memory import lora_parameters

    runs = paths.runs_dir()
    needs = _raw_data_need(Path(recipe.data).expanduser(), runs, "the prepared copy of the data")
    if model_folder is None:
        return needs
    params = safetensors_parameters(model_folder)
    weight = 2.0 if recipe.precision in ("bf16", "fp16") or (recipe.precision == "auto" and device == "cuda") else 4.0
    if recipe.method == "full":
        checkpoint = params * (weight + 8.0)  # weights + two fp32 AdamW states
        artifacts = params * weight
    else:
        config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
        adapter = lora_parameters(config, recipe.lora.r, recipe.lora.target_modules)
        checkpoint = adapter * (4.0 + 8.0)
        artifacts = adapter * 4.0 + (params * weight if recipe.merge else 0.0)
    kept = recipe.save_total_limit + 1  # the next is written before the oldest goes
    needs.append(DiskNeed(runs, checkpoint * kept + artifacts, f"{kept} checkpoints + artifacts"))
    return needs


def export_needs(model: str, variants: list[str], *, overwrite: bool = False) -> list[DiskNeed]:
    from ..export.presets import PRESETS
    from ..export.source import resolve_source
    from ..models.info import safetensors_parameters

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


def prepare_model_needs(model: str, force: bool) -> list[DiskNeed]:
    from ..models.builtin import BUILTIN_MODELS
    from ..models.gguf_convert import inspect_gguf
    from ..models.resolve import parse_model

    try:
        ref = parse_model(model)
        if ref.kind in ("folder", "hub") or (ref.prepared and not force):
            return []
        gguf = BUILTIN_MODELS[ref.name].gguf_path() if ref.kind == "builtin" else Path(ref.source)
        fp32 = inspect_gguf(gguf).fp32_bytes
    except WorkbenchError:
        return []
    return [DiskNeed(ref.folder.parent, fp32, f"{ref.name} in fp32")]


def prepare_data_needs(source: str, output: str) -> list[DiskNeed]:
    return _raw_data_need(Path(source).expanduser(), Path(output).expanduser(), "the prepared dataset")


def _raw_data_need(source: Path, target: Path, what: str) -> list[DiskNeed]:
    if (source / "manifest.json").is_file() or not source.exists():
        return []  # already prepared, or not a local file (slmw:demo, a hub id: small or unknown)
    size = sum(f.stat().st_size for f in source.rglob("*") if f.is_file()) if source.is_dir() else source.stat().st_size
    return [DiskNeed(target, size * DATA_EXPANSION, what)]
