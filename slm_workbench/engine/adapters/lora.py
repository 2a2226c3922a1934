"""Several LoRA runs over one ONNX base: each run's adapter as one ``.onnx_adapter`` file.

A base (``MODEL:lora-fp32``, ``lora-int8``, ``lora-int4``; ``base.py``) takes
LoRA weights as inputs. A run's PEFT adapter becomes ``<run>/artifacts/onnx-adapter/
<model>.onnx_adapter``: ONNX Runtime's adapter format (``onnxruntime.AdapterFormat``),
holding for each adapted layer ``A`` transposed and ``B * scaling`` transposed, named as
the base's inputs (the GenAI builder folds the scaling into B the same way). The file is
fp32 and serves every precision of that model's base; it is written on first use and again
when the adapter is newer than the file.

Naming an adapter over a base: ``BASE+ADAPTER`` everywhere (``smollm2-135m-instruct:
lora-fp32+RUN_ID``; ADAPTER is a run id, a PEFT adapter folder or an ``.onnx_adapter``
file); the server also takes the OpenAI-style ``base:adapter`` for a base it serves
(``split_adapter_model``).

An adapter trained on another model is refused, naming both models: the run's base model
(its lineage) is compared with the model the ONNX base was exported from by fingerprint
(``fingerprint.py``), and every adapted layer must exist in the base with its shape.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import ModelFormatError, ModelNotFoundError, WorkbenchError
from ..runs.run import Run
from .base import LORA_BASE_FILE, read_lora_base
from .fingerprint import model_fingerprint

ADAPTER_SUFFIX = ".onnx_adapter"
SEPARATOR = "+"


class AdapterBaseMismatch(WorkbenchError):
    """An adapter trained on another model than the one an adapter base was exported from (the message names both)."""


PEFT_WEIGHT = re.compile(r"layers\.(?P<layer>\d+)\.(?:.*\.)?(?P<module>\w+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$")


def split_adapter_model(name: str, bases: Iterable[str] | None = None) -> tuple[str, str | None]:
    """``"base+adapter"`` -> (base, adapter); with ``bases`` (the names a server holds) also
    ``"base:adapter"`` for one of them; anything else -> (name, None). A name that is one of
    ``bases`` is never split (``model:int4`` stays a variant)."""
    known = set(bases or ())
    if name in known:
        return name, None
    base, sep, adapter = name.rpartition(SEPARATOR)
    if sep and base and adapter and not Path(name).exists():
        return base, adapter
    for candidate in sorted(known, key=len, reverse=True):
        if name.startswith(candidate + ":") and len(name) > len(candidate) + 1:
            return candidate, name[len(candidate) + 1:]
    return name, None


def require_lora_base(base_dir: Path, spec: str) -> dict[str, Any]:
    info = read_lora_base(base_dir)
    if info is None:
        raise ModelFormatError(f"{spec} takes no adapters (no {LORA_BASE_FILE} in {base_dir})",
                               hint="use an adapter base, e.g. MODEL:lora-fp32 (built on first use)")
    return info


def _base_name(info: dict[str, Any]) -> str:
    return Path(str(info.get("source", "model"))).name


def _peft_tensors(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.numpy import load_file

    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read the LoRA adapter in {adapter_dir}: {exc}") from None
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora") or config.get("modules_to_save") \
            or config.get("alpha_pattern") or config.get("lora_bias"):
        raise ModelFormatError(f"the adapter in {adapter_dir} is not a plain LoRA (DoRA, saved modules, per-layer "
                               "alphas or biases cannot be fed to an ONNX base)", hint="merge it and export instead")
    return config, weights


def convert_adapter(adapter_dir: Path, base_dir: Path, out: Path, *, what: str) -> Path:
    """Write ``adapter_dir`` (PEFT) as the ``.onnx_adapter`` for the base in ``base_dir``."""
    import numpy as np
    import onnxruntime as ort

    info = require_lora_base(base_dir, str(base_dir))
    config, weights = _peft_tensors(Path(adapter_dir))
    slots = {}
    for name, (ab, rows, cols) in info["inputs"].items():
        match = re.match(r".*layers\.(\d+)\.(?:.*\.)?(\w+)\.lora_([AB])\.MatMul\.weight$", name)
        if match:
            slots[match.groups()] = (name, rows if ab == "A" else cols)
    alpha, rslora = float(config.get("lora_alpha", 8)), bool(config.get("use_rslora"))
    params = {}
    for key, tensor in weights.items():
        match = PEFT_WEIGHT.search(key)
        slot = slots.get(match.groups()) if match else None
        # A is (r, in), B is (out, r); the base's A input is (in, r), its B input (r, out).
        width = tensor.shape[1] if match and match["ab"] == "A" else tensor.shape[0]
        if slot is None or slot[1] != width:
            raise AdapterBaseMismatch(
                f"{what} was trained on another model: its layer {key} {list(tensor.shape)} has no place in the "
                f"base exported from {info.get('source')} ({base_dir})",
                hint="export an adapter base from the model the run trained on")
        rank = tensor.shape[0] if match["ab"] == "A" else tensor.shape[1]
        scale = alpha / (rank ** 0.5 if rslora else rank)
        array = tensor.astype(np.float32).T if match["ab"] == "A" else (tensor.astype(np.float32) * scale).T
        params[slot[0]] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
    if not params:
        raise ModelFormatError(f"the adapter in {adapter_dir} holds no LoRA weights")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    adapter = ort.AdapterFormat()
    adapter.set_adapter_version(1)
    adapter.set_model_version(1)
    adapter.set_parameters(params)
    adapter.export_adapter(str(partial))
    meta = {"adapter": str(adapter_dir), "base_source": info.get("source"), "fingerprint": info.get("fingerprint"),
            "layers": len(params)}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(partial, out)
    return out


def check_same_base(trained_on: Path, base_dir: Path, what: str) -> None:
    """Refuse an adapter trained on another model than the one the base was exported from."""
    info = require_lora_base(base_dir, str(base_dir))
    if Path(trained_on).resolve() == Path(str(info.get("source"))).resolve():
        return
    if model_fingerprint(trained_on) != info.get("fingerprint"):
        raise AdapterBaseMismatch(
            f"{what} was trained on {trained_on}, not on {info.get('source')} (the model the adapter base "
            f"{base_dir} was exported from)", hint="pick a base exported from the run's model, or another run")


def run_adapter_file(run: Run, base_dir: Path) -> Path:
    """The run's ``.onnx_adapter`` for this base: converted on first use, again when the adapter changed."""
    adapter = run.adapter()
    if adapter is None:
        raise ModelNotFoundError(f"run {run.id} has no LoRA adapter ({run.artifact('adapter')})",
                                 hint="adapters over a base come from LoRA training runs")
    info = require_lora_base(base_dir, str(base_dir))
    check_same_base(run.base_model(), base_dir, f"run {run.id}")
    out = run.onnx_adapter_dir / f"{_base_name(info)}{ADAPTER_SUFFIX}"
    weights = adapter / "adapter_model.safetensors"
    fresh = out.is_file() and weights.is_file() and out.stat().st_mtime >= weights.stat().st_mtime
    if not fresh or _meta(out).get("fingerprint") != info.get("fingerprint"):
        convert_adapter(adapter, base_dir, out, what=f"run {run.id}")
    return out


