"""Where exported variants (ONNX Runtime GenAI folders) of a model or a run live, and how
``MODEL:VARIANT`` names them.

- a model reference ``smollm2-135m-instruct:int4`` -> ``<home>/variants/<model-name>/int4/``
- a run ``RUN_ID:int8`` -> ``<home>/runs/<RUN_ID>/artifacts/onnx-int8/``

The variant name is the export preset or a user-chosen label (``fp32``, ``int8``, ``int4``,
``int4-b32-asym`` ...). Each variant folder is a complete ONNX Runtime GenAI folder
(``genai_config.json``, ``model.onnx`` + data, tokenizer files) plus ``slmw_variant.json``
describing how it was built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import ModelNotFoundError

VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VARIANT_INFO_FILE = "slmw_variant.json"


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


def model_variants_root(model_name: str) -> Path:
    return paths.home() / "variants" / model_name


def run_variant_dir(run_dir: Path, variant: str) -> Path:
    return run_dir / "artifacts" / f"onnx-{variant}"


def variant_dir_for_model(model_name: str, variant: str) -> Path:
    return model_variants_root(model_name) / variant


def list_variants(root: Path, prefix: str = "") -> dict[str, Path]:
    """Built variants under ``root`` (folders holding genai_config.json), by variant name."""
    if not root.is_dir():
        return {}
    found = {}
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(prefix) and (folder / "genai_config.json").is_file():
            found[folder.name[len(prefix):]] = folder
    return found


def require_variant(folder: Path, spec: str) -> Path:
    if not (folder / "genai_config.json").is_file():
        raise ModelNotFoundError(
            f"variant {spec} is not built yet (expected {folder})",
            hint=f"build it: slmw export {spec.rpartition(':')[0]} --variants {spec.rpartition(':')[2]}",
        )
    return folder
