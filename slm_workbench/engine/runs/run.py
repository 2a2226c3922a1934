"""One run directory, read through one object (as Toolong's ``LogFile`` owns one log).

Every question a later stage or a view asks of a run goes through ``Run``: its recipe, its
stage's spec, its lineage, the model it produced (a merged or full model folder, or an
adapter over a base), the dataset it used or wrote, its variants, reports and packages. The
file names of the run-directory contract (docs/architecture.md) are spelled here and in
``store.py`` only.

Reading is cheap and never imports the ML stack; a missing or damaged file reads as "not
there" (``None`` / empty), and the methods named ``require_*`` raise a ``WorkbenchError``
naming the run and what it lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, RunNotFoundError, WorkbenchError
from ..models.variants import VariantSet
from ..stages import StageSpec, find_stage
from . import store

if TYPE_CHECKING:
    from ..events import CorruptLine, Event
    from .status import RunStatus
    from .tail import FileTail

LINEAGE = "lineage.json"
ADAPTER = "adapter"
FULL_MODEL = "model"
MERGED = "merged"
MODEL_FOLDERS = (MERGED, FULL_MODEL)
"""Artifact folders holding a whole HF model, in the order they are preferred."""
PACKAGES = "packages"
ONNX_ADAPTERS = "onnx-adapter"
"""The run's LoRA adapter as ``.onnx_adapter`` files, one per base model (engine/adapters/lora.py)."""
REPORT_FILES = {"json": "report.json", "markdown": "report.md", "csv": "report.csv"}
PREDICTIONS = "predictions.jsonl"
EVAL_REPORT = "eval_report.json"
"""An evaluation's files (docs/eval.md): one row per scored example, and the aggregates."""


