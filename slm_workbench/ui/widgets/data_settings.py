"""The Data pane's settings: format and mapping, tokenizer, cleaning, split and output.

The fields are those of ``PrepareDataRecipe``. A change posts ``DataSettings.Changed``
with what it affects (``format``: everything is re-read; ``tokens``: the sample, the
checks and the lengths; ``clean``: the lengths), when a select changes or enter is
pressed in an input. ``values()`` parses the form or raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

DEFAULT_MODEL = "smollm2-135m-instruct"
FORMATS = ("auto", "messages", "prompt_completion", "alpaca", "text")
Scope = Literal["format", "tokens", "clean"]
SCOPES: dict[str, Scope] = {
    "data-format": "format", "data-columns": "format", "data-roles": "format", "data-template": "format",
    "data-model": "tokens", "data-train-on": "tokens", "data-max-length": "tokens",
    "data-min-tokens": "clean", "data-dedupe": "clean", "data-eval": "clean", "data-seed": "clean",
}


@dataclass(frozen=True)
class DataSettingsValues:
    format: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    model: str = DEFAULT_MODEL
    train_on: str = "completion"
    max_length: int = 2048
    min_tokens: int = 0
    dedupe: str = "exact"
    eval_fraction: float = 0.1
    seed: int = 42
    output: str = ""
    output_format: str = "hf"
    overwrite: bool = False

    def recipe_fields(self) -> dict[str, Any]:
        """The ``PrepareDataRecipe`` fields (all but ``source`` and ``output``)."""
        return {"format": self.format, "columns": self.columns, "roles": self.roles, "template": self.template,
                "model": self.model, "train_on": self.train_on, "max_length": self.max_length,
                "min_tokens": self.min_tokens, "dedupe": self.dedupe, "eval_fraction": self.eval_fraction,
                "seed": self.seed, "output_format": self.output_format, "overwrite": self.overwrite}


def parse_pairs(text: str, name: str) -> dict[str, str]:
    """``a=b c=d`` (spaces or commas between pairs) as a dict; ``ValueError`` naming the field."""
    pairs = {}
    for item in (p for p in re.split(r"[\s,]+", text.strip()) if p):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{name}: expected NAME=VALUE pairs, got {item!r}")
        pairs[key] = value
    return pairs


class DataSettings(VerticalScroll):
    DEFAULT_CSS = """
    DataSettings { padding: 0 1; }
    DataSettings .setting { height: 1; margin-bottom: 0; }
    DataSettings .setting Label { width: 11; color: $text-muted; }
    DataSettings .setting Input, DataSettings .setting Select { width: 1fr; }
    DataSettings .note { color: $text-muted; height: auto; padding-left: 11; }
    DataSettings .group { height: 1; margin-top: 1; text-style: bold; }
    DataSettings #data-actions { height: 1; margin-top: 1; }
    DataSettings #data-actions Button { margin-right: 1; min-width: 9; }
    DataSettings #data-seed { width: 8; }
    DataSettings #data-overwrite { width: auto; margin-left: 1; }
    """

    @dataclass
    class Changed(Message):
        scope: Scope

    def compose(self) -> ComposeResult:
        yield Static("Format", classes="group")
        yield from self._row("format", Select([(f, f) for f in FORMATS], value="auto", allow_blank=False,
                                              id="data-format", compact=True))
        yield from self._row("columns", Input(placeholder="FIELD=COLUMN, e.g. prompt=question", id="data-columns", compact=True))
        yield from self._row("roles", Input(placeholder="FROM=TO, e.g. human=user gpt=assistant", id="data-roles", compact=True))
        yield from self._row("template", Input(placeholder="the model's chat template", id="data-template", compact=True))
        yield Static("", id="data-fields", classes="note")
        yield Static("Tokenizer", classes="group")
        yield from self._row("model", Input(DEFAULT_MODEL, placeholder=DEFAULT_MODEL, id="data-model", compact=True))
        yield Static(Text("checking…", style="dim"), id="data-model-status", classes="note")
        yield from self._row("train on", Select([("assistant turns", "completion"), ("every token", "all")],
                                                value="completion", allow_blank=False, id="data-train-on", compact=True))
        yield Static("Clean and split", classes="group")
        yield from self._row("max tokens", Input("2048", type="integer", id="data-max-length", compact=True))
        yield from self._row("min tokens", Input("0", type="integer", id="data-min-tokens", compact=True))
        yield from self._row("dedupe", Select([("exact", "exact"), ("normalized", "normalized"), ("none", "none")],
                                              value="exact", allow_blank=False, id="data-dedupe", compact=True))
        with Horizontal(classes="setting"):
            yield Label("eval share")
            yield Input("0.1", type="number", id="data-eval", compact=True)
            yield Label(" seed", classes="short")
            yield Input("42", type="integer", id="data-seed", compact=True)
        yield Static("Save", classes="group")
        yield from self._row("output", Input(placeholder="folder to write", id="data-output", compact=True))
        with Horizontal(classes="setting"):
            yield Label("as")
            yield Select([("datasets folder", "hf"), ("jsonl", "jsonl")], value="hf", allow_blank=False,
                         id="data-output-format", compact=True)
            yield Checkbox("overwrite", id="data-overwrite", compact=True)
        with Horizontal(id="data-actions"):
            yield Button("Check", id="data-check", compact=True, tooltip="re-read the file with these settings")
            yield Button("Prepare", id="data-prepare", variant="primary", compact=True,
                         tooltip="write the prepared dataset (a job, shown in Runs)")

    @staticmethod
    def _row(label: str, widget: Input | Select) -> ComposeResult:
        with Horizontal(classes="setting"):
            yield Label(label)
            yield widget

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def values(self) -> DataSettingsValues:
        def number(widget_id: str, name: str, kind: type) -> Any:
            text = self._text(widget_id)
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{name}: {text!r} is not a {'whole ' if kind is int else ''}number") from None

        return DataSettingsValues(
            format=str(self.query_one("#data-format", Select).value),
            columns=parse_pairs(self._text("data-columns"), "columns"),
            roles=parse_pairs(self._text("data-roles"), "roles"),
            template=self._text("data-template").replace("\\n", "\n") or None,
            model=self._text("data-model") or DEFAULT_MODEL,
            train_on=str(self.query_one("#data-train-on", Select).value),
            max_length=number("data-max-length", "max tokens", int),
            min_tokens=number("data-min-tokens", "min tokens", int),
            dedupe=str(self.query_one("#data-dedupe", Select).value),
            eval_fraction=number("data-eval", "eval share", float),
            seed=number("data-seed", "seed", int),
            output=self._text("data-output"),
            output_format=str(self.query_one("#data-output-format", Select).value),
            overwrite=self.query_one("#data-overwrite", Checkbox).value,
        )

    @property
    def model(self) -> str:
        return self._text("data-model") or DEFAULT_MODEL

    @property
    def output(self) -> str:
        return self._text("data-output")

    def set_output(self, folder: str) -> None:
        self.query_one("#data-output", Input).value = folder

    def show_fields(self, text: str) -> None:
        self.query_one("#data-fields", Static).update(Text(text, style="dim"))

    def show_model_status(self, ok: bool, text: str) -> None:
        self.query_one("#data-model-status", Static).update(Text(("✓ " if ok else "✗ ") + text,
                                                                  style="green" if ok else "yellow"))

    @on(Select.Changed)
    @on(Input.Submitted)
    def _changed(self, event: Select.Changed | Input.Submitted) -> None:
        scope = SCOPES.get(event.control.id or "")
        event.stop()
        if scope is not None:
            self.post_message(self.Changed(scope))
