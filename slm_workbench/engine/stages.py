"""The stage registry: one line per job stage, and everything else derived from it.

A stage is a recipe class (``config/``), a runner (``engine/<stage>/``), optionally a view
(a pane of the TUI, or the Runs pane itself) and a shipped recipe (``recipes/``). This table
ties them together, as torchtune's recipe registry does; the recipe union the worker
validates, the stages ``slmw runs resume`` accepts, the pane ``enter`` on a run opens, the
pickers of "runs that produced a model" and the CLI's job commands are all read from it, and
``tests/engine/test_stages.py`` checks that the recipe union, the CLI and the panes agree.

Recipe classes and runners are named by import path and imported only when asked for, so
the TUI reads this table on its startup path without importing pydantic or the ML stack.

Adding a stage: write its recipe module, its engine package with ``run(recipe, ctx)``, its
pane or view, a recipe under ``recipes/`` and tests; then add one ``StageSpec`` here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Product = Literal["dataset", "adapter", "model", "variants", "report", "package", "server", "measurement"]
"""What a stage leaves in its run directory for later stages to use."""

MODEL_PRODUCTS: frozenset[str] = frozenset({"adapter", "model"})
"""Products that make a run usable wherever a model is asked for (export, compare, chat)."""

def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class StageSpec:
    name: str
    """The recipe's ``stage:`` value and the run's stage (``train``, ``data.prepare``)."""
    title: str
    """What a person calls it (the Runs pane, help texts)."""
    recipe: str
    """``module:Class`` of the pydantic recipe; its ``stage`` field is ``Literal[name]``."""
    runner: str
    """``module:function`` implementing ``runs.context.StageRunner``; imported only inside the job."""
    produces: frozenset[Product] = field(default_factory=frozenset)
    resumable: bool = False
    """Started again on the same run directory, the job goes on where it stopped."""
    view: str = "runs"
    """The pane that opens its runs (``enter`` in the Runs pane): a pane id, or ``runs`` when
    the Runs pane's own monitor is its view."""
    command: tuple[str, ...] = ()
    """The CLI command that starts it (``("data", "prepare")`` is ``slmw data prepare``);
    empty for stages started only by other commands or by ``slmw run RECIPE``. Commands are
    added in registry order (a group's own module places its stage verbs among its others)."""
    cli: str | None = None
    """``module:function`` under ``slm_workbench.cli`` adding its command to the subcommands it is
    given, where the generic job command (``cli/stage_cmd.py``: the recipe's fields as flags)
    does not fit; None gives it the generic one."""

    def recipe_class(self) -> type:
        return _load(self.recipe)

    def runner_function(self) -> Callable[[Any, Any], None]:
        """The runner, a ``runs.context.StageRunner`` (imported only inside the job)."""
        return _load(self.runner)

    def launch_check(self) -> Callable[[Any], Any] | None:
        """Its launch check, ``check(recipe) -> LaunchNeeds`` in the runner's module (disk, memory
        refusals), run by ``launcher.start_recipe`` before the job starts; None when it has none."""
        module_name, _, _ = self.runner.partition(":")
        return getattr(importlib.import_module(module_name), "check", None)

    @property
    def produces_model(self) -> bool:
        return bool(self.produces & MODEL_PRODUCTS)


