"""Start a distillation: teacher, prompts, student, method, the key generation, training and card
settings, a memory estimate, and a Distill button.

The teacher, the prompts and the student each have a picker beside their text (models, runs
that produced a model, shipped training recipes for a teacher trained first; datasets for the
prompts); the numbers are forms generated from the recipe's own sections (``RecipeForm``), so
their help and defaults are the recipe's. Fields not shown keep the values of the shipped
``distill-demo`` recipe (or the recipe's defaults). ``recipe()`` validates the whole
``DistillRecipe`` and shows its first error on one line; the estimate is computed in a thread
worker by ``engine/distill/estimate.py`` (config.json and safetensors headers only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from ...engine.errors import WorkbenchError
from .data_source import PathSuggester
from .recipe_form import RecipeForm

FALLBACK = {"teacher_recipe": "smoke-lora", "generate": {"prompts": "slmw:demo"}, "student": {"keep_layers": 10}}
"""The form's start when no ``distill-demo`` recipe is shipped."""
TEACHER_AS = (("model, run or endpoint", "teacher"), ("training recipe", "teacher_recipe"))
GENERATE_FIELDS = ("max_prompts", "samples_per_prompt", "temperature", "max_new_tokens")
TRAIN_FIELDS = ("method", "learning_rate", "max_steps")
CARD_FIELDS = ("examples", "variant")


def initial_values() -> dict[str, Any]:
    """The shipped ``distill-demo`` recipe as written (the form's start), else ``FALLBACK``."""
    import yaml

    from ...shipped import shipped_recipes

    path = shipped_recipes().get("distill-demo")
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        if isinstance(data, dict) and data.get("stage") == "distill":
            return data
    return FALLBACK


