"""What a model-or-run reference names: the one lookup that export, compare, chat, serve, deploy,
distill and eval go through.

A reference is, in this order:

- ``endpoint``: an ``http(s)://`` URL (an OpenAI-compatible server);
- ``onnx``: a folder holding ``genai_config.json`` (an ONNX Runtime GenAI folder);
- ``variant``: ``MODEL:VARIANT`` or ``RUN:VARIANT``, the variant folder where
  ``models/variants.py`` puts it (built or not);
- ``model``: anything ``models/resolve.parse_model`` accepts (built-in name, HF folder, GGUF,
  prepared name, hub id);
- ``run``: a training run id (or unique prefix/suffix): its merged or full model, else its LoRA
  adapter over its base model. The run's files are read through ``runs.run.Run``.

Resolving is cheap: nothing is loaded, prepared or merged (``export/merge.py`` merges a run's
adapter). ``accept`` says which kinds a caller takes: a kind it does not take is not looked
for, so a spec falls through to the model lookup and its error (``unknown model '…'`` with the
built-in names). With ``prepared=True`` a model must be prepared and a run must have a model,
each failing with one line that says so; a launch check that only asks where files are passes
``prepared=False`` and reads ``hf_folder`` as None for what is not there yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import ModelNotFoundError, WorkbenchError
from .models.resolve import ModelRef, parse_model
from .models.variants import GENAI_CONFIG, VariantSet, split_variant
from .runs.run import Run

Kind = Literal["endpoint", "onnx", "variant", "model", "run"]
MODEL_OR_RUN: tuple[Kind, ...] = ("model", "run")
ANY_SOURCE: tuple[Kind, ...] = ("endpoint", "onnx", "variant", "model", "run")


@dataclass(frozen=True)
class ModelSource:
    spec: str
    kind: Kind
    name: str
    """The model name or run id: what goes before the colon in MODEL:VARIANT (the folder for
    ``onnx``, the URL for ``endpoint``)."""
    hf_folder: Path | None = None
    """The whole HF model: a model's prepared folder, a run's merged or full model; None for a run
    whose adapter is not merged yet, a model not prepared yet (``prepared=False``), an ONNX folder
    or an endpoint."""
    run: Run | None = None
    adapter: Path | None = None
    """A run's LoRA adapter, when the run left no whole model."""
    base_folder: Path | None = None
    """The base model that adapter goes over."""
    eval_data: Path | None = None
    """The prepared dataset a run trained on (its eval split scores the variants)."""
    model: ModelRef | None = None
    """What the model lookup said (kinds ``model`` and a model's ``variant``)."""
    variant: str | None = None
    folder: Path | None = None
    """The ONNX Runtime GenAI folder: a ``variant``'s (where it is or will be built), an ``onnx`` folder."""

    @property
    def url(self) -> str | None:
        return self.spec if self.kind == "endpoint" else None

    @property
    def variants(self) -> VariantSet:
        """The variants of the model or run (``MODEL:VARIANT`` / ``RUN:VARIANT``)."""
        return self.run.variants if self.run is not None else VariantSet.of_model(self.name)

    def variant_dir(self, variant: str) -> Path:
        return self.variants.dir(variant)

    def built_variants(self) -> dict[str, Path]:
        return self.variants.built()

    def label(self, variant: str) -> str:
        return f"{self.name}:{variant}"


def resolve_source(spec: str, *, accept: Collection[Kind] = MODEL_OR_RUN, prepared: bool = True,
                   run_store: Any = None) -> ModelSource:
    """What ``spec`` names, among the kinds in ``accept``; raises ``ModelNotFoundError`` (or the
    model lookup's ``ModelFormatError``) naming what was tried."""
    spec = spec.strip()
    if "endpoint" in accept and spec.startswith(("http://", "https://")):
        return ModelSource(spec, "endpoint", spec)
    if "onnx" in accept and (Path(spec).expanduser() / GENAI_CONFIG).is_file():
        folder = Path(spec).expanduser().resolve()
        return ModelSource(spec, "onnx", folder.name, folder=folder)
    if "variant" in accept:
        named = split_variant(spec)
        if named.variant is not None:
            base = resolve_source(named.base, prepared=False, run_store=run_store)
            return ModelSource(spec, "variant", base.name, base.hf_folder, base.run, base.adapter, base.base_folder,
                          base.eval_data, base.model, named.variant, base.variant_dir(named.variant))
    try:
        ref = parse_model(spec)
    except ModelNotFoundError:
        run = Run.find(spec, run_store) if "run" in accept else None
        if run is None:
            raise
        return _run_source(spec, run, prepared)
    if prepared:
        return ModelSource(spec, "model", ref.name, ref.require_prepared(), model=ref)
    return ModelSource(spec, "model", ref.name, ref.folder if ref.prepared else None, model=ref)


def _run_source(spec: str, run: Run, prepared: bool) -> ModelSource:
    if prepared:
        run.require_model()
    folder = run.model_folder()
    eval_data = run.eval_dataset()
    if folder is not None or run.adapter() is None:
        return ModelSource(spec, "run", run.id, folder, run=run, eval_data=eval_data)
    try:
        base = run.base_model()
    except WorkbenchError:
        if prepared:
            raise
        base = None
    return ModelSource(spec, "run", run.id, None, run=run, adapter=run.adapter(), base_folder=base, eval_data=eval_data)


def run_source(spec: str, run: Run) -> ModelSource:
    """The source of a run already found (``spec``: how the user named it)."""
    return _run_source(spec, run, True)
