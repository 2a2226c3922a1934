"""What a chat target names, without loading anything.

A target is, in this order: an ``http(s)://`` endpoint; an ONNX Runtime GenAI folder; a
variant ``MODEL:VARIANT`` or ``RUN:VARIANT`` (see ``models/variants.py``); a model the
workbench resolves (built-in name, HF folder, prepared name, hub id); or a training run,
which chats through its merged/full model, else its base model plus its LoRA adapter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from ..errors import ModelNotFoundError, RunNotFoundError, WorkbenchError
from ..models.resolve import parse_model
from ..models.variants import run_variant_dir, split_variant, variant_dir_for_model
from ..runs.store import RunStore

Kind = Literal["transformers", "onnx", "http"]


@dataclass(frozen=True)
class Target:
    spec: str
    kind: Kind
    folder: Path | None = None
    """The HF folder (transformers) or the variant folder (onnx); None for http."""
    adapter: Path | None = None
    variant: str | None = None

    @property
    def label(self) -> str:
        return self.spec


def run_dir(spec: str) -> Path | None:
    """The run directory ``spec`` names (an id or unique prefix), or None."""
    if len(spec) < 4 or "/" in spec:
        return None
    try:
        return RunStore().resolve(spec)
    except (RunNotFoundError, WorkbenchError, OSError):
        return None


def run_base_folder(run: Path) -> Path:
    """The base model a training run started from (its lineage, else its recipe)."""
    try:
        return Path(json.loads((run / "artifacts" / "lineage.json").read_text())["base_model"]["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        model = (yaml.safe_load((run / "recipe.yaml").read_text()) or {}).get("model")
    except (OSError, yaml.YAMLError):
        model = None
    return parse_model(model).require_prepared()


def resolve_adapter(spec: str) -> Path:
    """A PEFT adapter folder, or a run id whose ``artifacts/adapter`` holds one."""
    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        return path.resolve()
    run = run_dir(spec)
    if run is not None and (run / "artifacts" / "adapter" / "adapter_config.json").is_file():
        return run / "artifacts" / "adapter"
    raise ModelNotFoundError(f"no LoRA adapter at {spec}", hint="give a run id with artifacts/adapter/ or an adapter folder")


def resolve_target(spec: str, *, adapter: str | None = None) -> Target:
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return Target(spec, "http")
    path = Path(spec).expanduser()
    if (path / "genai_config.json").is_file():
        return Target(spec, "onnx", path.resolve())
    adapter_dir = resolve_adapter(adapter) if adapter else None
    named = split_variant(spec)
    if named.variant is not None:
        try:
            ref = parse_model(named.base)
        except ModelNotFoundError:
            run = run_dir(named.base)
            if run is None:
                raise
            return Target(spec, "onnx", run_variant_dir(run, named.variant), variant=named.variant)
        return Target(spec, "onnx", variant_dir_for_model(ref.name, named.variant), variant=named.variant)
    try:
        return Target(spec, "transformers", parse_model(spec).require_prepared(), adapter=adapter_dir)
    except ModelNotFoundError:
        run = run_dir(spec)
        if run is None:
            raise
    artifacts = run / "artifacts"
    for name in ("merged", "model"):
        if (artifacts / name / "config.json").is_file():
            return Target(spec, "transformers", artifacts / name, adapter=adapter_dir)
    if (artifacts / "adapter" / "adapter_config.json").is_file():
        return Target(spec, "transformers", run_base_folder(run), adapter=adapter_dir or artifacts / "adapter")
    raise ModelNotFoundError(f"run {run.name} has no model to chat with (no artifacts/merged, model or adapter)")