def _is_model(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def _is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


@dataclass(frozen=True)
class Run:
    dir: Path

    # -- finding runs ---------------------------------------------------------------------
    @classmethod
    def get(cls, id_or_prefix: str, run_store: store.RunStore | None = None) -> Run:
        """The run ``id_or_prefix`` names (full id, unique prefix or suffix); raises when none."""
        return cls((run_store or store.RunStore()).resolve(id_or_prefix))

    @classmethod
    def find(cls, spec: str, run_store: store.RunStore | None = None) -> Run | None:
        """The run ``spec`` names, or None when it names none (never raises for a plain miss)."""
        if len(spec) < 4 or "/" in spec:
            return None
        try:
            return cls.get(spec, run_store)
        except (RunNotFoundError, OSError):
            return None

    @classmethod
    def holding(cls, artifact: Path) -> Run | None:
        """The run whose ``artifacts/`` folder holds ``artifact`` directly (a run's merged or trained
        model), or None for a folder that is not a run's artifact."""
        artifact = Path(artifact)
        return cls(artifact.parent.parent) if artifact.parent.name == store.ARTIFACTS else None

    # -- the run directory contract -------------------------------------------------------
    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def recipe_path(self) -> Path:
        return self.dir / store.RECIPE

    @property
    def status_path(self) -> Path:
        return self.dir / store.STATUS

    @property
    def events_path(self) -> Path:
        return self.dir / store.EVENTS

    @property
    def metrics_path(self) -> Path:
        return self.dir / store.METRICS

    @property
    def log_path(self) -> Path:
        return self.dir / store.LOG

    @property
    def checkpoints_dir(self) -> Path:
        return self.dir / store.CHECKPOINTS

    @property
    def artifacts_dir(self) -> Path:
        return self.dir / store.ARTIFACTS

    @property
    def lineage_path(self) -> Path:
        return self.artifacts_dir / LINEAGE

    def artifact(self, name: str) -> Path:
        """``artifacts/<name>`` (whether or not it exists)."""
        return self.artifacts_dir / name

    # -- what the job appended: events, metrics, log (tailed by follow.py) ------------------
    def status(self) -> RunStatus:
        """``status.json`` as written (``info()`` corrects the state); raises ``CorruptRunFileError``."""
        from .status import read_status

        return read_status(self.status_path)

    def events(self) -> list[Event | CorruptLine]:
        """Every event written so far; a line that does not decode reads as a ``CorruptLine``."""
        return store.read_events(self.dir)

    def recent_events(self, lines: int = 50) -> list[Event | CorruptLine]:
        """The events of the last ``lines`` lines, oldest first (cheap however long the run)."""
        from ..events import decode_event
        from .tail import last_lines

        return [decode_event(line, path=str(self.events_path)) for line in last_lines(self.events_path, lines)]

    def metrics(self, last: int | None = None) -> list[dict[str, Any]]:
        """The rows of ``metrics.jsonl`` (decoded by ``events.decode_metrics``), oldest first; the last
        ``last`` lines' only when given (read from the end). Lines that do not decode are left out."""
        if last is not None:
            from ..events import decode_metrics
            from .tail import last_lines

            lines = last_lines(self.metrics_path, last)
            return [row for row in (decode_metrics(line, path=str(self.metrics_path)) for line in lines)
                    if isinstance(row, dict)]
        tail = self.tail_metrics()
        rows: list[dict[str, Any]] = []
        while batch := tail.read_new():
            rows.extend(row for row in batch if isinstance(row, dict))
        return rows

    def tail_events(self) -> FileTail[Event | CorruptLine]:
        """An incremental reader of the run's events (``read_new()``: what was appended since)."""
        from .follow import events_tail

        return events_tail(self.dir)

    def tail_metrics(self) -> FileTail[dict[str, Any] | CorruptLine]:
        """An incremental reader of the run's metrics rows."""
        from .follow import metrics_tail

        return metrics_tail(self.dir)

    def tail_log(self) -> FileTail[str]:
        """An incremental reader of the run's ``worker.log``."""
        from .follow import log_tail

        return log_tail(self.dir)

    def log_lines(self, count: int) -> list[str]:
        """The last ``count`` lines of the run's ``worker.log``."""
        from .tail import last_lines

        return last_lines(self.log_path, count)

    # -- what the run is ------------------------------------------------------------------
    def info(self) -> store.RunInfo:
        return store.RunStore(self.dir.parent).info(self.dir)

    @property
    def stage(self) -> str:
        from ..errors import CorruptRunFileError
        from .status import read_status

        try:
            return read_status(self.status_path).stage
        except (CorruptRunFileError, OSError):
            return str(self.recipe_data().get("stage", "?"))

    @property
    def spec(self) -> StageSpec | None:
        return find_stage(self.stage)

    def recipe_data(self) -> dict[str, Any]:
        """The recipe as written (a mapping; empty when missing or unreadable). No validation."""
        import yaml

        try:
            data = yaml.safe_load(self.recipe_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}

    def recipe(self) -> Any:
        """The validated recipe object; raises ``RecipeError`` naming the file when it is bad."""
        from ...config.loading import load_recipe

        return load_recipe(self.recipe_path)

    @cached_property
    def lineage(self) -> dict[str, Any]:
        """``artifacts/lineage.json`` (data hash -> run -> artifacts); empty before the run wrote it."""
        try:
            data = json.loads(self.lineage_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # -- the model it produced ------------------------------------------------------------
    def model_folder(self) -> Path | None:
        """A whole HF model the run left (merged adapter, else full fine-tune), or None."""
        for name in MODEL_FOLDERS:
            if _is_model(self.artifact(name)):
                return self.artifact(name)
        return None

    def adapter(self) -> Path | None:
        """The run's PEFT adapter folder, or None."""
        folder = self.artifact(ADAPTER)
        return folder if _is_adapter(folder) else None

    @property
    def merged_dir(self) -> Path:
        """Where a run's adapter merged into its base is kept."""
        return self.artifact(MERGED)

    @property
    def onnx_adapter_dir(self) -> Path:
        """Where the run's adapter converted for ONNX adapter bases is kept."""
        return self.artifact(ONNX_ADAPTERS)

    @property
    def has_model(self) -> bool:
        return self.model_folder() is not None or self.adapter() is not None

    def base_model(self) -> Path:
        """The base model folder the run started from: its lineage, else its recipe's model."""
        folder = (self.lineage.get("base_model") or {}).get("folder")
        if isinstance(folder, str) and _is_model(Path(folder)):
            return Path(folder)
        model = self.recipe_data().get("model")
        if not isinstance(model, str) or not model:
            raise ModelNotFoundError(f"run {self.id} does not say which base model it trained ({self.recipe_path})")
        from ..models.resolve import parse_model

        return parse_model(model).require_prepared()

    def tokenizer_folder(self) -> Path | None:
        """The folder holding the tokenizer (and chat template) the run trained with."""
        for name in (ADAPTER, *MODEL_FOLDERS):
            if (self.artifact(name) / "tokenizer_config.json").is_file():
                return self.artifact(name)
        return None

    def require_model(self) -> None:
        if not self.has_model:
            raise WorkbenchError(
                f"run {self.id} has no model (no {store.ARTIFACTS}/{MERGED}, {FULL_MODEL} or {ADAPTER} in {self.dir})",
                hint="use a finished training run, a model name or an HF folder",
            )

    # -- data, variants, reports, packages -----------------------------------------------
    def datasets(self) -> list[Path]:
        """Prepared datasets the run used (training) or wrote (data preparation) that still exist."""
        found: list[Path] = []
        trained_on = (self.lineage.get("data") or {}).get("folder")
        if isinstance(trained_on, str):
            found.append(Path(trained_on))
        if self.stage == "data.prepare":
            output = self.recipe_data().get("output")
            if isinstance(output, str):
                found.append(Path(output).expanduser())
        return [p for p in found if p.exists()]

    def eval_dataset(self) -> Path | None:
        """The prepared dataset the run trained on (its eval split scores the run's variants)."""
        data = (self.lineage.get("data") or {}).get("folder")
        return Path(data) if isinstance(data, str) and Path(data).exists() else None

    @property
    def variants(self) -> VariantSet:
        """The ONNX variants exported from this run's model (``RUN:VARIANT``)."""
        return VariantSet.of_run(self.artifacts_dir)

    def report(self, kind: str = "json") -> Path | None:
        """A comparison report the run wrote (``json``, ``markdown`` or ``csv``), or None."""
        path = self.artifact(REPORT_FILES[kind])
        return path if path.is_file() else None

    def report_path(self, kind: str = "json") -> Path:
        return self.artifact(REPORT_FILES[kind])

    def last_error(self) -> Any | None:
        """The run's last ``error`` event (message and hint), or None."""
        from ..events import Error

        errors = [e for e in self.events() if isinstance(e, Error)]
        return errors[-1] if errors else None

    def eval_report(self) -> dict[str, Any] | None:
        """The aggregates an ``eval`` run wrote (docs/eval.md), or None before it finished."""
        try:
            data = json.loads(self.artifact(EVAL_REPORT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def packages(self) -> dict[str, Path]:
        """Deployment packages the run built (``artifacts/packages/<name>/``), by name."""
        root = self.artifact(PACKAGES)
        if not root.is_dir():
            return {}
        return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
