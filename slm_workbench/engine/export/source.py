"""What ``slmw export X`` / ``slmw compare X`` exports: a model, any HF folder, or a run.

- a model reference (built-in name, HF folder, prepared name, GGUF, hub id): its prepared HF
  folder; variants go to ``<home>/variants/<name>/<variant>/``;
- a training run id (or unique prefix): its ``artifacts/merged`` or ``artifacts/model`` when
  present, else its LoRA ``artifacts/adapter`` merged into the base here (once, kept in
  ``artifacts/merged``); variants go to ``runs/<id>/artifacts/onnx-<variant>/``.

The run's lineage also names the prepared dataset it trained on: its eval split is the
default task set of ``slmw compare RUN``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from ..errors import ModelNotFoundError, RunNotFoundError, WorkbenchError
from ..models.resolve import parse_model
from ..models.variants import list_variants, model_variants_root, run_variant_dir, variant_dir_for_model
from ..runs.store import RunStore


@dataclass(frozen=True)
class ExportSource:
    spec: str
    kind: Literal["model", "run"]
    name: str
    """The model name or run id: what goes before the colon in MODEL:VARIANT."""
    hf_folder: Path | None
    """The HF folder exported (None for a run whose adapter is not merged yet)."""
    run_dir: Path | None = None
    adapter: Path | None = None
    base_folder: Path | None = None
    eval_data: Path | None = None
    """The prepared dataset a run trained on (its eval split scores the variants)."""

    def variant_dir(self, variant: str) -> Path:
        if self.kind == "run":
            assert self.run_dir is not None
            return run_variant_dir(self.run_dir, variant)
        return variant_dir_for_model(self.name, variant)

    def built_variants(self) -> dict[str, Path]:
        if self.kind == "run":
            assert self.run_dir is not None
            return list_variants(self.run_dir / "artifacts", prefix="onnx-")
        return list_variants(model_variants_root(self.name))

    def label(self, variant: str) -> str:
        return f"{self.name}:{variant}"


def _run_dir(spec: str) -> Path | None:
    if len(spec) < 4 or "/" in spec:
        return None
    try:
        return RunStore().resolve(spec)
    except (RunNotFoundError, OSError):
        return None


def _lineage(run: Path) -> dict:
    try:
        return json.loads((run / "artifacts" / "lineage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _run_base(run: Path, lineage: dict) -> Path:
    folder = (lineage.get("base_model") or {}).get("folder")
    if folder and (Path(folder) / "config.json").is_file():
        return Path(folder)
    try:
        model = (yaml.safe_load((run / "recipe.yaml").read_text(encoding="utf-8")) or {}).get("model")
    except (OSError, yaml.YAMLError):
        model = None
    if not model:
        raise ModelNotFoundError(f"run {run.name} does not say which base model it trained")
    return parse_model(model).require_prepared()


def resolve_source(spec: str) -> ExportSource:
    """Resolve MODEL_OR_RUN; raises ModelNotFoundError naming what was tried."""
    spec = spec.strip()
    try:
        ref = parse_model(spec)
    except ModelNotFoundError:
        run = _run_dir(spec)
        if run is None:
            raise
        return _run_source(spec, run)
    return ExportSource(spec, "model", ref.name, ref.require_prepared())


def _run_source(spec: str, run: Path) -> ExportSource:
    artifacts = run / "artifacts"
    lineage = _lineage(run)
    data = (lineage.get("data") or {}).get("folder")
    eval_data = Path(data) if data and Path(data).exists() else None
    for name in ("merged", "model"):
        if (artifacts / name / "config.json").is_file():
            return ExportSource(spec, "run", run.name, artifacts / name, run_dir=run, eval_data=eval_data)
    adapter = artifacts / "adapter"
    if (adapter / "adapter_config.json").is_file():
        return ExportSource(spec, "run", run.name, None, run_dir=run, adapter=adapter,
                            base_folder=_run_base(run, lineage), eval_data=eval_data)
    raise WorkbenchError(f"run {run.name} has no model to export (no artifacts/merged, model or adapter)",
                         hint="export a finished training run, a model name or an HF folder")


def merge_adapter(source: ExportSource, log: callable = print) -> ExportSource:  # type: ignore[valid-type]
    """Merge a run's LoRA adapter into its base once, into ``artifacts/merged`` (atomic)."""
    if source.hf_folder is not None:
        return source
    assert source.run_dir is not None and source.adapter is not None and source.base_folder is not None
    import os
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = source.run_dir / "artifacts" / "merged"
    partial = target.parent / f".merged.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    log(f"merging {source.adapter} into {source.base_folder}")
    try:
        base = AutoModelForCausalLM.from_pretrained(source.base_folder, dtype=torch.float32)
        merged = PeftModel.from_pretrained(base, source.adapter).merge_and_unload()
        merged.save_pretrained(partial, safe_serialization=True)
        tok_dir = source.adapter if (source.adapter / "tokenizer_config.json").is_file() else source.base_folder
        AutoTokenizer.from_pretrained(tok_dir).save_pretrained(partial)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportSource(source.spec, "run", source.name, target, run_dir=source.run_dir, adapter=source.adapter,
                        base_folder=source.base_folder, eval_data=source.eval_data)
