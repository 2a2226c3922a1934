"""Build the requested variants of one source, each into its place in the variant layout.

Each variant is written aside (``.NAME.partial-PID``), loaded back and run for a few tokens
(the 0.18 builder can write graphs that do not load, e.g. asymmetric weights shared by the
embedding and lm_head), described in ``slmw_variant.json``, then renamed into place. A
variant already built is kept unless ``overwrite`` is set. Post-pass variants (``int4-hq``,
``int4-cal``, ``int4-olive``) start from the fp32 build: the one in place, or a scratch one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..fsutil import replace_dir
from ..models.variants import VARIANT_INFO_FILE
from .builder import run_builder
from .genai_folder import logits_output
from ...config.presets import VariantPreset
from ..model_source import ModelSource

VariantProgress = Callable[[str, str, float, float], None]
"""(variant, message, done, total)."""


@dataclass
class BuiltVariant:
    name: str
    label: str
    folder: Path
    precision: str
    path: str
    size_bytes: int
    seconds: float
    reused: bool = False
    verified: bool = True
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["folder"] = str(self.folder)
        return out


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def execution_provider_for(preset: VariantPreset, requested: str) -> str:
    return "cuda" if preset.precision == "fp16" else requested


def calibration_source(source: ModelSource, preset: VariantPreset) -> str:
    """What a calibrated variant is fitted on: the preset's data, else the run's training data (its prepared
    dataset: the train split), else the shipped demo data."""
    if preset.calibration_data:
        return preset.calibration_data
    if source.run is not None:
        trained_on = source.run.datasets()
        if trained_on:
            return str(trained_on[0])
    return "slmw:demo"


def verify_variant(folder: Path, threads: int = 1) -> None:
    """Load the folder with ONNX Runtime GenAI and decode two tokens; raise if it cannot."""
    import numpy as np
    import onnxruntime_genai as og

    try:
        config = og.Config(str(folder))
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
        model = og.Model(config)
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=8, batch_size=1)
        gen = og.Generator(model, params)
        gen.append_tokens([1, 2, 3])
        logits = gen.get_output(logits_output(json.loads((folder / "genai_config.json").read_text(encoding="utf-8"))))
        gen.generate_next_token()
    except Exception as exc:  # noqa: BLE001 - ORT raises RuntimeError/others for a bad graph
        raise WorkbenchError(f"the built variant in {folder} does not load or run: {str(exc).splitlines()[0][:300]}") from None
    if not np.isfinite(logits).all():
        raise WorkbenchError(f"the built variant in {folder} produces non-finite logits")


def _write_info(folder: Path, preset: VariantPreset, source: ModelSource, seconds: float, notes: list[str],
                stats: dict[str, Any] | None, execution_provider: str) -> None:
    import onnxruntime_genai

    info = {
        "variant": preset.name,
        "label": source.label(preset.name),
        "description": preset.description,
        **preset.settings(),
        "execution_provider": execution_provider,
        "source": {"spec": source.spec, "kind": source.kind, "name": source.name, "folder": str(source.hf_folder)},
        "onnxruntime_genai": onnxruntime_genai.__version__,
        "seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "notes": notes,
    }
    if stats:
        info["quantization_stats"] = stats
    (folder / VARIANT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def read_variant_info(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / VARIANT_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def export_variants(
    source: ModelSource,
    presets: list[VariantPreset],
    *,
    work_dir: Path,
    execution_provider: str = "cpu",
    overwrite: bool = False,
    threads: int | None = None,
    on_progress: VariantProgress = lambda variant, message, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
    on_built: Callable[[BuiltVariant], None] = lambda variant: None,
) -> list[BuiltVariant]:
    """Build ``presets`` of ``source`` in order; ``on_built`` hears of each as soon as it is in place
    (or found already built), ``on_progress`` of each step before."""
    if source.hf_folder is None:
        raise WorkbenchError(f"{source.spec}: the adapter must be merged first (merge_adapter)")
    work_dir.mkdir(parents=True, exist_ok=True)
    cache = work_dir / "builder-cache"
    built: list[BuiltVariant] = []
    scratch_fp32: Path | None = None
    try:
        for preset in presets:
            check_cancelled()
            target = source.variant_dir(preset.name)
            if (target / "genai_config.json").is_file() and not overwrite:
                built.append(BuiltVariant(preset.name, source.label(preset.name), target, preset.precision, preset.path,
                                          folder_bytes(target), 0.0, reused=True,
                                          notes=read_variant_info(target).get("notes", [])))
                on_built(built[-1])
                continue
            ep = execution_provider_for(preset, execution_provider)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.parent / f".{target.name}.partial-{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            started = time.monotonic()
            notes: list[str] = []
            stats: dict[str, Any] | None = None

            def progress(message: str, done: float, total: float, _name: str = preset.name) -> None:
                on_progress(_name, message, done, total)

            try:
                if preset.path == "builder":
                    run_builder(source.hf_folder, partial, precision=preset.precision, execution_provider=ep,
                                options=preset.builder_options(), cache_dir=cache, log=work_dir / f"build-{preset.name}.log",
                                check_cancelled=check_cancelled, on_progress=progress, threads=threads)
                else:
                    fp32 = source.variant_dir("fp32")
                    if not (fp32 / "genai_config.json").is_file():
                        if scratch_fp32 is None:
                            scratch_fp32 = work_dir / "fp32-scratch"
                            shutil.rmtree(scratch_fp32, ignore_errors=True)
                            progress("building the fp32 graph first", 0, 1)
                            run_builder(source.hf_folder, scratch_fp32, precision="fp32", execution_provider="cpu",
                                        cache_dir=cache, log=work_dir / "build-fp32-scratch.log",
                                        check_cancelled=check_cancelled, threads=threads)
                        fp32 = scratch_fp32
                    if preset.path == "offset4":
                        from .offset_quant import quantize_offset4

                        stats = quantize_offset4(fp32, partial, block_size=preset.block_size,
                                                 accuracy_level=preset.accuracy_level, on_progress=progress,
                                                 check_cancelled=check_cancelled).as_dict()
                    elif preset.path == "gptq":
                        from .calibrated import calibration_ids, quantize_calibrated

                        data = calibration_source(source, preset)
                        progress(f"reading calibration data {data}", 0, 1)
                        sequences = calibration_ids(source.hf_folder, data, preset.calibration_samples)
                        calibrated = quantize_calibrated(fp32, partial, sequences=sequences, block_size=preset.block_size,
                                                         accuracy_level=preset.accuracy_level, symmetric=preset.symmetric,
                                                         offsets=preset.offsets,
                                                         threads=threads, on_progress=progress,
                                                         check_cancelled=check_cancelled)
                        stats = {**calibrated.as_dict(), "calibration_data": data}
                        notes.append(f"calibrated on {calibrated.sequences} sequences ({calibrated.tokens} tokens) of {data}")
                    else:
                        from .olive_path import run_olive_rtn

                        progress("olive quantize (rtn int4)", 0, 1)
                        notes += run_olive_rtn(fp32, partial, scratch=work_dir / "olive", log=work_dir / "olive.log",
                                               check_cancelled=check_cancelled, threads=threads)
                if not (partial / "genai_config.json").is_file():
                    raise WorkbenchError(f"building {preset.name} wrote no genai_config.json", hint=f"see {work_dir}")
                verified = ep == "cpu"
                if verified:
                    progress("loading it back", 0, 1)
                    verify_variant(partial)
                else:
                    notes.append(f"not loaded back here: built for the {ep} execution provider")
                seconds = time.monotonic() - started
                _write_info(partial, preset, source, seconds, notes, stats, ep)
                replace_dir(partial, target)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            built.append(BuiltVariant(preset.name, source.label(preset.name), target, preset.precision, preset.path,
                                      folder_bytes(target), round(seconds, 1), verified=verified, notes=notes))
            on_built(built[-1])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if scratch_fp32 is not None:
            shutil.rmtree(scratch_fp32, ignore_errors=True)
    return built
