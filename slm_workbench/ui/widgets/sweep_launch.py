"""Start a sweep: the base training recipe, the search space (one row per parameter: the training
field, its kind, its range), the trials, the metric, the parallel workers and the storage, the
equivalent ``slmw sweep`` command as it is typed, and a Sweep button.

The form starts from the shipped ``sweep-smoke-lora`` recipe as written (its fields not shown,
such as the pruner and the task examples, are kept as they are). The scalar fields are a form
generated from ``SweepRecipe`` (``RecipeForm``), so their help and defaults are the recipe's; a
parameter row's kind and range are the ``FIELD=KIND:RANGE`` grammar of ``config/sweep_space.py``
split in two. ``recipe()`` validates through ``SweepRecipe`` (which checks every parameter against
the training recipe) and shows the first error on one line naming the field or the parameter;
the pane posts the job (``StartJob``), the same detached job ``slmw sweep`` starts, on Sweep or on
Enter in any field.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from ...config.files import dotted_items
from ...config.sweep_space import KINDS
from ...engine.errors import WorkbenchError
from .distill_launch import error_line, training_recipes
from .recipe_form import RecipeForm

SHIPPED = "sweep-smoke-lora"
FALLBACK = {"stage": "sweep", "train": "smoke-lora",
            "params": {"learning_rate": "loguniform:1e-4:1e-2", "lora.r": "choice:8,16,32"}}
"""The form's start when no ``sweep-smoke-lora`` recipe is shipped."""
FIELDS = ("trials", "metric", "parallel", "storage")
SHAPES = {"loguniform": "LOW:HIGH (above 0)", "uniform": "LOW:HIGH", "int": "LOW:HIGH[:STEP]", "choice": "A,B,C"}
STORAGE_HINT = "default: a journal in the run; sqlite:///PATH, postgresql://… (workers elsewhere)"


def initial_values() -> dict[str, Any]:
    """The shipped sweep recipe as written (``train`` still a name), else ``FALLBACK``."""
    import yaml

    from ...shipped import shipped_recipes

    path = shipped_recipes().get(SHIPPED)
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        if isinstance(data, dict) and data.get("stage") == "sweep" and isinstance(data.get("params"), dict):
            return data
    return FALLBACK


def split_spec(spec: str) -> tuple[str, str]:
    """``"loguniform:1e-4:1e-2"`` -> ``("loguniform", "1e-4:1e-2")`` (an unknown kind: ``loguniform``, the spec kept)."""
    kind, sep, rest = str(spec).strip().partition(":")
    kind = kind.strip().lower()
    return (kind, rest.strip()) if sep and kind in KINDS else ("loguniform", str(spec).strip())


