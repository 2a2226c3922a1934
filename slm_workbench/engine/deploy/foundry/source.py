"""What ``slmw deploy foundry SOURCE`` packages: one ONNX variant of a model or a run.

SOURCE is a model, a run, or ``MODEL:VARIANT`` / ``RUN:VARIANT``, resolved by
``model_source.resolve_source`` as every deploy target and serve resolve it. Without a variant it means
the variant the latest comparison of that source recommends (``report.json``'s
``recommended``), else int8. The source's files are read through ``model_source`` (itself
through ``runs.run.Run``), as the export and compare stages read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import WorkbenchError
from ...model_source import DEPLOY_SOURCE, MODEL_OR_RUN, ModelSource, resolve_source
from ...models.variants import VARIANT_INFO_FILE, split_variant
from ...runs.run import Run
from ...runs.store import RunStore

FALLBACK_VARIANT = "int8"


@dataclass(frozen=True)
class PackageSource:
    source: ModelSource
    variant: str
    chosen_by: str
    """Why this variant: ``named``, ``recommended by <compare run>`` or ``default``."""

    @property
    def label(self) -> str:
        return self.source.label(self.variant)

    @property
    def variant_dir(self) -> Path:
        return self.source.variant_dir(self.variant)

    def template_folder(self) -> Path | None:
        """The folder with the tokenizer and chat template the model was trained (or shipped) with."""
        if self.source.run is not None:
            return self.source.run.tokenizer_folder() or self.source.hf_folder
        return self.source.hf_folder

    def lineage(self) -> dict[str, Any]:
        """data hash -> run -> variant: the run's own lineage (empty for a plain model) and the variant's build."""
        try:
            built = json.loads((self.variant_dir / VARIANT_INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            built = {}
        run = self.source.run.lineage if self.source.run is not None else {}
        return {"source": {"spec": self.source.spec, "kind": self.source.kind, "name": self.source.name,
                           "folder": str(self.source.hf_folder) if self.source.hf_folder else None},
                "data": run.get("data"), "base_model": run.get("base_model"), "run": run.get("run"),
                "training": {k: run.get(k) for k in ("method", "steps", "final_metrics")} if run else None,
                "variant": {"name": self.variant, "folder": str(self.variant_dir), "chosen_by": self.chosen_by,
                            "build": built}}


def _compares_source(run: Run, source: ModelSource) -> bool:
    model = run.recipe_data().get("model")
    if not isinstance(model, str):
        return False
    try:
        compared = resolve_source(split_variant(model).base, accept=MODEL_OR_RUN, prepared=False)
    except WorkbenchError:
        return False
    return compared.identity == source.identity


def recommended_variant(source: ModelSource, store: RunStore | None = None) -> tuple[str, str] | None:
    """The variant the newest finished comparison of ``source`` recommends, and that run's id."""
    for info in (store or RunStore()).list():
        if info.state != "done" or info.stage != "compare":
            continue
        run = Run(info.dir)
        report = run.report()
        if report is None or not _compares_source(run, source):
            continue
        try:
            recommended = json.loads(report.read_text(encoding="utf-8")).get("recommended")
        except (OSError, ValueError):
            continue
        if isinstance(recommended, str) and recommended:
            return recommended, run.id
    return None


def resolve_package_source(spec: str) -> PackageSource:
    """Resolve SOURCE; raises ``ModelNotFoundError`` (``model_source.not_found`` for a name that is neither)."""
    source = resolve_source(spec, accept=DEPLOY_SOURCE)
    if source.variant is not None:
        return PackageSource(source.without_variant(), source.variant, "named")
    found = recommended_variant(source)
    if found is not None:
        return PackageSource(source, found[0], f"recommended by comparison {found[1]}")
    return PackageSource(source, FALLBACK_VARIANT, "default (no comparison recommends one)")
