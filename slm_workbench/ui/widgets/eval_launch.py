"""Start an evaluation: the target, the data, how many examples and which metrics, as a form
generated from ``EvalRecipe`` (the other fields keep the recipe's defaults; ``slmw eval``
sets them all), and an Evaluate button. ``recipe()`` validates through the recipe class and
names the bad field; the pane posts the job.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input

from .recipe_form import RecipeForm

FIELDS = ("target", "data", "max_examples", "metrics")


class EvalLaunch(Vertical):
    DEFAULT_CSS = """
    EvalLaunch { height: auto; }
    EvalLaunch RecipeForm { height: auto; width: 1fr; }
    EvalLaunch #el-row { height: auto; }
    EvalLaunch #el-start { margin-left: 1; min-width: 10; }
    """

    def compose(self) -> ComposeResult:
        from ...config.eval import EvalRecipe

        with Horizontal(id="el-row"):
            yield RecipeForm(EvalRecipe, fields=FIELDS, prefix="el-", columns=2, id="el-form")
            yield Button("Evaluate", id="el-start", variant="success", compact=True,
                         tooltip="score the target on the data as a job (slmw eval)")

    def on_mount(self) -> None:
        self.query_one("#el-target", Input).placeholder = "model, run id, RUN:VARIANT or http(s):// endpoint"
        self.query_one("#el-data", Input).placeholder = "JSONL or prepared dataset (default: a run's eval split)"

    def set_targets(self, names: list[str]) -> None:
        """Suggest these (prepared models, runs that produced a model) as the target is typed."""
        self.query_one("#el-target", Input).suggester = SuggestFromList(names, case_sensitive=False)

    def recipe(self) -> Any:
        """The validated ``EvalRecipe``; ``ValueError`` naming the bad field (shown under the form too)."""
        return self.query_one(RecipeForm).check({"stage": "eval"})
