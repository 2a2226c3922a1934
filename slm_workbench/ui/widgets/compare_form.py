"""What to export or compare: the source (a model or a finished training run), the variants (a
group preset or checked by hand) and the settings, turned into a validated recipe.

The two fields a plain form cannot show well are widgets of their own: ``model`` (a picker of
models and finished training runs beside a text input with suggestions) and ``variants`` (a
group preset and a checkbox per preset: picking a group checks its variants; checking by hand
shows the group they add up to, or "custom"). Every other field is generated from the recipe
classes (``RecipeForm``): the variant settings both recipes share (``VariantSettings``: block
size, accuracy level, symmetric, calibration data and size, for the variants the job builds),
``CompareRecipe``'s own settings, and ``ExportRecipe``'s own. ``recipe(stage)`` validates
through the same recipes ``slmw export`` and ``slmw compare`` use, and names the bad field.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Collapsible, Input, Select

from .recipe_form import RecipeForm

from ...config.presets import PRESETS, VARIANT_GROUPS, expand_groups
from ...engine.runs.store import RunInfo

DEFAULT_SOURCE = "smollm2-135m-instruct"
"""What the source input starts with (the recipe's ``model`` has no default: it is required)."""
DEFAULT_GROUP = "balanced"
CUSTOM = "custom"


class CompareForm(Vertical):
    DEFAULT_CSS = """
    CompareForm { height: auto; }
    CompareForm Horizontal { height: 1; }
    CompareForm #q-source { width: 1fr; }
    CompareForm #q-group { width: 14; }
    CompareForm #q-pick { width: 12; margin-right: 1; }
    CompareForm #q-pick SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    CompareForm #q-pick > SelectOverlay { width: 64; }
    CompareForm Button { margin-left: 1; min-width: 8; }
    CompareForm #q-variants { height: auto; }
    CompareForm #q-variants Checkbox { margin-right: 1; }
    CompareForm Collapsible { border-top: none; padding: 0; background: $background; }
    CompareForm Collapsible Contents { padding: 0 0 0 1; height: auto; }
    CompareForm CollapsibleTitle { padding: 0 1 0 0; color: $text-muted; }
    CompareForm RecipeForm { height: auto; }
    """
    BOX_ROW_WIDTH = 76
    """Columns a row of variant boxes may take (an 80-column terminal, less the pane's padding)."""

    @classmethod
    def box_rows(cls, names: list[str]) -> list[list[str]]:
        """The presets in order, in rows of at most ``BOX_ROW_WIDTH`` columns (a compact box and its label take
        its name's length plus 5)."""
        rows: list[list[str]] = [[]]
        width = 0
        for name in names:
            need = len(name) + 5
            if rows[-1] and width + need > cls.BOX_ROW_WIDTH:
                rows.append([])
                width = 0
            rows[-1].append(name)
            width += need
        return rows

    EXPORT_FIELDS = ("execution_provider", "overwrite", "threads")
    """``ExportRecipe``'s fields that ``CompareRecipe`` lacks or means otherwise (builder threads)."""

    def __init__(self, *, cuda: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if cuda is None:
            from ...engine import system

            cuda = bool(system.gpus())
        self.cuda = cuda
        """fp16 variants run on CUDA only: their box is greyed out without a GPU."""
        self.models: list[str] = []

    def compose(self) -> ComposeResult:
        from ...engine.models.resolve import prepared_models

        self.models = [ref.name for ref in prepared_models()]
        with Horizontal(id="q-toolbar"):
            yield Select([(name, name) for name in self.models], prompt="pick…", id="q-pick", compact=True,
                         tooltip="a model, or a finished training run (its adapter merged into its base)")
            yield Input(DEFAULT_SOURCE, id="q-source", compact=True,
                        suggester=SuggestFromList(self.models, case_sensitive=False),
                        placeholder="model, HF folder, GGUF or training run id",
                        tooltip="what to export: a model, any HF folder, or a training run (its adapter is merged first)")
            yield Select([(g, g) for g in (*VARIANT_GROUPS, CUSTOM)], value=DEFAULT_GROUP, allow_blank=False,
                         id="q-group", compact=True, tooltip="fast: int8+int4; balanced: fp32, int8, int4, int4-hq-cal, int4-mix-cal; all")
            yield Button("Compare", id="q-compare", variant="success", compact=True,
                         tooltip="build what is missing, then measure everything against PyTorch fp32")
            yield Button("Export", id="q-export", compact=True, tooltip="only build the checked variants")
        chosen = set(expand_groups([DEFAULT_GROUP]))
        with Vertical(id="q-variants"):  # rows that fit 80 columns: one row of ten presets is cut off even at 120
            for row in self.box_rows(list(PRESETS)):
                with Horizontal():
                    for name in row:
                        preset = PRESETS[name]
                        cuda_only = preset.precision == "fp16" and not self.cuda
                        yield Checkbox(name, name in chosen, id=f"q-v-{name}", compact=True, disabled=cuda_only,
                                       tooltip=preset.description + (" — needs a CUDA GPU, none here" if cuda_only else ""))
        from ...config.export import CompareRecipe, ExportRecipe, VariantSettings

        knobs = tuple(VariantSettings.model_fields)
        with Collapsible(title="variant settings (for the variants this job builds)", collapsed=False,
                         id="q-variant-settings"):
            yield RecipeForm(VariantSettings, prefix="qv-", columns=3, id="q-variant-form")
        with Collapsible(title="compare settings", collapsed=False, id="q-compare-settings"):
            yield RecipeForm(CompareRecipe, exclude=("model", "variants", *knobs), prefix="q-", columns=3,
                             id="q-compare-form")
        with Collapsible(title="export settings", id="q-export-settings"):
            yield RecipeForm(ExportRecipe, fields=self.EXPORT_FIELDS, prefix="qe-", columns=4, id="q-export-form")

    def on_mount(self) -> None:
        """On a short terminal the results need the rows: the settings start folded (one key opens them)."""
        if self.app.size.height < 32:
            self.query_one("#q-compare-settings", Collapsible).collapsed = True
            self.query_one("#q-variant-settings", Collapsible).collapsed = True

    # -- sources --------------------------------------------------------------------------------
    def set_trained_runs(self, runs: list[RunInfo]) -> None:
        """Offer finished training runs beside the models."""
        pick = self.query_one("#q-pick", Select)
        with self.prevent(Select.Changed):
            pick.set_options([(name, name) for name in self.models]
                             + [(Text(f"{r.title} · {r.id}", no_wrap=True, overflow="ellipsis"), r.id) for r in runs])

    @on(Select.Changed, "#q-pick")
    def _source_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.query_one("#q-source", Input).value = event.value

    # -- variants -------------------------------------------------------------------------------
    def checked_variants(self) -> list[str]:
        return [name for name in PRESETS if self.query_one(f"#q-v-{name}", Checkbox).value]

    @on(Select.Changed, "#q-group")
    def _group_picked(self, event: Select.Changed) -> None:
        event.stop()
        if event.value == CUSTOM:
            return
        chosen = set(expand_groups([str(event.value)], cuda=self.cuda))
        with self.prevent(Checkbox.Changed):  # the group is already what they add up to
            for name in PRESETS:
                self.query_one(f"#q-v-{name}", Checkbox).value = name in chosen

    @on(Checkbox.Changed, "#q-variants Checkbox")
    def _variant_toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        checked = self.checked_variants()
        group = next((g for g in VARIANT_GROUPS if expand_groups([g], cuda=self.cuda) == checked), CUSTOM)
        with self.prevent(Select.Changed):
            self.query_one("#q-group", Select).value = group

    # -- the recipe -----------------------------------------------------------------------------
    def recipe(self, stage: str) -> tuple[Any, str]:
        """(the validated ``compare`` or ``export`` recipe, the source's name); raises WorkbenchError
        naming what is wrong (the field's error is also shown under the form)."""
        from ...engine.errors import RecipeError
        from ...engine.model_source import resolve_source
        from ...engine.first_use import model_to_prepare

        source = self.query_one("#q-source", Input).value.strip()
        fields: dict[str, object] = {"model": source, "variants": self.checked_variants()}
        form = "#q-compare-form" if stage == "compare" else "#q-export-form"
        try:
            knobs = self.query_one("#q-variant-form", RecipeForm).check().model_dump()  # its errors shown under it
            recipe = self.query_one(form, RecipeForm).check({**fields, **knobs})
        except ValueError as exc:
            raise RecipeError(f"{stage} recipe: {exc}") from None
        missing = model_to_prepare(source)  # the built-in model on first use: the job prepares it
        return recipe, missing.name if missing is not None else resolve_source(source).name
