"""What to export or compare: the source (a model or a finished training run), the variants (a
group preset or checked by hand) and the measuring settings, turned into a validated recipe.

Picking a group checks its variants; checking variants by hand shows the group they add up
to, or "custom". ``recipe(stage)`` validates through the same pydantic recipes ``slmw export``
and ``slmw compare`` use, and names the bad field in its error.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Select, Static

from ...engine.export.presets import PRESETS, VARIANT_GROUPS, expand_groups
from ...engine.runs.store import RunInfo

DEFAULT_SOURCE = "smollm2-135m-instruct"
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
    CompareForm #q-variants Checkbox { margin-right: 1; }
    CompareForm #q-eval { width: 1fr; }
    CompareForm #q-threads, CompareForm #q-ppl { width: 8; }
    CompareForm .q-label { width: auto; margin: 0 1; color: $text-muted; }
    """

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
                         id="q-group", compact=True, tooltip="fast: int8+int4; balanced: fp32, int8, int4, int4-hq; all")
            yield Button("Compare", id="q-compare", variant="success", compact=True,
                         tooltip="build what is missing, then measure everything against PyTorch fp32")
            yield Button("Export", id="q-export", compact=True, tooltip="only build the checked variants")
        chosen = set(expand_groups([DEFAULT_GROUP]))
        with Horizontal(id="q-variants"):
            for name, preset in PRESETS.items():
                cuda_only = preset.precision == "fp16" and not self.cuda
                yield Checkbox(name, name in chosen, id=f"q-v-{name}", compact=True, disabled=cuda_only,
                               tooltip=preset.description + (" — needs a CUDA GPU, none here" if cuda_only else ""))
        with Horizontal(id="q-settings"):
            yield Static("eval", classes="q-label")
            yield Input(id="q-eval", compact=True, placeholder="default: the run's eval split, else held-out prose",
                        tooltip="a prepared dataset folder, a JSONL of records or a text file")
            yield Static("threads", classes="q-label")
            yield Input("1", id="q-threads", type="integer", compact=True, tooltip="threads per model while measuring")
            yield Static("ppl tokens", classes="q-label")
            yield Input("2048", id="q-ppl", type="integer", compact=True, tooltip="held-out tokens scored")
            yield Checkbox("reference", True, id="q-reference", compact=True, tooltip="measure PyTorch fp32 too")

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
        naming what is wrong."""
        from pydantic import ValidationError

        from ...config.export import CompareRecipe, ExportRecipe
        from ...config.loading import format_validation_error
        from ...engine.errors import RecipeError
        from ...engine.export.source import resolve_source
        from ...engine.models.ensure import model_to_prepare

        source = self.query_one("#q-source", Input).value.strip()
        fields: dict[str, object] = {"model": source, "variants": self.checked_variants()}
        if stage == "compare":
            fields.update(eval=self.query_one("#q-eval", Input).value.strip() or None,
                          threads=self.query_one("#q-threads", Input).value or 0,
                          perplexity_tokens=self.query_one("#q-ppl", Input).value or 0,
                          reference=self.query_one("#q-reference", Checkbox).value)
        try:
            recipe = (CompareRecipe if stage == "compare" else ExportRecipe)(**fields)
        except ValidationError as exc:
            raise RecipeError(format_validation_error(exc, f"{stage} recipe")) from None
        missing = model_to_prepare(source)  # the built-in model on first use: the job prepares it
        return recipe, missing.name if missing is not None else resolve_source(source).name
