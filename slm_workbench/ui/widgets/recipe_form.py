"""A form generated from a recipe's pydantic schema: one row per field, its docstring as help.

Generating it from the schema keeps the form and the recipe from drifting apart: a field
added to ``TrainRecipe`` appears here with its documentation. Values travel as a nested
dict (``{"lora": {"r": 8}}``); validation is the recipe's own, and its errors are shown
under the field they name.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, Switch

SKIP = {"stage"}


def _literal_choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return None


def _scalar(annotation: Any) -> tuple[type | None, bool]:
    """(int | float | str | bool | None, optional) for an annotation such as ``int | None``."""
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    optional = type(None) in args
    kinds = [a for a in args if a is not type(None)] if args else [annotation]
    kind = kinds[0] if len(kinds) == 1 and kinds[0] in (int, float, str, bool) else None
    return kind, optional


class RecipeForm(VerticalScroll):
    DEFAULT_CSS = """
    RecipeForm .form-row { height: 1; }
    RecipeForm .form-label { width: 24; }
    RecipeForm .form-control { width: 1fr; }
    RecipeForm Input.form-control, RecipeForm Select.form-control { width: 1fr; }
    RecipeForm .form-error { color: $error; height: auto; padding-left: 24; display: none; }
    RecipeForm .form-error.-shown { display: block; }
    RecipeForm .form-section { text-style: bold; margin-top: 1; color: $accent; }
    """

    @dataclass
    class Changed(Message):
        form: RecipeForm

    def __init__(self, schema: type[BaseModel], values: dict[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.schema = schema
        self._initial = values
        self._kinds: dict[str, tuple[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield from self._rows(self.schema, self._initial, "")

    def _rows(self, schema: type[BaseModel], values: dict[str, Any], prefix: str) -> ComposeResult:
        for name, field in schema.model_fields.items():
            if name in SKIP:
                continue
            path = f"{prefix}{name}"
            value = values.get(name, field.get_default(call_default_factory=True))
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield Static(name, classes="form-section")
                nested = value.model_dump() if isinstance(value, BaseModel) else (value or {})
                yield from self._rows(annotation, nested, f"{path}.")
                continue
            control = self._control(path, annotation, value)
            control.tooltip = field.description or ""
            control.add_class("form-control")
            with Horizontal(classes="form-row"):
                yield Label(name, classes="form-label")
                yield control
            yield Static("", classes="form-error", id=f"err-{_dom_id(path)}")

    def _control(self, path: str, annotation: Any, value: Any) -> Any:
        dom = f"f-{_dom_id(path)}"
        choices = _literal_choices(annotation)
        if choices:
            self._kinds[path] = ("choice", None)
            return Select([(c, c) for c in choices], value=str(value), allow_blank=False, id=dom, compact=True)
        kind, optional = _scalar(annotation)
        if kind is bool:
            self._kinds[path] = ("bool", None)
            return Switch(value=bool(value), id=dom)
        if kind in (int, float):
            self._kinds[path] = ("number", (kind, optional))
            return Input("" if value is None else str(value), placeholder="default" if optional else "",
                         type="integer" if kind is int else "number", id=dom, compact=True)
        if kind is str:
            self._kinds[path] = ("text", optional)
            return Input("" if value is None else str(value), id=dom, compact=True)
        self._kinds[path] = ("list_or_choice", None)  # e.g. target_modules: "all-linear" | [names]
        shown = value if isinstance(value, str) else ", ".join(value or [])
        return Input(shown, placeholder="all-linear or q_proj, v_proj", id=dom, compact=True)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, (kind, extra) in self._kinds.items():
            widget = self.query_one(f"#f-{_dom_id(path)}")
            if kind == "choice":
                value: Any = widget.value
            elif kind == "bool":
                value = widget.value
            elif kind == "number":
                number, optional = extra
                text = widget.value.strip()
                if text == "":
                    if not optional:
                        value = text  # let validation name the empty field
                    else:
                        value = None
                else:
                    try:
                        value = number(text)
                    except ValueError:
                        value = text
            elif kind == "text":
                value = widget.value.strip() or (None if extra else "")
            else:
                text = widget.value.strip()
                value = text if text in ("", "all-linear") else [part.strip() for part in text.split(",") if part.strip()]
            node = out
            *parents, leaf = path.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        return out

    def show_errors(self, errors: dict[str, str]) -> None:
        for path in self._kinds:
            label = self.query_one(f"#err-{_dom_id(path)}", Static)
            message = errors.get(path, "")
            label.update(message)
            label.set_class(bool(message), "-shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self))

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self))


def _dom_id(path: str) -> str:
    return path.replace(".", "--")