def sweep_command(base: str, data: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """``slmw sweep BASE --param … --trials N --metric M`` and a flag for every other field that is
    not at its default (``--parallel``, ``--storage``, ``--pruner-startup-trials``…). A field set
    back to null has no flag (``seed``); the form never sets one (its fields are never null but
    ``storage`` and ``direction``, whose default is null)."""
    words = ["slmw", "sweep", shlex.quote(base or "RECIPE")]
    for name, spec in (data.get("params") or {}).items():
        words += ["--param", shlex.quote(f"{name}={spec}")]
    words += ["--trials", str(data.get("trials")), "--metric", str(data.get("metric"))]
    flat_defaults = dotted_items(defaults)
    shown = {k: v for k, v in data.items() if k not in ("stage", "train", "params", "trials", "metric", "join")}
    for key, value in dotted_items(shown).items():
        if key in flat_defaults and value == flat_defaults[key]:
            continue
        option = "--" + key.replace(".", "-").replace("_", "-")
        if isinstance(value, bool):
            words.append(option if value else option.replace("--", "--no-", 1))
        elif value is not None:
            words += [option, shlex.quote(str(value))]
    return " ".join(words)


class ParamRow(Horizontal):
    """One searched parameter: the training field, its kind, its range, and a button that removes it."""

    DEFAULT_CSS = """
    ParamRow { height: 1; }
    ParamRow .swl-name { width: 22; margin-right: 1; }
    ParamRow .swl-kind { width: 14; margin-right: 1; }
    ParamRow .swl-range { width: 1fr; }
    ParamRow .swl-remove { min-width: 3; width: 3; margin-left: 1; }
    """

    def __init__(self, name: str = "", spec: str = "", **kwargs) -> None:
        super().__init__(classes="swl-param", **kwargs)
        self._name, (self._kind, self._range) = name, split_spec(spec) if spec else ("loguniform", "")

    def compose(self) -> ComposeResult:
        yield Input(self._name, placeholder="training field (lora.r)", classes="swl-name", compact=True,
                    tooltip="the training recipe's field this parameter sets (dotted: lora.r)")
        yield Select([(k, k) for k in KINDS], value=self._kind, allow_blank=False, classes="swl-kind", compact=True,
                     tooltip="loguniform/uniform: a float range; int: whole numbers; choice: one of a list")
        yield Input(self._range, placeholder=SHAPES[self._kind], classes="swl-range", compact=True,
                    tooltip="the range: " + ", ".join(f"{k} {v}" for k, v in SHAPES.items()))
        yield Button("×", classes="swl-remove", compact=True, tooltip="stop searching this parameter")

    @property
    def field_name(self) -> str:
        return self.query_one(".swl-name", Input).value.strip()

    @property
    def spec(self) -> str:
        return f"{self.query_one('.swl-kind', Select).value}:{self.query_one('.swl-range', Input).value.strip()}"

    def mark(self, invalid: bool) -> None:
        for widget in self.query(Input):
            widget.set_class(invalid, "-invalid")

    @on(Select.Changed, ".swl-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self.query_one(".swl-range", Input).placeholder = SHAPES.get(str(event.value), "")


class SweepLaunch(Vertical):
    DEFAULT_CSS = """
    SweepLaunch { height: auto; }
    SweepLaunch .swl-row { height: 1; }
    SweepLaunch .swl-label { width: 9; color: $text-muted; }
    SweepLaunch #swl-base { width: 1fr; }
    SweepLaunch #swl-add { margin-left: 1; min-width: 13; }
    SweepLaunch #swl-params { height: auto; width: 1fr; }
    SweepLaunch .swl-form-row { height: auto; }
    SweepLaunch RecipeForm { height: auto; width: 1fr; }
    SweepLaunch #swl-command { width: 1fr; height: auto; }
    SweepLaunch #swl-start { min-width: 9; margin-left: 1; }
    SweepLaunch #swl-error { height: auto; color: $error; display: none; }
    """

    def __init__(self, values: Mapping[str, Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = dict(values) if values is not None else initial_values()
        self.command = ""
        """The ``slmw sweep`` command the form stands for (as shown)."""
        self.error = ""
        """The form's first error, one line (empty when it makes a recipe)."""

    def compose(self) -> ComposeResult:
        from ...config.sweep import SweepRecipe

        train = self.base.get("train")
        with Horizontal(classes="swl-row"):
            yield Label("base", classes="swl-label")
            yield Input(train if isinstance(train, str) else "", id="swl-base", compact=True,
                        placeholder="training recipe: a shipped name (smoke-lora) or a file",
                        suggester=SuggestFromList(training_recipes(), case_sensitive=False),
                        tooltip="the training recipe every trial starts from (its fields named below are searched)")
            yield Button("+ parameter", id="swl-add", compact=True, tooltip="search one more training field")
        with Horizontal(classes="swl-form-row"):
            yield Label("search", classes="swl-label")
            with Vertical(id="swl-params"):
                for name, spec in (self.base.get("params") or {}).items():
                    yield ParamRow(str(name), str(spec))
        with Horizontal(classes="swl-form-row"):
            yield Label("sweep", classes="swl-label")
            yield RecipeForm(SweepRecipe, self.base, fields=FIELDS, prefix="swl-", columns=2, id="swl-form")
        with Horizontal(classes="swl-form-row"):
            yield Static("", id="swl-command")
            yield Button("Sweep", id="swl-start", variant="success", compact=True,
                         tooltip="start the sweep as a job (slmw sweep; Enter in a field does the same); each trial is a training run in Runs")
        yield Static("", id="swl-error")

    def on_mount(self) -> None:
        self.call_after_refresh(self._ready)  # the generated form's controls exist after its own mount

    def _ready(self) -> None:
        self.query_one("#swl-storage", Input).placeholder = STORAGE_HINT
        self.changed()

    # -- the search space ---------------------------------------------------------------------------
    def rows(self) -> list[ParamRow]:
        return list(self.query(ParamRow))

    @on(Button.Pressed, "#swl-add")
    async def add_param(self, event: Button.Pressed | None = None) -> None:
        if event is not None:
            event.stop()
        row = ParamRow()
        await self.query_one("#swl-params", Vertical).mount(row)
        row.query_one(".swl-name", Input).focus()
        self.changed()

    @on(Button.Pressed, ".swl-remove")
    async def _remove_param(self, event: Button.Pressed) -> None:
        event.stop()
        row = event.button.parent
        if isinstance(row, ParamRow):
            await row.remove()
            self.changed()

    def params(self, strict: bool = True) -> dict[str, str]:
        """The rows as ``{field: spec}`` (a row without a field and range searches nothing);
        ``ValueError`` naming the row for one with a range but no field, or a field given twice."""
        out: dict[str, str] = {}
        for number, row in enumerate(self.rows(), 1):
            name, spec = row.field_name, row.spec
            if strict and not name and spec.partition(":")[2]:
                raise ValueError(f"param row {number}: name the training field it sets (e.g. lora.r)")
            if strict and name in out:
                raise ValueError(f"param {name}: given twice (keep one row per field)")
            if name:
                out[name] = spec
        return out

    # -- the recipe ---------------------------------------------------------------------------------
    def data(self, strict: bool = True) -> dict[str, Any]:
        """The sweep recipe as a nested dict: the shipped recipe with what the form shows over it."""
        data = {k: v for k, v in self.base.items() if k not in ("train", "params", "join")}
        data.update(self.query_one(RecipeForm).values())
        data.update(stage="sweep", train=self.base_name, params=self.params(strict))
        return data

    @property
    def base_name(self) -> str:
        return self.query_one("#swl-base", Input).value.strip()

    def recipe(self) -> Any:
        """The validated ``SweepRecipe``; ``ValueError`` with its first error on one line, naming the
        field, the parameter or the base recipe (shown under the form too)."""
        from pydantic import ValidationError

        from ...config.sweep import SweepRecipe
        from ...config.train import inline_train_recipe

        form, base = self.query_one(RecipeForm), self.query_one("#swl-base", Input)
        form.show_errors({})
        base.set_class(False, "-invalid")
        self._mark_rows("")
        try:
            data = self.data()
        except ValueError as exc:
            return self._fail(str(exc))
        try:
            data["train"] = inline_train_recipe(data["train"] or None, "the base recipe")
            if data["train"] is None:
                raise ValueError("name the training recipe the trials start from (e.g. smoke-lora)")
        except (ValueError, WorkbenchError) as exc:
            base.set_class(True, "-invalid")
            return self._fail(f"base: {exc.message if isinstance(exc, WorkbenchError) else exc}")
        if not data["params"]:
            return self._fail("search: nothing to search; give a parameter (e.g. learning_rate, loguniform, 1e-4:1e-2)")
        try:
            recipe = SweepRecipe.model_validate(data)
        except ValidationError as exc:
            errors = [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
            form.show_errors({loc: msg for loc, msg in errors if loc in FIELDS})
            return self._fail(error_line("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in errors)))
        except WorkbenchError as exc:  # SweepRecipe's check of a parameter: "param lora.r=…: …"
            self._mark_rows(exc.message)
            return self._fail(exc.message)
        self._show_error("")
        return recipe

    def _fail(self, line: str) -> Any:
        self._show_error(line)
        raise ValueError(line)

    def _mark_rows(self, line: str) -> None:
        """Mark the row that ``line`` names (``param NAME=…``, ``param NAME:``, ``param row N:``)."""
        for number, row in enumerate(self.rows(), 1):
            name = row.field_name
            row.mark(bool(line) and (line.startswith(f"param row {number}:") or bool(name) and line.startswith(
                (f"param {name}=", f"param {name}:"))))

    def _show_error(self, line: str) -> None:
        self.error = line
        error = self.query_one("#swl-error", Static)
        error.update(line)
        error.display = bool(line)

    # -- as the form changes: the command -----------------------------------------------------------
    @on(RecipeForm.Changed)
    @on(Input.Changed)
    @on(Select.Changed, ".swl-kind")
    def changed(self, event: Any = None) -> None:
        """Validate and show the command (dim while the form has an error)."""
        if event is not None:
            event.stop()
        try:
            data, valid = self.recipe().model_dump(mode="json"), True
        except ValueError:
            data, valid = self.data(strict=False), False
        self.command = sweep_command(self.base_name, data, recipe_defaults())
        self.query_one("#swl-command", Static).update(Text("$ " + self.command, style="cyan" if valid else "dim"))


def recipe_defaults() -> dict[str, Any]:
    """``SweepRecipe``'s defaults (sections as mappings), to leave their flags out of the command."""
    from ...config.sweep import SweepRecipe

    out: dict[str, Any] = {}
    for name, info in SweepRecipe.model_fields.items():
        if info.is_required():
            continue
        value = info.get_default(call_default_factory=True)
        out[name] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return out
