"""A form generated from a recipe's pydantic schema: one row per field, its docstring as help.

Generating it from the schema keeps the form and the recipe from drifting apart: a field
added to a recipe appears here with its documentation and default. Values travel as a nested
dict (``{"lora": {"r": 8}}``); validation is the recipe's own (``check``), and its errors are
shown under the field they name (in a grid, on one line under the grid).

The Train, Compare/Export and Data forms are all this widget; a pane keeps only what a plain
form lacks (a source picker, variant checkboxes) as its own widgets for those fields, via
``fields``/``exclude``, and puts notes after a field with ``after``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from ...config.fields import REQUIRED, RecipeField, literal_choices, recipe_fields, scalar_kind

SKIP = {"stage"}


def parse_pairs(text: str, name: str) -> dict[str, str]:
    """``a=b c=d`` (spaces or commas between pairs) as a dict; ``ValueError`` naming the field."""
    pairs = {}
    for item in (p for p in re.split(r"[\s,]+", text.strip()) if p):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{name}: expected NAME=VALUE pairs, got {item!r}")
        pairs[key] = value
    return pairs


class RecipeForm(VerticalScroll):
    DEFAULT_CSS = """
    RecipeForm .form-row { height: 1; }
    RecipeForm .form-label { width: 24; }
    RecipeForm .form-control { width: 1fr; }
    RecipeForm Input.form-control, RecipeForm Select.form-control { width: 1fr; }
    RecipeForm Switch.form-control { width: auto; height: 1; border: none; padding: 0; margin-right: 1; }
    RecipeForm .form-state { width: auto; color: $text-muted; }
    RecipeForm .form-error { color: $error; height: auto; padding-left: 24; display: none; }
    RecipeForm .form-error.-shown { display: block; }
    RecipeForm .form-section { text-style: bold; margin-top: 1; color: $accent; }
    RecipeForm.-grid { layout: grid; grid-rows: 1; grid-gutter: 0 2; height: auto; overflow: hidden; }
    RecipeForm.-grid .form-error { padding-left: 0; }
    RecipeForm.-grid .form-label { margin-right: 1; color: $text-muted; }
    """

    @dataclass
    class Changed(Message):
        form: RecipeForm
        path: str = ""
        """The field that changed (dotted); a select or switch posts at once, an input as it is typed."""

    def __init__(self, schema: type[BaseModel], values: Mapping[str, Any] | None = None, *,
                 fields: Iterable[str] | None = None, exclude: Iterable[str] = (), prefix: str = "f-",
                 sections: Mapping[str, str] | None = None, after: Mapping[str, Callable[[], Iterable[Widget]]] | None = None,
                 columns: int = 1, label_width: int | None = None, **kwargs) -> None:
        """``fields``: the (dotted) fields shown, in that order (default: all but ``exclude``);
        ``prefix``: of the control ids (``f-lora--r``; errors ``f-lora--r-error``); ``sections``: a
        heading before a field; ``after``: widgets after a field's row; ``columns``: fields per row
        (a grid; errors go on one line under it)."""
        super().__init__(**kwargs)
        self.schema = schema
        self._initial = dict(values or {})
        self._kinds: dict[str, tuple[str, Any]] = {}
        self._wanted = None if fields is None else list(fields)
        self._exclude = set(exclude) | SKIP
        self.prefix = prefix
        self._sections = dict(sections or {})
        self._after = dict(after or {})
        self._columns = columns
        self._label_width = label_width
        if columns > 1:
            self.add_class("-grid")
            self.styles.grid_size_columns = columns

    # -- building -----------------------------------------------------------------------------------
    def _fields(self) -> list[RecipeField]:
        """Every field shown (nested sections flattened), in ``fields`` order when given."""
        out = recipe_fields(self.schema, exclude=self._exclude)
        if self._wanted is not None:
            by_path = {field.path: field for field in out}
            out = [by_path[path] for path in self._wanted if path in by_path]
        return out

    def compose(self) -> ComposeResult:
        fields = self._fields()
        width: int | str = self._label_width or (24 if self._columns == 1 else "auto")
        section = ""
        for field in fields:
            path, info = field.path, field.info
            parent = path.rpartition(".")[0]
            heading = self._sections.get(path) or (parent if parent and parent != section else "")
            if parent != section:
                section = parent
            if heading:
                yield Static(heading, classes="form-section")
            default = None if field.default is REQUIRED else field.default
            value = _get(self._initial, path, default)
            control = self._control(path, info.annotation, value)
            control.tooltip = field.help
            control.add_class("form-control")
            label = Label(path.rpartition(".")[2], classes="form-label")
            label.styles.width = width
            with Horizontal(classes="form-row"):
                yield label
                yield control
                if isinstance(control, Switch):
                    yield Static("on" if control.value else "off", classes="form-state", id=f"{control.id}-state")
            if self._columns == 1:
                yield Static("", classes="form-error", id=f"{self.prefix}{_dom_id(path)}-error")
            if path in self._after:
                yield from self._after[path]()
        if self._columns > 1:
            errors = Static("", classes="form-error", id=f"{self.prefix}errors")
            errors.styles.column_span = self._columns
            yield errors

    def _control(self, path: str, annotation: Any, value: Any) -> Any:
        dom = f"{self.prefix}{_dom_id(path)}"
        choices = literal_choices(annotation)
        if choices:
            self._kinds[path] = ("choice", None)
            return Select([(c, c) for c in choices], value=str(value), allow_blank=False, id=dom, compact=True)
        kind, optional = scalar_kind(annotation)
        if kind is bool and optional:  # three states: None leaves the choice to the job
            self._kinds[path] = ("optional_bool", None)
            shown = "default" if value is None else str(bool(value)).lower()
            return Select([(c, c) for c in ("default", "true", "false")], value=shown, allow_blank=False, id=dom,
                          compact=True)
        if kind is bool:
            self._kinds[path] = ("bool", None)
            return Switch(value=bool(value), id=dom)
        if kind in (int, float):
            self._kinds[path] = ("number", (kind, optional))
            return Input("" if value is None else str(value), placeholder="default" if optional else "",
                         type="integer" if kind is int else "number", id=dom, compact=True)
        if kind is str:
            self._kinds[path] = ("text", optional)
            return Input("" if value is None else str(value).replace("\n", "\\n"), placeholder="default" if optional else "",
                         id=dom, compact=True)
        if kind is dict:
            self._kinds[path] = ("pairs", None)
            return Input(" ".join(f"{k}={v}" for k, v in (value or {}).items()), placeholder="NAME=VALUE …",
                         id=dom, compact=True)
        if kind is list:
            self._kinds[path] = ("list", optional)
            return Input(", ".join(str(v) for v in value or []), placeholder="default" if optional else "a, b", id=dom,
                         compact=True)
        self._kinds[path] = ("list_or_choice", None)  # e.g. target_modules: "all-linear" | [names]
        shown = value if isinstance(value, str) else ", ".join(str(v) for v in value or [])
        return Input(shown, placeholder="all-linear or q_proj, v_proj", id=dom, compact=True)

    # -- reading --------------------------------------------------------------------------------------
    def control(self, path: str) -> Widget:
        return self.query_one(f"#{self.prefix}{_dom_id(path)}")

    def values(self) -> dict[str, Any]:
        """The form as a nested dict, each text parsed as far as it goes (validation does the rest);
        ``ValueError`` naming the field for a malformed NAME=VALUE list."""
        out: dict[str, Any] = {}
        for path, (kind, extra) in self._kinds.items():
            widget: Any = self.control(path)
            if kind in ("choice", "bool"):
                value: Any = widget.value
            elif kind == "optional_bool":
                value = {"default": None, "true": True, "false": False}[widget.value]
            elif kind == "number":
                number, optional = extra
                text = widget.value.strip()
                if text == "":
                    value = None if optional else text  # let validation name the empty field
                else:
                    try:
                        value = number(text)
                    except ValueError:
                        value = text
            elif kind == "text":
                value = widget.value.strip().replace("\\n", "\n") or (None if extra else "")
            elif kind == "pairs":
                value = parse_pairs(widget.value, path)
            elif kind == "list":
                value = [p.strip() for p in widget.value.split(",") if p.strip()] or (None if extra else [])
            else:
                text = widget.value.strip()
                value = text if text in ("", "all-linear") else [part.strip() for part in text.split(",") if part.strip()]
            _set(out, path, value)
        return out

    def check(self, extra: Mapping[str, Any] | None = None) -> Any:
        """The recipe these fields (and ``extra``: the fields a pane shows its own way) make, or
        ``None``; each error is shown under its field. ``ValueError`` carries the first error,
        named by field, for a pane to notify."""
        try:
            data = {**self.values(), **dict(extra or {})}
        except ValueError as exc:
            path = str(exc).partition(":")[0]
            self.show_errors({path: str(exc).partition(": ")[2]})
            raise
        try:
            recipe = self.schema.model_validate(data)
        except ValidationError as exc:
            errors = {".".join(str(p) for p in err["loc"]) or "(recipe)": err["msg"] for err in exc.errors()}
            self.show_errors(errors)
            raise ValueError("; ".join(f"{path}: {message}" for path, message in errors.items())) from None
        self.show_errors({})
        return recipe

    def show_errors(self, errors: Mapping[str, str]) -> None:
        if self._columns > 1:
            shown = {p: m for p, m in errors.items() if p in self._kinds}
            label = self.query_one(f"#{self.prefix}errors", Static)
            label.update("; ".join(f"{p}: {m}" for p, m in shown.items()))
            label.set_class(bool(shown), "-shown")
        for path in self._kinds:
            self.control(path).set_class(path in errors, "-invalid")
            if self._columns == 1:
                label = self.query_one(f"#{self.prefix}{_dom_id(path)}-error", Static)
                label.update(errors.get(path, ""))
                label.set_class(path in errors, "-shown")

    # -- events ---------------------------------------------------------------------------------------
    def _path_of(self, widget: Widget) -> str:
        return next((p for p in self._kinds if widget.id == f"{self.prefix}{_dom_id(p)}"), "")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, self._path_of(event.input)))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, self._path_of(event.select)))

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self.query_one(f"#{event.switch.id}-state", Static).update("on" if event.value else "off")
        self.post_message(self.Changed(self, self._path_of(event.switch)))


def _get(values: Mapping[str, Any], path: str, default: Any) -> Any:
    node: Any = values
    for part in path.split("."):
        if isinstance(node, BaseModel):
            node = node.model_dump()
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _set(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for parent in parents:
        out = out.setdefault(parent, {})
    out[leaf] = value


def _dom_id(path: str) -> str:
    return path.replace(".", "--")
