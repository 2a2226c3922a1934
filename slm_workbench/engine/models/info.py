"""Facts about a prepared model, read from its files without loading torch."""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .builtin import BUILTIN_MODELS
from .chat_template import PROVENANCE_KEY, has_template_files
from .gguf_convert import PROVENANCE_FILE
from .resolve import ModelRef


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    source: str
    folder: str
    prepared: bool
    description: str = ""
    upstream: str = ""
    license: str = ""
    architecture: str = ""
    parameters: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    context_length: int | None = None
    dtype: str = ""
    size_bytes: int | None = None
    chat_template: str | None = None
    """``none`` (a base model), ``own`` (the model brought it), ``chatml``, ``gemma``, ``file:PATH``;
    None while the model is not prepared (``chat_template.describe`` words it for a table)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def safetensors_shapes(folder: Path) -> dict[str, list[int]]:
    """Every tensor's shape from the safetensors headers (8-byte length + JSON); no tensor is read."""
    shapes: dict[str, list[int]] = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        with open(file, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        shapes.update({key: list(meta["shape"]) for key, meta in header.items() if key != "__metadata__"})
    return shapes


def numel(shape: list[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def safetensors_parameters(folder: Path) -> int:
    """Count parameters from safetensors headers, no tensor reads."""
    return sum(numel(shape) for shape in safetensors_shapes(folder).values())


def model_info(ref: ModelRef) -> ModelInfo:
    builtin = BUILTIN_MODELS.get(ref.name) if ref.kind == "builtin" else None
    base = dict(
        name=ref.name,
        kind=ref.kind,
        source=ref.source,
        folder=str(ref.folder),
        prepared=ref.prepared,
        description=builtin.description if builtin else "",
        upstream=builtin.upstream if builtin else "",
        license=builtin.license if builtin else "",
    )
    if not ref.prepared:
        return ModelInfo(**base)
    config = json.loads((ref.folder / "config.json").read_text(encoding="utf-8"))
    return ModelInfo(
        **base,
        architecture=",".join(config.get("architectures") or [config.get("model_type", "?")]),
        parameters=safetensors_parameters(ref.folder) or None,
        layers=config.get("num_hidden_layers"),
        hidden_size=config.get("hidden_size"),
        vocab_size=config.get("vocab_size"),
        context_length=config.get("max_position_embeddings"),
        dtype=str(config.get("dtype") or config.get("torch_dtype") or ""),
        size_bytes=sum(f.stat().st_size for f in ref.folder.rglob("*") if f.is_file()),
        chat_template=folder_template(ref.folder),
    )


def folder_template(folder: Path) -> str:
    """The template a prepared folder's provenance records (``own``, ``none``, ``chatml``, ``gemma``,
    ``file:PATH``), else whether its tokenizer files carry one (``own``/``none``)."""
    try:
        recorded = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8")).get(PROVENANCE_KEY)
    except (OSError, ValueError, AttributeError):
        recorded = None
    if isinstance(recorded, str) and recorded:
        return recorded
    return "own" if has_template_files(folder) else "none"