STAGES: tuple[StageSpec, ...] = (
    StageSpec("models.prepare", "Prepare model", "slm_workbench.config.models:PrepareModelRecipe",
              "slm_workbench.engine.models.stage:run", frozenset({"model"}), command=("models", "prepare"),
              cli="models_cmd:add_prepare"),
    StageSpec("system.check", "System check", "slm_workbench.config.system:SystemCheckRecipe",
              "slm_workbench.engine.system.stage:run", frozenset({"measurement"}), command=("system", "check"),
              cli="system_cmd:add_check"),
    StageSpec("data.prepare", "Prepare data", "slm_workbench.config.data:PrepareDataRecipe",
              "slm_workbench.engine.data.stage:run", frozenset({"dataset"}), command=("data", "prepare"),
              cli="data_cmd:add_prepare"),
    StageSpec("data.generate", "Teacher answers", "slm_workbench.config.generate:GenerateRecipe",
              "slm_workbench.engine.generate.stage:run", frozenset({"dataset"}), resumable=True,
              view="distill", command=("data", "generate"), cli="data_generate_cmd:add_command"),
    StageSpec("serve", "Server (OpenAI-compatible)", "slm_workbench.config.serve:ServeRecipe",
              "slm_workbench.engine.serve.stage:run", frozenset({"server"}), view="deploy", command=("serve",),
              cli="serve_cmd:add_command"),
    StageSpec("train", "Fine-tune", "slm_workbench.config.train:TrainRecipe",
              "slm_workbench.engine.train.stage:run", frozenset({"adapter", "model"}), resumable=True,
              command=("train",), cli="train_cmd:add_command"),
    StageSpec("export", "Export variants", "slm_workbench.config.export:ExportRecipe",
              "slm_workbench.engine.export.stage:run", frozenset({"variants"}), view="quantize", command=("export",),
              cli="export_cmd:add_export"),
    StageSpec("compare", "Compare variants", "slm_workbench.config.export:CompareRecipe",
              "slm_workbench.engine.compare.stage:run", frozenset({"variants", "report"}), view="quantize",
              command=("compare",), cli="export_cmd:add_compare"),
    StageSpec("eval", "Evaluate", "slm_workbench.config.eval:EvalRecipe", "slm_workbench.engine.eval.stage:run",
              frozenset({"report"}), resumable=True, view="eval", command=("eval",), cli="eval_cmd:add_command"),
    StageSpec("deploy.foundry", "Foundry Local package", "slm_workbench.config.deploy_foundry:FoundryRecipe",
              "slm_workbench.engine.deploy.foundry.stage:run", frozenset({"package"}), view="deploy",
              command=("deploy", "foundry"), cli="deploy_foundry_cmd:add_command"),
    StageSpec("deploy.gguf", "GGUF + Ollama", "slm_workbench.config.deploy_gguf:GgufRecipe",
              "slm_workbench.engine.deploy.gguf.stage:run", frozenset({"package"}), view="deploy",
              command=("deploy", "gguf"), cli="deploy_gguf_cmd:add_command"),
    StageSpec("sweep", "Sweep", "slm_workbench.config.sweep:SweepRecipe", "slm_workbench.engine.sweep.stage:run",
              frozenset({"report"}), resumable=True, view="sweep", command=("sweep",), cli="sweep_cmd:add_command"),
    StageSpec("distill", "Distill", "slm_workbench.config.distill:DistillRecipe", "slm_workbench.engine.distill.stage:run",
              frozenset({"report"}), resumable=True, view="distill", command=("distill",),
              cli="distill_cmd:add_command"),
    StageSpec("deploy.bench", "Load benchmark", "slm_workbench.config.deploy_bench:BenchRecipe",
              "slm_workbench.engine.deploy.bench.stage:run", frozenset({"measurement"}), view="deploy",
              command=("deploy", "bench"), cli="deploy_bench_cmd:add_command"),
)
"""In the order ``slmw --help`` lists their commands."""

_BY_NAME: dict[str, StageSpec] = {spec.name: spec for spec in STAGES}


def stage(name: str) -> StageSpec:
    """The spec of stage ``name``; a ``KeyError`` naming the known stages otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(_BY_NAME)})") from None


def find_stage(name: str) -> StageSpec | None:
    return _BY_NAME.get(name)


def stage_names() -> list[str]:
    return [spec.name for spec in STAGES]


def resumable_stages() -> frozenset[str]:
    return frozenset(spec.name for spec in STAGES if spec.resumable)


def model_stages() -> frozenset[str]:
    """Stages whose finished runs hold a model (pickers of "a model or a run")."""
    return frozenset(spec.name for spec in STAGES if spec.produces_model)


def stages_viewed_in(pane: str) -> tuple[str, ...]:
    """The stages whose runs ``pane`` opens, in registry order."""
    return tuple(spec.name for spec in STAGES if spec.view == pane)


def recipe_classes() -> tuple[type, ...]:
    return tuple(spec.recipe_class() for spec in STAGES)


def runner_for(name: str) -> Callable[[Any, Any], None]:
    try:
        spec = _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no runner for stage {name!r}") from None
    return spec.runner_function()
