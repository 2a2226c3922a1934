"""The Data pane's settings: format and mapping, tokenizer, cleaning, split and output.

The form is generated from ``PrepareDataRecipe`` (``RecipeForm``): its fields, defaults, help
and validation are the recipe's; ``source`` is the pane's source picker and ``split`` comes
with the source. A change posts ``DataSettings.Changed`` with what it affects (``format``:
everything is re-read; ``tokens``: the sample, the checks and the lengths; ``clean``: the
lengths), when a select changes or enter is pressed in an input. ``values()`` validates the
form through the recipe or raises ``ValueError`` naming the field (also shown under it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static

from ...engine.models.builtin import DEFAULT_MODEL
from .recipe_form import RecipeForm, parse_pairs  # noqa: F401 - parse_pairs re-exported

Scope = Literal["format", "tokens", "clean"]
SCOPES: dict[str, Scope] = {
    "format": "format", "columns": "format", "roles": "format", "template": "format",
    "model": "tokens", "chat_template": "tokens", "train_on": "tokens", "max_length": "tokens",
    "min_tokens": "clean", "dedupe": "clean", "eval_fraction": "clean", "seed": "clean", "on_error": "clean",
}
FIELDS = ["format", "columns", "roles", "template", "model", "chat_template", "train_on", "max_length", "min_tokens",
          "dedupe", "eval_fraction", "seed", "on_error", "output", "output_format", "overwrite"]
"""Every field of ``PrepareDataRecipe`` but ``source`` (the picker) and ``split`` (the source's)."""
SECTIONS = {"format": "Format", "model": "Tokenizer", "min_tokens": "Clean and split", "output": "Save"}
PREFIX = "data-"


@dataclass(frozen=True)
class DataSettingsValues:
    """The form, validated by the recipe (defaults live there, not here)."""

    format: str
    columns: dict[str, str]
    roles: dict[str, str]
    template: str | None
    model: str
    chat_template: str | None
    train_on: str
    max_length: int
    min_tokens: int
    dedupe: str
    eval_fraction: float
    seed: int
    on_error: str
    output: str
    output_format: str
    overwrite: bool

    def recipe_fields(self) -> dict[str, Any]:
        """The ``PrepareDataRecipe`` fields (all but ``source``, ``split`` and ``output``)."""
        return {"format": self.format, "columns": self.columns, "roles": self.roles, "template": self.template,
                "model": self.model, "chat_template": self.chat_template, "train_on": self.train_on, "max_length": self.max_length,
                "min_tokens": self.min_tokens, "dedupe": self.dedupe, "eval_fraction": self.eval_fraction,
                "seed": self.seed, "on_error": self.on_error, "output_format": self.output_format,
                "overwrite": self.overwrite}


class DataSettings(Vertical):
    DEFAULT_CSS = """
    DataSettings { padding: 0 1; }
    DataSettings RecipeForm { height: 1fr; }
    DataSettings RecipeForm .form-label { color: $text-muted; }
    DataSettings RecipeForm .form-section { color: $foreground; margin-top: 1; }
    DataSettings RecipeForm .form-error { padding-left: 14; }
    DataSettings .note { color: $text-muted; height: auto; padding-left: 14; }
    DataSettings #data-actions { height: 1; margin-top: 1; dock: bottom; }
    DataSettings #data-actions Button { margin-right: 1; min-width: 9; }
    """

    @dataclass
    class Changed(Message):
        scope: Scope

    def compose(self) -> ComposeResult:
        from ...config.recipes import PrepareDataRecipe

        yield RecipeForm(PrepareDataRecipe, fields=FIELDS, prefix=PREFIX, sections=SECTIONS, label_width=14, after={
            "template": lambda: [Static("", id="data-fields", classes="note")],
            "model": lambda: [Static(Text("checking…", style="dim"), id="data-model-status", classes="note")],
        }, id="data-form")
        with Horizontal(id="data-actions"):
            yield Button("Check", id="data-check", compact=True, tooltip="re-read the file with these settings")
            yield Button("Prepare", id="data-prepare", variant="primary", compact=True,
                         tooltip="write the prepared dataset (a job, shown in Runs)")

    def on_mount(self) -> None:
        self.form.control("model").placeholder = DEFAULT_MODEL  # type: ignore[attr-defined]
        self.form.control("output").placeholder = "folder to write"  # type: ignore[attr-defined]
        self.form.control("chat_template").placeholder = "model's own · chatml · gemma"  # type: ignore[attr-defined]

    @property
    def form(self) -> RecipeForm:
        return self.query_one(RecipeForm)

    def _text(self, path: str) -> str:
        return self.form.control(path).value.strip()  # type: ignore[attr-defined]

    def values(self) -> DataSettingsValues:
        recipe = self.form.check({"source": "-", "output": self._text("output") or "-"})
        fields = {name: getattr(recipe, name) for name in FIELDS}
        return DataSettingsValues(**{**fields, "model": recipe.model or DEFAULT_MODEL, "output": self._text("output")})

    @property
    def model(self) -> str:
        return self._text("model") or DEFAULT_MODEL

    @property
    def output(self) -> str:
        return self._text("output")

    def set_output(self, folder: str) -> None:
        self.form.control("output").value = folder  # type: ignore[attr-defined]

    def show_fields(self, text: str) -> None:
        self.query_one("#data-fields", Static).update(Text(text, style="dim"))

    def show_model_status(self, ok: bool, text: str) -> None:
        self.query_one("#data-model-status", Static).update(Text(("✓ " if ok else "✗ ") + text,
                                                                  style="green" if ok else "yellow"))

    @on(RecipeForm.Changed)
    def _form_changed(self, message: RecipeForm.Changed) -> None:
        """A select or switch takes effect at once; an input when enter is pressed."""
        message.stop()
        if not message.path or isinstance(self.form.control(message.path), Input):
            return
        scope = SCOPES.get(message.path)
        if scope is not None:
            self.post_message(self.Changed(scope))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        scope = SCOPES.get((event.input.id or "").removeprefix(PREFIX).replace("--", "."))
        if scope is not None:
            self.post_message(self.Changed(scope))
