"""Where exported variants (ONNX Runtime GenAI folders) of a model or a run live, and how
``MODEL:VARIANT`` names them. ``VariantSet`` owns that layout; nothing else spells it.

- a model reference ``smollm2-135m-instruct:int4`` -> ``<home>/variants/<model-name>/int4/``
- a run ``RUN_ID:int8`` -> ``<home>/runs/<RUN_ID>/artifacts/onnx-int8/``

The variant name is the export preset or a user-chosen label (``fp32``, ``int8``, ``int4``,
``int4-b32-asym`` ...). Each variant folder is a complete ONNX Runtime GenAI folder
(``genai_config.json``, ``model.onnx`` + data, tokenizer files) plus ``slmw_variant.json``
describing how it was built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ...config.presets import VARIANT_NAME
from ..errors import ModelNotFoundError

VARIANT_INFO_FILE = "slmw_variant.json"
GENAI_CONFIG = "genai_config.json"
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
        """Built variants (folders holding genai_config.json), by variant name."""
        if not self.root.is_dir():
            return {}
        found = {}
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(self.prefix) and (folder / GENAI_CONFIG).is_file():
                found[folder.name[len(self.prefix):]] = folder
        return found


def model_variants_root(model_name: str) -> Path:
    return VariantSet.of_model(model_name).root


def variant_dir_for_model(model_name: str, variant: str) -> Path:
    return VariantSet.of_model(model_name).dir(variant)


def is_variant_folder(folder: Path) -> bool:
    return (Path(folder) / GENAI_CONFIG).is_file()


def require_variant(folder: Path, spec: str) -> Path:
    if not is_variant_folder(folder):
        base, _, variant = spec.rpartition(":")
        how = (f"open it once (slmw chat {spec} …): an adapter base is built on first use"
               if variant.startswith("lora-") else f"build it: slmw export {base} --variants {variant}")
        raise ModelNotFoundError(f"variant {spec} is not built yet (expected {folder})", hint=how)
    return folder
