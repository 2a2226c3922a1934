"""Recipe of the ``sweep`` stage: a hyperparameter search (Optuna) whose trials are training runs.

The base training recipe is kept inline (a file named by ``train`` is read when the recipe is
validated), so a sweep's ``recipe.yaml`` is all a resumed sweep, or a worker joining it from
another machine, needs. Each ``params`` entry names a field of the training recipe and its
range; both are checked against ``TrainRecipe`` before any trial starts
(``config/sweep_space.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import Section

Metric = Literal["eval_loss", "loss", "task"]


class PrunerSection(Section):
    """Median pruning from the eval losses the trial runs write (Optuna's ``MedianPruner``)."""

    enabled: bool = True
    """Stop a trial whose eval loss is worse than the median of earlier trials at the same step."""
    startup_trials: int = Field(default=2, ge=0)
    """Trials that always run to the end before any is pruned (small: sweeps here are small)."""
    warmup_steps: int = Field(default=0, ge=0)
    """Training steps in a trial before it may be pruned."""
    min_trials: int = Field(default=1, ge=1)
    """Trials that must have reported at a step before a trial is compared there."""


class SweepRecipe(Section):
    """Search training hyperparameters with Optuna: every trial is an ordinary training run
    (listed in Runs, stoppable, resumable), pruned from its eval losses, scored on the task."""

    stage: Literal["sweep"] = "sweep"
    train: dict[str, Any]
    """The base training recipe: a recipe file or shipped name (read now and kept inline), or
    its fields. Each trial is this recipe with the trial's parameters applied."""
    params: dict[str, str] = Field(min_length=1)
    """What to search, ``FIELD=KIND:RANGE`` (dotted fields: ``lora.r``): ``loguniform:1e-4:1e-2``,
    ``uniform:0:0.1``, ``int:1:4`` (``int:8:64:8`` with a step), ``choice:8,16,32``."""
    trials: int = Field(default=12, ge=1, le=10000)
    """Trials that end complete or pruned, over every worker of the sweep (failed ones are retried)."""
    metric: Metric = "eval_loss"
    """What a trial is judged by: its last ``eval_loss`` (or train ``loss``), or ``task``, the task
    score of its model on held-out examples (docs/eval.md)."""
    direction: Literal["minimize", "maximize"] | None = None
    """Default: minimize a loss, maximize the task score."""
    parallel: int = Field(default=1, ge=1, le=64)
    """Trials this worker runs at once (each is its own training job)."""
    storage: str | None = None
    """Where the study lives: default ``optuna.journal`` in the sweep's run folder (Optuna's journal
    file, safe for several local processes); a database URL (``sqlite:///…``, ``postgresql://…``)
    lets workers on other machines join (``slmw sweep --join ID``); a path is a journal file."""
    join: str | None = None
    """The sweep (study name) this worker joins; unset: a new sweep named by this run's id."""
    heartbeat_s: int = Field(default=60, ge=1, le=3600)
    """Seconds between a running trial's signs of life (Optuna's heartbeat on a database; a
    ``heartbeat`` record on the journal file); a trial silent for three is failed and retried,
    resuming its run (a dead worker on this machine is seen at once on the journal file)."""
    pruner: PrunerSection = Field(default_factory=PrunerSection)
    """When trials are stopped early."""
    task_examples: int = Field(default=32, ge=0)
    """Held-out examples each finished trial is scored on (an ``eval`` job on its run); 0: none."""
    sampler: Literal["tpe", "random"] = "tpe"
    """How trial parameters are chosen (Optuna's TPE, or uniformly at random)."""
    seed: int | None = 0
    """Seed of the sampler (each worker adds its own offset); null: not seeded."""

    @field_validator("train", mode="before")
    @classmethod
    def _read_train_recipe(cls, value: Any) -> Any:
        from .train import inline_train_recipe

        return inline_train_recipe(value, "the base recipe (train)")

    @model_validator(mode="after")
    def _check(self) -> SweepRecipe:
        from .sweep_space import check_params

        check_params(self.train, self.params)
        if self.metric == "task" and self.task_examples == 0:
            raise ValueError("metric: task needs task_examples > 0")
        return self

    @property
    def goal(self) -> Literal["minimize", "maximize"]:
        return self.direction or ("maximize" if self.metric == "task" else "minimize")
