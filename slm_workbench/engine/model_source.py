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

This is the only place that tries a name as a model, then as a run: the deploy stages
(packages, GGUF), serve, chat, export and compare all come here, so a name means the same
everywhere and a name that is neither fails with the same line (``not_found``). ``BASE:ADAPTER``
(serve, chat) is split by ``split_adapter``; its adapter, a run or a PEFT folder, is found by
``resolve_adapter``, with the same run lookup; an ONNX adapter base's adapter name (also an
``.onnx_adapter`` file) by ``find_adapter_run`` after its file forms, failing with
``adapter_not_found``.

A variant's model or run is resolved without ``prepared``; with ``prepared=True`` a variant
that is not built yet needs it prepared (to be built from). Resolving is cheap: nothing is
loaded, prepared or merged (``export/merge.py`` merges a run's adapter). ``accept`` says which
kinds a caller takes: a kind it does not take is not looked for, so a spec falls through to the
model-or-run lookup and its error (``MODEL:VARIANT`` where no variant is taken says so). With
``prepared=True`` a model must be prepared and a run must have a model, each failing with one
line that says so; a launch check that only asks where files are passes ``prepared=False`` and
reads ``hf_folder`` as None for what is not there yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .errors import ModelNotFoundError, WorkbenchError
from .models.resolve import ModelRef, looks_like_path, parse_model
from .models.variants import GENAI_CONFIG, VariantSet, split_variant, variant_complete
from .runs.run import Run

Kind = Literal["endpoint", "onnx", "variant", "model", "run"]
MODEL_OR_RUN: tuple[Kind, ...] = ("model", "run")
DEPLOY_SOURCE: tuple[Kind, ...] = ("variant", "model", "run")
"""What ``slmw deploy foundry|gguf`` take: a model, a run, ``MODEL:VARIANT`` or ``RUN:VARIANT``."""
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

    def without_variant(self) -> ModelSource:
        """The model or run a ``variant`` source is a variant of (itself for any other kind)."""
        if self.kind != "variant":
            return self
        return replace(self, spec=split_variant(self.spec).base, kind="run" if self.run is not None else "model",
                       variant=None, folder=None)

    @property
    def identity(self) -> tuple[str, str]:
        """("run", id) or ("model", name): what two sources must share to name the same weights."""
        return ("run", self.run.id) if self.run is not None else ("model", self.name)


def not_found(spec: str) -> ModelNotFoundError:
    """The one error for a name that is neither a model nor a run."""
    return ModelNotFoundError(f"no model or run named '{spec}'",
                              hint="`slmw models list` / `slmw runs list` show them; a hub model is owner/name")


def find_run(spec: str, run_store: Any = None) -> Run | None:
    """The run ``spec`` names, or None (the one run lookup of a model-or-run name)."""
    return Run.find(spec, run_store)


def adapter_not_found(spec: str) -> ModelNotFoundError:
    """The one error for an adapter name (what an ONNX adapter base takes) that is no LoRA run, no PEFT
    adapter folder and no ``.onnx_adapter`` file (``adapters.lora.ADAPTER_SUFFIX``)."""
    return ModelNotFoundError(f"no adapter named {spec} (not a LoRA run, an adapter folder nor an .onnx_adapter file)",
                              hint="slmw runs list shows the training runs")


def find_adapter_run(spec: str, run_store: Any = None) -> Run:
    """The run an adapter name names, once the caller has tried it as a file and a folder; raises
    ``adapter_not_found`` when no run has that name (a run without an adapter is the caller's to refuse)."""
    run = find_run(spec, run_store)
    if run is None:
        raise adapter_not_found(spec)
    return run


def resolve_source(spec: str, *, accept: Collection[Kind] = MODEL_OR_RUN, prepared: bool = True,
                   run_store: Any = None) -> ModelSource:
    """What ``spec`` names, among the kinds in ``accept``; raises ``ModelNotFoundError`` (``not_found``
    for a name that is neither a model nor a run; the model lookup's own error for a path) or
    ``ModelFormatError``."""
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
            folder = base.variant_dir(named.variant)
            if prepared and not variant_complete(folder):  # to be built: from its model or run
                base = resolve_source(named.base, prepared=True, run_store=run_store)
            return ModelSource(spec, "variant", base.name, base.hf_folder, base.run, base.adapter, base.base_folder,
                               base.eval_data, base.model, named.variant, folder)
    try:
        ref = parse_model(spec)
    except ModelNotFoundError:
        run = find_run(spec, run_store) if "run" in accept else None
        if run is not None:
            return _run_source(spec, run, prepared)
        if "run" in accept and not looks_like_path(spec):
            named = split_variant(spec)
            if named.variant is not None:  # a caller that takes no variant: say so, or why its base is nothing
                base = resolve_source(named.base, accept=accept, prepared=False, run_store=run_store)
                raise ModelNotFoundError(f"{spec} names a variant of {base.name}; a model or a run is asked for here",
                                         hint=f"give {named.base}") from None
            raise not_found(spec) from None
        raise
    if prepared:
        return ModelSource(spec, "model", ref.name, ref.require_prepared(), model=ref)
    return ModelSource(spec, "model", ref.name, ref.folder if ref.prepared else None, model=ref)


def resolve_adapter(spec: str, run_store: Any = None) -> Path:
    """The LoRA adapter after ``BASE:`` (or ``--adapter``): a PEFT adapter folder, or a run that left one."""
    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        return path.resolve()
    run = find_run(spec, run_store)
    adapter = run.adapter() if run is not None else None
    if adapter is None:
        raise ModelNotFoundError(f"no LoRA adapter at {spec}", hint="give a training run id with an adapter, or an adapter folder")
    return adapter


def split_adapter(spec: str, run_store: Any = None) -> tuple[str, str | None]:
    """``BASE:ADAPTER`` -> (BASE, ADAPTER) when the part after the last colon is a LoRA adapter
    (``resolve_adapter`` finds it); anything else is (spec, None), so ``MODEL:VARIANT`` stays a variant."""
    base, sep, tail = spec.rpartition(":")
    if not sep or not base or not tail:
        return spec, None
    try:
        resolve_adapter(tail, run_store)
    except ModelNotFoundError:
        return spec, None
    return base, tail


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