def _meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def adapter_file(spec: str, base_dir: Path) -> Path:
    """The ``.onnx_adapter`` ``spec`` names for this base: a file, a PEFT adapter folder or a run id."""
    path = Path(spec).expanduser()
    if path.suffix == ADAPTER_SUFFIX and path.is_file():
        meta = _meta(path)
        fingerprint = require_lora_base(base_dir, str(base_dir)).get("fingerprint")
        if meta.get("fingerprint") not in (None, fingerprint):
            raise AdapterBaseMismatch(f"the adapter {path} was made for {meta.get('base_source')}, not for the base {base_dir}")
        return path.resolve()
    if (path / "adapter_config.json").is_file():
        trained_on = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        if isinstance(trained_on, str) and (Path(trained_on) / "config.json").is_file():
            check_same_base(Path(trained_on), base_dir, f"the adapter {path}")
        digest = model_fingerprint(path)  # the adapter's own files: one conversion per version of it
        out = paths.cache_dir() / "onnx-adapters" / f"{path.name}-{digest}{ADAPTER_SUFFIX}"
        return out if out.is_file() else convert_adapter(path, base_dir, out, what=f"the adapter {path}")
    from ..model_source import find_adapter_run

    return run_adapter_file(find_adapter_run(spec), base_dir)


def adapter_choices(base_dir: Path, run_store: Any = None) -> list[tuple[str, str]]:
    """(run id, label) of every finished run with a LoRA adapter trained on this base's model, newest first."""
    from ..runs.store import RunStore

    info = read_lora_base(base_dir)
    if info is None:
        return []
    store = run_store or RunStore()
    found, fingerprints = [], {}
    for run_info in store.list():
        run = Run(Path(run_info.dir))
        if run.adapter() is None:
            continue
        try:
            base = run.base_model()
        except WorkbenchError:
            continue
        key = str(base)
        if key not in fingerprints:
            fingerprints[key] = model_fingerprint(base) if base.resolve() != Path(str(info["source"])).resolve() \
                else info["fingerprint"]
        if fingerprints[key] == info["fingerprint"]:
            found.append((run.id, f"{run.id} · {run_info.title or 'LoRA'}"))
    return found