def training_recipes() -> list[str]:
    """Shipped training recipes (a teacher trained first when it has no run yet)."""
    import yaml

    from ...shipped import shipped_recipes

    names = []
    for name, path in shipped_recipes().items():
        try:
            if (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stage") == "train":
                names.append(name)
        except (OSError, yaml.YAMLError, AttributeError):
            continue
    return sorted(names)


def method_note(method: str, keep_layers: bool, student_model: str) -> Text:
    """Which method applies to this student, in one line."""
    if method == "sft":
        return Text("sft: trains on the teacher's answers: any student, no shared vocabulary needed", style="dim")
    if method == "gold":
        return Text("gold: logit distillation across tokenizers (the teacher runs beside the student)", style="dim")
    if keep_layers:
        return Text(f"{method}: matches the teacher's token distributions; a keep_layers student shares its "
                    "vocabulary ✓", style="dim")
    return Text(f"{method}: needs a shared vocabulary: {student_model or 'the student'} must use the teacher's "
                "tokenizer (checked before training; else use sft or gold)", style="yellow")


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _merge(out[key], value) if both else value
    return out


def error_line(message: str) -> str:
    """A pydantic error list as one line: the first error (``loc: msg``), and how many more."""
    parts = [p.strip() for p in message.split("; ") if p.strip()]
    first = parts[0].replace("Value error, ", "") if parts else message
    return first + (f" (+{len(parts) - 1} more)" if len(parts) > 1 else "")


class DistillLaunch(Vertical):
    DEFAULT_CSS = """
    DistillLaunch { height: auto; }
    DistillLaunch .dl-row { height: 1; }
    DistillLaunch .dl-label { width: 9; color: $text-muted; }
    DistillLaunch .dl-pick { width: 14; margin-right: 1; }
    DistillLaunch .dl-pick SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    DistillLaunch .dl-pick > SelectOverlay { width: 64; }
    DistillLaunch #dl-teacher-as { width: 26; margin-right: 1; }
    DistillLaunch #dl-teacher, DistillLaunch #dl-prompts { width: 1fr; }
    DistillLaunch .dl-form-row { height: auto; }
    DistillLaunch RecipeForm { height: auto; width: 1fr; }
    DistillLaunch #dl-method { width: 16; margin-right: 1; }
    DistillLaunch #dl-method-note { width: 1fr; }
    DistillLaunch #dl-estimate { width: 1fr; height: auto; color: $text-muted; }
    DistillLaunch #dl-error { height: auto; color: $error; display: none; }
    DistillLaunch #dl-start { min-width: 10; margin-left: 1; }
    """

    @dataclass
    class Estimated(Message):
        """The memory estimate for the form's recipe (``line``), computed in a worker."""

        generation: int
        line: str
        fits: bool | None
        larger: bool = False
        """The student has more parameters than the teacher."""

    def __init__(self, values: Mapping[str, Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = dict(values) if values is not None else initial_values()
        self.models: list[str] = []
        self._generation = 0

    def compose(self) -> ComposeResult:
        from ...config.distill import METHODS, CardSettings, StudentSettings
        from ...config.generate import GenerationSettings
        from ...config.train import TrainRecipe
        from ...engine.models.resolve import prepared_models

        self.models = [ref.name for ref in prepared_models()]
        base = self.base
        as_recipe = base.get("teacher_recipe") is not None and base.get("teacher") is None
        with Horizontal(classes="dl-row"):
            yield Label("teacher", classes="dl-label")
            yield Select([], prompt="pick…", id="dl-teacher-pick", classes="dl-pick", compact=True,
                         tooltip="a model, a run that produced a model, or a shipped training recipe")
            yield Select(TEACHER_AS, value="teacher_recipe" if as_recipe else "teacher", allow_blank=False,
                         id="dl-teacher-as", compact=True, tooltip="what the text names")
            yield Input(str(base.get("teacher_recipe") if as_recipe else base.get("teacher") or ""), id="dl-teacher",
                        compact=True, placeholder="model, run id, RUN:VARIANT or http(s):// endpoint",
                        suggester=SuggestFromList(self.models, case_sensitive=False))
        with Horizontal(classes="dl-row"):
            yield Label("prompts", classes="dl-label")
            yield Select([("slmw:demo", "slmw:demo")], prompt="pick…", id="dl-prompts-pick", classes="dl-pick",
                         compact=True, tooltip="a dataset whose user turns the teacher answers")
            yield Input(str((base.get("generate") or {}).get("prompts") or ""), id="dl-prompts", compact=True,
                        suggester=PathSuggester(),
                        placeholder="a dataset (file, prepared folder, slmw:demo) or a .txt with one prompt a line")
        with Horizontal(classes="dl-form-row"):
            yield Label("student", classes="dl-label")
            yield Select([(m, m) for m in self.models], prompt="pick…", id="dl-student-pick", classes="dl-pick",
                         compact=True, tooltip="a smaller model (or give keep_layers: the teacher with fewer layers)")
            yield RecipeForm(StudentSettings, base.get("student") or {}, prefix="dls-", columns=2, id="dl-student")
        with Horizontal(classes="dl-row"):
            yield Label("method", classes="dl-label")
            yield Select([(m, m) for m in METHODS], value=str(base.get("method") or "sft"), allow_blank=False,
                         id="dl-method", compact=True, tooltip="how the student learns from the teacher")
            yield Static("", id="dl-method-note")
        with Horizontal(classes="dl-form-row"):
            yield Label("generate", classes="dl-label")
            yield RecipeForm(GenerationSettings, base.get("generate") or {}, fields=GENERATE_FIELDS, prefix="dlg-",
                             columns=2, id="dl-generate")
        with Horizontal(classes="dl-form-row"):
            yield Label("", classes="dl-label")
            yield RecipeForm(_filters(), (base.get("generate") or {}).get("filters") or {}, fields=("checker",),
                             prefix="dlf-", columns=1, label_width=12, id="dl-filters")
        with Horizontal(classes="dl-form-row"):
            yield Label("train", classes="dl-label")
            yield RecipeForm(TrainRecipe, base.get("train") or {}, fields=TRAIN_FIELDS, prefix="dlt-", columns=3,
                             id="dl-train")
        with Horizontal(classes="dl-form-row"):
            yield Label("card", classes="dl-label")
            yield RecipeForm(CardSettings, base.get("card") or {}, fields=CARD_FIELDS, prefix="dlc-", columns=2,
                             id="dl-card")
        with Horizontal(classes="dl-form-row"):
            yield Static("memory estimate: waiting for a valid recipe", id="dl-estimate")
            yield Button("Distill", id="dl-start", variant="success", compact=True,
                         tooltip="teacher answers → student → training → card, as one job (slmw distill)")
        yield Static("", id="dl-error")

    def on_mount(self) -> None:
        self.query_one("#dlf-checker", Input).placeholder = (
            "module:function judging each answer (slmw:check_extraction for the demo)")
        self.set_sources([], [])
        self.call_after_refresh(self.changed)

    # -- pickers ----------------------------------------------------------------------------------
    def set_sources(self, runs: list[tuple[str, str]], datasets: list[str], models: list[str] | None = None) -> None:
        """Offer these as teacher / student (``models``: every model the workbench has, the built-in ones
        prepared or not, when given; ``(run id, title)`` of runs that produced a model) and prompts."""
        if models is not None:
            self.models = list(models)
        models = [(Text(m, no_wrap=True, overflow="ellipsis"), f"teacher\t{m}") for m in self.models]
        run_options = [(Text(f"{title} · {run_id}", no_wrap=True, overflow="ellipsis"), f"teacher\t{run_id}")
                       for run_id, title in runs]
        recipes = [(Text(f"recipe {name} (trained first)", no_wrap=True), f"teacher_recipe\t{name}")
                   for name in training_recipes()]
        with self.prevent(Select.Changed):
            self.query_one("#dl-teacher-pick", Select).set_options(models + run_options + recipes)
            self.query_one("#dl-student-pick", Select).set_options(
                [(m, m) for m in self.models] + [(Text(f"{t} · {r}", no_wrap=True, overflow="ellipsis"), r)
                                                 for r, t in runs])
            self.query_one("#dl-prompts-pick", Select).set_options(
                [(p, p) for p in ["slmw:demo", *datasets]])
        names = self.models + [run_id for run_id, _ in runs]
        self.query_one("#dl-teacher", Input).suggester = SuggestFromList(names, case_sensitive=False)

    @on(Select.Changed, "#dl-teacher-pick")
    def _teacher_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            kind, _, value = event.value.partition("\t")
            self.query_one("#dl-teacher-as", Select).value = kind
            self.query_one("#dl-teacher", Input).value = value

    @on(Select.Changed, "#dl-prompts-pick")
    def _prompts_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.query_one("#dl-prompts", Input).value = event.value

    @on(Select.Changed, "#dl-student-pick")
    def _student_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.query_one("#dls-model", Input).value = event.value
            self.query_one("#dls-keep_layers", Input).value = ""

    # -- the recipe -------------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """The recipe as a nested dict: the base recipe with what the form shows over it."""
        from ...config.train import TrainRecipe

        base = self.base
        kind = str(self.query_one("#dl-teacher-as", Select).value)
        teacher = self.query_one("#dl-teacher", Input).value.strip() or None
        train = dict(base.get("train") or {})
        for key, value in self.query_one("#dl-train", RecipeForm).values().items():
            if key in train or value != TrainRecipe.model_fields[key].default:  # only what the user set
                train[key] = value
        generate = _merge(base.get("generate") or {}, self.query_one("#dl-generate", RecipeForm).values())
        generate["prompts"] = self.query_one("#dl-prompts", Input).value.strip()
        generate["filters"] = _merge(generate.get("filters") or {}, self.query_one("#dl-filters", RecipeForm).values())
        data = {k: v for k, v in base.items() if k not in ("teacher", "teacher_recipe")}
        data.update(stage="distill", teacher=teacher if kind == "teacher" else None,
                    teacher_recipe=teacher if kind == "teacher_recipe" else None, generate=generate,
                    student=self.query_one("#dl-student", RecipeForm).values(),
                    method=str(self.query_one("#dl-method", Select).value), train=train,
                    card=_merge(base.get("card") or {}, self.query_one("#dl-card", RecipeForm).values()))
        return data

    def recipe(self) -> Any:
        """The validated ``DistillRecipe``; ``ValueError`` with the first error in one line (shown here too)."""
        from pydantic import ValidationError

        from ...config.distill import DistillRecipe

        try:
            data = self.data()
        except ValueError as exc:  # a malformed field the forms could not read
            self._show_error(str(exc))
            raise ValueError(str(exc)) from None
        try:
            recipe = DistillRecipe.model_validate(data)
        except ValidationError as exc:
            errors = [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
            self._mark(errors)
            line = error_line("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in errors))
            self._show_error(line)
            raise ValueError(line) from None
        except WorkbenchError as exc:  # a teacher_recipe that names no recipe file
            self._mark([])
            self._show_error(exc.message)
            raise ValueError(exc.message) from None
        self._mark([])
        self._show_error("")
        return recipe

    def _mark(self, errors: list[tuple[str, str]]) -> None:
        """Each form marks its own fields in red (its prefix in the recipe stripped)."""
        for form_id, prefix in (("#dl-student", "student."), ("#dl-generate", "generate."),
                                ("#dl-filters", "generate.filters."), ("#dl-card", "card."), ("#dl-train", "train.")):
            form = self.query_one(form_id, RecipeForm)
            form.show_errors({loc[len(prefix):]: msg for loc, msg in errors if loc.startswith(prefix)})
        self.query_one("#dl-teacher", Input).set_class(any(loc in ("", "teacher", "teacher_recipe")
                                                           for loc, _ in errors), "-invalid")
        self.query_one("#dl-prompts", Input).set_class(any(loc == "generate.prompts" for loc, _ in errors), "-invalid")

    def _show_error(self, line: str) -> None:
        error = self.query_one("#dl-error", Static)
        error.update(line)
        error.display = bool(line)

    # -- as the form changes: the method's note, the estimate ---------------------------------------------
    @on(RecipeForm.Changed)
    @on(Input.Changed, "#dl-teacher, #dl-prompts")
    @on(Select.Changed, "#dl-teacher-as, #dl-method")
    def changed(self, event: Any = None) -> None:
        if event is not None:
            event.stop()
        student = self.query_one("#dl-student", RecipeForm).values()
        self.query_one("#dl-method-note", Static).update(method_note(
            str(self.query_one("#dl-method", Select).value), student.get("keep_layers") is not None,
            str(student.get("model") or "")))
        from pydantic import ValidationError

        from ...config.distill import DistillRecipe

        self._generation += 1
        try:
            recipe = DistillRecipe.model_validate(self.data())
        except (ValidationError, ValueError, WorkbenchError):
            waiting = Text("memory estimate: once the recipe is valid", style="dim")
            self.query_one("#dl-estimate", Static).update(waiting)
            return
        self._estimate(self._generation, recipe)

    @work(thread=True, exclusive=True, group="distill-estimate", description="estimate a distillation",
          exit_on_error=False)
    def _estimate(self, generation: int, recipe: Any) -> None:
        from ...engine import system
        from ...engine.distill.estimate import estimate
        from ...engine.train.memory import available_memory

        device = "cuda" if system.gpus() else "cpu"
        found = estimate(recipe, run_store=getattr(self.app, "run_store", None), device=device,
                         available=available_memory(device))
        self.post_message(self.Estimated(generation, found.line(), found.fits, found.larger))

    def on_distill_launch_estimated(self, message: Estimated) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        style = "bold red" if message.fits is False else "yellow" if message.larger else "" if message.fits is None \
            else "green"
        self.query_one("#dl-estimate", Static).update(Text(message.line, style=style))


def _filters() -> type:
    from ...config.generate import FilterSettings

    return FilterSettings
