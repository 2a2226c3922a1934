"""What a chat target names, without loading anything.

A target is, in this order: an ``http(s)://`` endpoint; an ONNX Runtime GenAI folder; a
variant ``MODEL:VARIANT`` or ``RUN:VARIANT`` (see ``models/variants.py``); a model the
workbench resolves (built-in name, HF folder, prepared name, hub id); or a training run,
which chats through its merged/full model, else its base model plus its LoRA adapter.

``BASE+ADAPTER`` names a LoRA adapter (a run id, a PEFT folder or an ``.onnx_adapter``
file) over an ONNX adapter base (``MODEL:lora-fp32``; ``engine/deploy/adapters.py``): the
base loads once and the adapter can be switched per answer (``GenParams.adapter``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ..deploy.adapters import split_adapter_model
from ..errors import ModelNotFoundError
from ..models.resolve import parse_model
from ..models.variants import VariantSet, split_variant
from ..runs.run import Run

Kind = Literal["transformers", "onnx", "http"]


@dataclass(frozen=True)
class Target:
    spec: str
    kind: Kind
    folder: Path | None = None
    """The HF folder (transformers) or the variant folder (onnx); None for http."""
    adapter: Path | None = None
    variant: str | None = None
    onnx_adapter: str | None = None
    """The adapter named after ``+`` over an ONNX adapter base (answers use it unless told otherwise)."""

    @property
    def label(self) -> str:
        return self.spec


def resolve_adapter(spec: str) -> Path:
    """A PEFT adapter folder, or a run id whose run left one."""
    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        return path.resolve()
    run = Run.find(spec)
    adapter = run.adapter() if run is not None else None
    if adapter is None:
        raise ModelNotFoundError(f"no LoRA adapter at {spec}", hint="give a training run id with an adapter, or an adapter folder")
    return adapter


def resolve_target(spec: str, *, adapter: str | None = None) -> Target:
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return Target(spec, "http")
    path = Path(spec).expanduser()
    if (path / "genai_config.json").is_file():
        return Target(spec, "onnx", path.resolve())
    base, onnx_adapter = split_adapter_model(spec)
    if onnx_adapter is not None:
        target = resolve_target(base)
        if target.kind != "onnx":
            raise ModelNotFoundError(f"{base} is not an ONNX model: an adapter after '+' needs an ONNX adapter base",
                                     hint=f"e.g. {base}:lora-fp32+{onnx_adapter}")
        return replace(target, spec=spec, onnx_adapter=onnx_adapter)
    adapter_dir = resolve_adapter(adapter) if adapter else None
    named = split_variant(spec)
    if named.variant is not None:
        try:
            ref = parse_model(named.base)
        except ModelNotFoundError:
            run = Run.find(named.base)
            if run is None:
                raise
            return Target(spec, "onnx", run.variants.dir(named.variant), variant=named.variant)
        return Target(spec, "onnx", VariantSet.of_model(ref.name).dir(named.variant), variant=named.variant)
    try:
        return Target(spec, "transformers", parse_model(spec).require_prepared(), adapter=adapter_dir)
    except ModelNotFoundError:
        run = Run.find(spec)
        if run is None:
            raise
    run.require_model()
    folder = run.model_folder()
    if folder is not None:
        return Target(spec, "transformers", folder, adapter=adapter_dir)
    return Target(spec, "transformers", run.base_model(), adapter=adapter_dir or run.adapter())
