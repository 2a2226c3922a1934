"""What a chat target names, without loading anything.

A target is what ``engine/model_source.py`` resolves (an ``http(s)://`` endpoint, an ONNX
Runtime GenAI folder, ``MODEL:VARIANT`` / ``RUN:VARIANT``, a model, a training run), as the
backend that opens it: a run chats through its merged/full model, else its base model plus
its LoRA adapter.

``BASE+ADAPTER`` names a LoRA adapter (a run id, a PEFT folder or an ``.onnx_adapter``
file) over an ONNX adapter base (``MODEL:lora-fp32``; ``engine/adapters/lora.py``): the
base loads once and the adapter can be switched per answer (``GenParams.adapter``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ..adapters.lora import split_adapter_model
from ..errors import ModelNotFoundError
from ..model_source import ANY_SOURCE, resolve_adapter, resolve_source
from ..models.variants import is_variant_folder

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


def resolve_target(spec: str, *, adapter: str | None = None) -> Target:
    """What ``spec`` names (``model_source.resolve_source``), as the backend that opens it."""
    spec = spec.strip()
    local = not spec.startswith(("http://", "https://")) and not is_variant_folder(Path(spec).expanduser())
    if local:
        base, onnx_adapter = split_adapter_model(spec)
        if onnx_adapter is not None:
            target = resolve_target(base)
            if target.kind != "onnx":
                raise ModelNotFoundError(f"{base} is not an ONNX model: an adapter after '+' needs an ONNX adapter base",
                                         hint=f"e.g. {base}:lora-fp32+{onnx_adapter}")
            return replace(target, spec=spec, onnx_adapter=onnx_adapter)
    adapter_dir = resolve_adapter(adapter) if adapter and local else None
    source = resolve_source(spec, accept=ANY_SOURCE)
    if source.kind == "endpoint":
        return Target(spec, "http")
    if source.kind in ("onnx", "variant"):
        return Target(spec, "onnx", source.folder, variant=source.variant)
    if source.hf_folder is not None:
        return Target(spec, "transformers", source.hf_folder, adapter=adapter_dir)
    return Target(spec, "transformers", source.base_folder, adapter=adapter_dir or source.adapter)
