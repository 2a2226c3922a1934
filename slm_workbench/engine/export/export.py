"""Build the requested variants of one source, each into its place in the variant layout.

Each variant is written aside (``.NAME.partial-PID``), loaded back and run for a few tokens
(the 0.18 builder can write graphs that do not load, e.g. asymmetric weights shared by the
embedding and lm_head), described in ``slmw_variant.json``, then renamed into place. A
variant already built (complete: ``models/variants.incomplete_reason``) is kept unless ``overwrite``
is set; a half-written one, left by a writer that died, is refused by name (``overwrite`` rebuilds
it), and dead writers' ``.partial-PID`` folders beside it are removed first. Post-pass variants (``int4-hq``,
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
from ..fsutil import remove_dead_leftovers, replace_dir
from ..models.variants import VARIANT_INFO_FILE, incomplete_reason, variant_complete
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
    settings: dict[str, Any] = field(default_factory=dict)
    """What made the weights (block size, symmetry, accuracy level, algorithm, calibration data and its hash ...)."""
    settings_hash: str = ""
    quantized_share: float | None = None
    """The share of the matrix weights (MatMul and embedding) held in 4/8 bits; the rest stayed fp32."""

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


def data_hash(data: str) -> str:
    """sha256 (16 hex) of what ``data`` holds: a file's bytes, a dataset folder's train split files, the demo data."""
    import hashlib

    from ..data.sources import DEMO_ALIASES

    if data in DEMO_ALIASES:
        from ...demo import DEMO_DATASET

        data = str(DEMO_DATASET)
    path = Path(data).expanduser()
    digest = hashlib.sha256()
    if path.is_dir():
        train = path / "train" if (path / "train").is_dir() else path
        for item in sorted(p for p in train.rglob("*") if p.is_file()):
            digest.update(item.relative_to(train).as_posix().encode())
            digest.update(item.read_bytes())
    elif path.is_file():
        digest.update(path.read_bytes())
    else:
        raise WorkbenchError(f"calibration data: no such file or folder: {path}")
    return digest.hexdigest()[:16]


def variant_identity(preset: VariantPreset, source: ModelSource) -> dict[str, Any]:
    """Every setting that changes the variant's weights (``preset.settings()``), with the calibration data
    resolved and its content hash for a calibrated variant."""
    identity = dict(preset.settings())
    if preset.path == "gptq":
        if preset.algorithm == "ort-hqq":  # data-free
            identity.pop("calibration_data", None)
            identity.pop("calibration_samples", None)
        else:
            data = calibration_source(source, preset)
            identity.update(calibration_data=data, calibration_data_sha256=data_hash(data))
    return identity


def settings_hash(identity: dict[str, Any]) -> str:
    import hashlib

    keep = {k: v for k, v in identity.items() if k != "calibration_data"}  # the content hash stands for the data
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


LEGACY_SETTINGS = ("precision", "path", "block_size", "accuracy_level", "symmetric")
"""What ``slmw_variant.json`` recorded at its top level before it had a ``settings`` section."""


def stale_reason(info: dict[str, Any], identity: dict[str, Any]) -> str | None:
    """Why a built variant (its ``slmw_variant.json``) is not what ``identity`` asks for; None when it is.

    A variant built before ``settings`` were recorded is judged by the knobs its file already held at its
    top level (precision, path, block size, accuracy level, symmetry): an ``int8`` built symmetric is not
    the asymmetric ``int8`` of today, and is refused rather than measured under that name."""
    recorded = info.get("settings")
    if not isinstance(recorded, dict):
        legacy = [k for k in LEGACY_SETTINGS if k in info and k in identity and info[k] != identity[k]]
        if legacy:
            return "was built with other settings: " + ", ".join(
                f"{k} {info[k]!r} (asked {identity[k]!r})" for k in legacy)
        return None
    if recorded.get("calibration_data_sha256") != identity.get("calibration_data_sha256"):
        return (f"was built from other calibration data ({recorded.get('calibration_data')}, "
                f"sha256 {recorded.get('calibration_data_sha256')}; asked: {identity.get('calibration_data')}, "
                f"sha256 {identity.get('calibration_data_sha256')})")
    differ = [f"{k} {recorded.get(k)!r} (asked {identity.get(k)!r})" for k in sorted(set(recorded) | set(identity))
              if k != "calibration_data" and recorded.get(k) != identity.get(k)]
    return f"was built with other settings: {', '.join(differ)}" if differ else None


def quantized_share(folder: Path) -> tuple[float | None, list[str]]:
    """The share of matrix weights (MatMul and token embedding) held quantized in ``folder``'s graph, and the
    fp32 matrices left ("name [K x N]")."""
    import onnx

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    quantized = plain = 0
    left: list[str] = []
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "MatMulNBits":
            quantized += attrs["K"].i * attrs["N"].i
        elif node.op_type == "GatherBlockQuantized":
            d = dims.get(node.input[0], [])
            quantized += (d[0] * (d[1] * 8 // attrs["bits"].i if "bits" in attrs else d[1] * 2)) if len(d) == 2 else 0
        elif node.op_type in ("MatMul", "Gather") and node.input[0 if node.op_type == "Gather" else 1] in dims:
            d = dims[node.input[0 if node.op_type == "Gather" else 1]]
            if len(d) == 2 and d[0] * d[1] > 1024:
                plain += d[0] * d[1]
                left.append(f"{node.name} [{d[0]} x {d[1]}]")
    total = quantized + plain
    return (round(quantized / total, 4) if total else None), left


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
                stats: dict[str, Any] | None, execution_provider: str, identity: dict[str, Any]) -> dict[str, Any]:
    import onnxruntime_genai

    share, left = quantized_share(folder)
    if share is not None and preset.quantized and share < 0.999:
        notes.append(f"{share:.1%} of the matrix weights are quantized; fp32: {', '.join(left[:4])}"
                     + (f" and {len(left) - 4} more" if len(left) > 4 else ""))
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
        "settings": identity,
        "settings_hash": settings_hash(identity),
        "quantized_share": share,
        "fp32_matrices": left,
    }
    if stats:
        info["quantization_stats"] = stats
    (folder / VARIANT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


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
    identities = {p.name: variant_identity(p, source) for p in presets}
    for preset in presets:  # before any build: never measure, nor half-build beside, a variant made otherwise
        target = source.variant_dir(preset.name)
        remove_dead_leftovers(target.parent)
        half = incomplete_reason(target)
        if half is not None and not overwrite:  # left by a writer that died: refused by name, never used
            raise WorkbenchError(f"variant {source.label(preset.name)} at {target} is half-written: {half}",
                                 hint="--overwrite rebuilds it")
        if variant_complete(target) and not overwrite:
            reason = stale_reason(read_variant_info(target), identities[preset.name])
            if reason:
                raise WorkbenchError(f"variant {preset.name} {reason}; --overwrite rebuilds it")
    try:
        for preset in presets:
            check_cancelled()
            target = source.variant_dir(preset.name)
            identity = identities[preset.name]
            if variant_complete(target) and not overwrite:
                info = read_variant_info(target)
                built.append(BuiltVariant(preset.name, source.label(preset.name), target, preset.precision, preset.path,
                                          folder_bytes(target), 0.0, reused=True, notes=info.get("notes", []),
                                          settings=info.get("settings") or {}, settings_hash=info.get("settings_hash", ""),
                                          quantized_share=info.get("quantized_share")))
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
                    if not variant_complete(fp32):
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
                        sequences = ([] if preset.algorithm == "ort-hqq"
                                     else calibration_ids(source.hf_folder, data, preset.calibration_samples))
                        calibrated = quantize_calibrated(fp32, partial, sequences=sequences, block_size=preset.block_size,
                                                         accuracy_level=preset.accuracy_level, symmetric=preset.symmetric,
                                                         offsets=preset.offsets, offsets_in=preset.offsets_in,
                                                         head_bits=preset.head_bits, algorithm=preset.algorithm,
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
                info = _write_info(partial, preset, source, seconds, notes, stats, ep, identity)
                replace_dir(partial, target)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            built.append(BuiltVariant(preset.name, source.label(preset.name), target, preset.precision, preset.path,
                                      folder_bytes(target), round(seconds, 1), verified=verified, notes=notes,
                                      settings=identity, settings_hash=info["settings_hash"],
                                      quantized_share=info["quantized_share"]))
            on_built(built[-1])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if scratch_fp32 is not None:
            shutil.rmtree(scratch_fp32, ignore_errors=True)
    return built
