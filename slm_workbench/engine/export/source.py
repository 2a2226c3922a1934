"""What ``slmw export X`` / ``slmw compare X`` exports: a model, any HF folder, or a run.

- a model reference (built-in name, HF folder, prepared name, GGUF, hub id): its prepared HF
  folder; variants go to ``<home>/variants/<name>/<variant>/``;
- a training run id (or unique prefix): its merged or full model when present, else its LoRA
  adapter merged into the base here (once, kept in the run's merged folder); the run's files
  are read through ``runs.run.Run`` and its variants live where ``Run.variants`` says.

The run's lineage also names the prepared dataset it trained on: its eval split is the
default task set of ``slmw compare RUN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ModelNotFoundError
from ..models.resolve import parse_model
from ..models.variants import VariantSet
from ..runs.run import Run


@dataclass(frozen=True)
class ExportSource:
    spec: str
    kind: Literal["model", "run"]
    name: str
    """The model name or run id: what goes before the colon in MODEL:VARIANT."""
    hf_folder: Path | None
    """The HF folder exported (None for a run whose adapter is not merged yet)."""
    run: Run | None = None
    adapter: Path | None = None
    base_folder: Path | None = None
    eval_data: Path | None = None
    """The prepared dataset a run trained on (its eval split scores the variants)."""

    @property
    def variants(self) -> VariantSet:
        return self.run.variants if self.run is not None else VariantSet.of_model(self.name)

    def variant_dir(self, variant: str) -> Path:
        return self.variants.dir(variant)

    def built_variants(self) -> dict[str, Path]:
        return self.variants.built()

    def label(self, variant: str) -> str:
        return f"{self.name}:{variant}"


def resolve_source(spec: str) -> ExportSource:
    """Resolve MODEL_OR_RUN; raises ModelNotFoundError naming what was tried."""
    spec = spec.strip()
    try:
        ref = parse_model(spec)
    except ModelNotFoundError:
        run = Run.find(spec)
        if run is None:
            raise
        return run_source(spec, run)
    return ExportSource(spec, "model", ref.name, ref.require_prepared())


def run_source(spec: str, run: Run) -> ExportSource:
    run.require_model()
    folder = run.model_folder()
    if folder is not None:
        return ExportSource(spec, "run", run.id, folder, run=run, eval_data=run.eval_dataset())
    return ExportSource(spec, "run", run.id, None, run=run, adapter=run.adapter(), base_folder=run.base_model(),
                        eval_data=run.eval_dataset())


def merge_adapter(source: ExportSource, log: callable = print) -> ExportSource:  # type: ignore[valid-type]
    """Merge a run's LoRA adapter into its base once, into ``artifacts/merged`` (atomic)."""
    if source.hf_folder is not None:
        return source
    assert source.run is not None and source.adapter is not None and source.base_folder is not None
    import os
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = source.run.merged_dir
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
    return ExportSource(source.spec, "run", source.name, target, run=source.run, adapter=source.adapter,
                        base_folder=source.base_folder, eval_data=source.eval_data)
