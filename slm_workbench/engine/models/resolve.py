"""What a model reference means, and where its Hugging Face folder is (or will be).

A reference is, in this order: a built-in name (``smollm2-135m-instruct``), an existing
path (an HF folder with ``config.json``, or a ``.gguf`` file), the name of a folder already
prepared under ``<home>/models``, or a hub id (``owner/name``). Parsing is cheap and never
touches the network or the ML stack; ``prepare`` does the work (in a job).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import paths
from ..errors import ModelFormatError, ModelNotFoundError
from .builtin import BUILTIN_MODELS, DEFAULT_MODEL
from .gguf_convert import GGUF_MAGIC

Kind = Literal["builtin", "folder", "gguf", "hub"]
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelRef:
    spec: str
    kind: Kind
    name: str
    source: str
    """The GGUF path, folder path or hub id the model comes from."""
    folder: Path
    """The HF folder: where it is (``folder``) or where ``prepare`` writes it."""

    @property
    def prepared(self) -> bool:
        return (self.folder / "config.json").is_file()

    def require_prepared(self) -> Path:
        if not self.prepared:
            raise ModelNotFoundError(
                f"model {self.name} is not prepared yet (expected in {self.folder})",
                hint=f"run `slmw models prepare {self.spec}`",
            )
        return self.folder


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.").lower() or "model"


def looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or spec.endswith(".gguf") or spec.count("/") > 1


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def parse_model(spec: str | None) -> ModelRef:
    spec = (spec or DEFAULT_MODEL).strip()
    models = paths.models_dir()
    if spec in BUILTIN_MODELS:
        builtin = BUILTIN_MODELS[spec]
        return ModelRef(spec, "builtin", spec, builtin.distribution, models / spec)
    path = Path(spec).expanduser()
    if path.exists():
        path = path.resolve()
        if path.is_dir():
            if not (path / "config.json").is_file():
                ggufs = sorted(path.glob("*.gguf"))
                hint = f"to convert a GGUF inside it, give the file: {ggufs[0]}" if ggufs else None
                raise ModelFormatError(f"{path} is not a Hugging Face model folder (no config.json)", hint=hint)
            return ModelRef(spec, "folder", path.name, str(path), path)
        if path.suffix == ".gguf" or _is_gguf(path):
            return ModelRef(spec, "gguf", slug(path.stem), str(path), models / slug(path.stem))
        raise ModelFormatError(f"{path} is neither a model folder nor a GGUF file")
    if looks_like_path(spec):
        raise ModelNotFoundError(f"no such file or folder: {path}")
    if (models / spec / "config.json").is_file():
        return ModelRef(spec, "folder", spec, str(models / spec), models / spec)
    if HUB_ID.match(spec):
        return ModelRef(spec, "hub", spec, spec, models / ("hub--" + spec.replace("/", "--")))
    known = ", ".join(sorted(BUILTIN_MODELS))
    raise ModelNotFoundError(
        f"unknown model '{spec}'",
        hint=f"built-in models: {known}; or give an HF folder, a .gguf file, or a hub id owner/name",
    )


def resolve_folder(spec: str | None) -> Path:
    """The local HF folder for ``spec``; raises when it still needs ``slmw models prepare``."""
    return parse_model(spec).require_prepared()


def prepared_models() -> list[ModelRef]:
    """Built-in models (prepared or not) and every folder prepared under ``<home>/models``."""
    refs = [parse_model(name) for name in BUILTIN_MODELS]
    root = paths.models_dir()
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(".") or folder.name in BUILTIN_MODELS or not (folder / "config.json").is_file():
                continue
            refs.append(ModelRef(folder.name, "folder", folder.name, str(folder), folder))
    return refs
