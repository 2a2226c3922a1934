"""Where exported variants (ONNX Runtime GenAI folders) of a model or a run live, and how
``MODEL:VARIANT`` names them. ``VariantSet`` owns that layout; nothing else spells it.

- a model reference ``smollm2-135m-instruct:int4`` -> ``<home>/variants/<model-name>/int4/``
- a run ``RUN_ID:int8`` -> ``<home>/runs/<RUN_ID>/artifacts/onnx-int8/``

The variant name is the export preset or a user-chosen label (``fp32``, ``int8``, ``int4``,
``int4-b32-asym`` ...). Each variant folder is a complete ONNX Runtime GenAI folder
(``genai_config.json``, ``model.onnx`` + data, tokenizer files) plus ``slmw_variant.json``
describing how it was built.

A variant counts as built only when it is complete (``incomplete_reason``): the model file its
``genai_config.json`` names is there, and so is the marker its writer writes last
(``slmw_variant.json`` from an export, ``slmw_lora_base.json`` from an adapter base). A folder
that has a ``genai_config.json`` but not the rest was left by a writer that died: it is never
listed nor loaded, and is refused by name until it is rebuilt (``--overwrite``).
Writers build beside the target (``.NAME.partial-PID``, ``fsutil``), so such leftovers are
hidden folders, never listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ...config.presets import VARIANT_NAME
from ..errors import ModelNotFoundError

VARIANT_INFO_FILE = "slmw_variant.json"
GENAI_CONFIG = "genai_config.json"
COMPLETION_MARKERS = (VARIANT_INFO_FILE, "slmw_lora_base.json")
"""Written last into a variant folder: by an export, and by an adapter base (``adapters/base.LORA_BASE_FILE``)."""
RUN_VARIANT_PREFIX = "onnx-"


@dataclass(frozen=True)
class VariantSpec:
    base: str
    """The model reference or run id before the colon."""
    variant: str | None
    """The variant name after the colon, or None for the model itself."""


def split_variant(spec: str) -> VariantSpec:
    """``"a:int4"`` -> (a, int4); ``"a"`` -> (a, None). A colon inside a path is left alone."""
    base, sep, variant = spec.rpartition(":")
    if sep and base and VARIANT_NAME.match(variant) and not Path(spec).exists():
        return VariantSpec(base, variant)
    return VariantSpec(spec, None)


@dataclass(frozen=True)
class VariantSet:
    """The variants of one model or one run: a folder of variant folders, named with a prefix."""

    root: Path
    prefix: str = ""

    @classmethod
    def of_model(cls, model_name: str) -> VariantSet:
        return cls(paths.home() / "variants" / model_name)

    @classmethod
    def of_run(cls, artifacts_dir: Path) -> VariantSet:
        return cls(Path(artifacts_dir), RUN_VARIANT_PREFIX)

    def dir(self, variant: str) -> Path:
        """Where variant ``variant`` lives (built or not)."""
        return self.root / f"{self.prefix}{variant}"

    def built(self) -> dict[str, Path]:
        """Built variants (complete variant folders), by variant name; a writer's partial folder
        (``.NAME.partial-PID``) and a half-written variant are not built."""
        if not self.root.is_dir():
            return {}
        found = {}
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(self.prefix) and not folder.name.startswith(".") and variant_complete(folder):
                found[folder.name[len(self.prefix):]] = folder
        return found


def model_variants_root(model_name: str) -> Path:
    return VariantSet.of_model(model_name).root


def variant_dir_for_model(model_name: str, variant: str) -> Path:
    return VariantSet.of_model(model_name).dir(variant)


def is_variant_folder(folder: Path) -> bool:
    """An ONNX Runtime GenAI folder (any, the user's own included); ``variant_complete`` for the workbench's variants."""
    return (Path(folder) / GENAI_CONFIG).is_file()


def incomplete_reason(folder: Path) -> str | None:
    """Why the variant folder ``folder`` is not a complete build (None when it is, or when it is not there)."""
    folder = Path(folder)
    config = folder / GENAI_CONFIG
    if not config.is_file():
        return None if not folder.exists() else f"it has no {GENAI_CONFIG}"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        model_file = data["model"]["decoder"]["filename"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {GENAI_CONFIG} is unreadable or names no model file"
    if not isinstance(model_file, str) or not (folder / model_file).is_file():
        return f"the model file its {GENAI_CONFIG} names ({model_file}) is missing"
    if not any((folder / marker).is_file() for marker in COMPLETION_MARKERS):
        return f"its build was not finished (no {VARIANT_INFO_FILE})"
    return None


def variant_complete(folder: Path) -> bool:
    return (Path(folder) / GENAI_CONFIG).is_file() and incomplete_reason(folder) is None


def require_variant(folder: Path, spec: str) -> Path:
    why = incomplete_reason(folder)
    if why is not None:
        base, _, variant = spec.rpartition(":")
        raise ModelNotFoundError(f"variant {spec} at {folder} is half-written: {why}",
                                 hint=f"rebuild it: slmw export {base} --variants {variant} --overwrite")
    if not is_variant_folder(folder):
        base, _, variant = spec.rpartition(":")
        how = (f"open it once (slmw chat {spec} …): an adapter base is built on first use"
               if variant.startswith("lora-") else f"build it: slmw export {base} --variants {variant}")
        raise ModelNotFoundError(f"variant {spec} is not built yet (expected {folder})", hint=how)
    return folder
