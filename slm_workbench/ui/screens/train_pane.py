"""The Train pane: a form over the training recipe, a memory-fit estimate, save, show the
command, launch.

The form is generated from ``TrainRecipe`` and validated by it as the user types (errors
under the field they name). The estimate is recomputed in a thread worker after each
valid change; it reads only config.json and safetensors headers. Launch asks for the same
detached job ``slmw train`` starts (``StartJob``); the workbench shows it in the Runs pane.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ...config.files import dotted_items
from ...shipped import shipped_recipe
from ..messages import EstimateReady, StartJob
from ..pane_context import PaneContext
from ..widgets.recipe_form import RecipeForm

DEFAULT_RECIPE = shipped_recipe("smoke-lora")


def initial_values(path: Path) -> dict[str, Any]:
    import yaml

    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and data.get("stage") == "train":
            return data
    return {"data": "slmw:demo"}


class TrainPane(Vertical):
    DEFAULT_CSS = """
    TrainPane #train-toolbar { height: 1; margin: 0 1; }
    TrainPane #recipe-path { width: 1fr; }
    TrainPane #train-toolbar Button { margin-left: 1; }
    TrainPane #train-body { height: 1fr; }
    TrainPane RecipeForm { width: 3fr; border: round $panel; padding: 0 1; }
    TrainPane #train-side { width: 2fr; border: round $panel; padding: 0 1; }
    TrainPane #train-estimate { height: auto; margin-bottom: 1; }
    TrainPane #train-command { height: auto; color: $text-muted; margin-bottom: 1; }
    TrainPane #train-help { height: auto; color: $text-muted; }
    """

    def __init__(self, context: PaneContext | None = None, recipe_path: Path = DEFAULT_RECIPE, **kwargs) -> None:
        super().__init__(**kwargs)
        self.recipe_path = recipe_path
        self._loaded = initial_values(recipe_path)
        self._recipe: Any = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-toolbar"):
            yield Input(str(self.recipe_path), id="recipe-path", compact=True, tooltip="recipe file to save to / run")
            yield Button("Save", id="save-recipe", compact=True)
            yield Button("Command", id="show-command", compact=True)
            yield Button("Launch", id="launch-train", variant="success", compact=True)
        with Horizontal(id="train-body"):
            # logit distillation is set in the Distill pane; a loaded recipe's distill: section is kept as is
            yield RecipeForm(_schema(), self._loaded, exclude=("distill",), id="train-form")
            with Vertical(id="train-side"):
                yield Static("memory estimate: waiting for a valid recipe", id="train-estimate")
                yield Static("", id="train-command")
                yield Static("", id="train-help")

    def on_mount(self) -> None:
        self.query_one(RecipeForm).border_title = "Recipe (stage: train)"
        self.query_one("#train-side").border_title = "Will it fit?"
        self.call_after_refresh(self._revalidate)

    def on_descendant_focus(self, event) -> None:
        """The focused field's documentation (from the recipe schema) under the estimate."""
        help_text = getattr(event.widget, "tooltip", None)
        if isinstance(help_text, str) and help_text:
            self.query_one("#train-help", Static).update(Text(help_text.replace("``", "`")))

    @on(RecipeForm.Changed)
    def _changed(self, message: RecipeForm.Changed) -> None:
        message.stop()
        self._revalidate()

    def _revalidate(self) -> None:
        from pydantic import ValidationError

        recipe_cls = _schema()
        form = self.query_one(RecipeForm)
        try:
            kept = {"distill": self._loaded["distill"]} if (self._loaded or {}).get("distill") else {}
            self._recipe = recipe_cls.model_validate({"stage": "train", **kept, **form.values()})
        except ValidationError as exc:
            self._recipe = None
            form.show_errors({".".join(str(p) for p in err["loc"]): err["msg"] for err in exc.errors()})
            self.query_one("#train-estimate", Static).update(Text("fix the fields in red first", style="dim"))
            return
        form.show_errors({})
        self._show_command()
        self.estimate(self._recipe)

    @work(thread=True, exclusive=True, group="train-estimate", description="estimate training memory", exit_on_error=False)
    def estimate(self, recipe: Any) -> None:
        from ...engine import system
        from ...engine.models.resolve import parse_model
        from ...engine.train.memory import available_memory, estimate_memory

        ref = parse_model(recipe.model)
        if not ref.prepared:
            self.post_message(EstimateReady([f"model {ref.name} is not prepared yet: the job prepares it "
                                             "first (the memory estimate shows once it is prepared)"], None))
            return
        device = "cuda" if system.gpus() else "cpu"
        est = estimate_memory(recipe, ref.folder, device=device, available=available_memory(device))
        self.post_message(EstimateReady(est.lines(), est.fits))

    def on_estimate_ready(self, message: EstimateReady) -> None:
        message.stop()
        style = "green" if message.fits else ("bold red" if message.fits is False else "")
        text = Text()
        for line in message.lines:
            text.append(line + "\n", style=style if line.startswith(("available", "total")) else "")
        self.query_one("#train-estimate", Static).update(text)

    def _command(self) -> str:
        path = self.query_one("#recipe-path", Input).value.strip() or str(DEFAULT_RECIPE)
        saved = initial_values(Path(path)) if Path(path).is_file() else None
        if saved is None or self._recipe is None:
            return f"slmw train {path}   # save first"
        current = self._recipe.model_dump(mode="json")
        base = _schema().model_validate({"stage": "train", **saved}).model_dump(mode="json")
        defaults = dotted_items(base)
        flags = [_flag(key, value) for key, value in dotted_items(current).items() if defaults.get(key) != value]
        return " ".join([f"slmw train {path}", *flags])

    def _show_command(self) -> None:
        self.query_one("#train-command", Static).update(Text(f"$ {self._command()}", style="cyan"))

    @on(Button.Pressed, "#show-command")
    def _copy_command(self) -> None:
        command = self._command()
        self.app.copy_to_clipboard(command)
        self.notify(command, title="Command (copied)")

    @on(Button.Pressed, "#save-recipe")
    def save(self) -> None:
        from ...config.loading import dump_recipe

        if self._recipe is None:
            self.notify("the recipe has errors; fix the fields in red", severity="error")
            return
        path = Path(self.query_one("#recipe-path", Input).value.strip()).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_recipe(self._recipe, f"# slmw train {path}"), encoding="utf-8")
        self.notify(f"saved {path}", title="Recipe")
        self._show_command()

    @on(Button.Pressed, "#launch-train")
    def launch(self) -> None:
        from ...engine.train.preflight import preflight

        if self._recipe is None:
            self.notify("the recipe has errors; fix the fields in red", severity="error")
            return
        checks = preflight(self._recipe)
        for warning in checks.warnings:
            self.notify(warning, title="Warning", severity="warning")
        if checks.errors:
            self.notify("\n".join(checks.errors), title="Cannot launch", severity="error", timeout=10)
            return
        title = Path(self.query_one("#recipe-path", Input).value.strip() or "train").stem
        self.post_message(StartJob(self._recipe, title))


def _schema() -> Any:
    from ...config.train import TrainRecipe

    return TrainRecipe


def _flag(key: str, value: Any) -> str:
    """A changed field as the flag ``slmw train`` derives from it (``lora.r`` -> ``--lora-r 8``)."""
    import shlex

    option = "--" + key.replace(".", "-").replace("_", "-")
    if isinstance(value, bool):
        return option if value else option.replace("--", "--no-", 1)
    if value is None:
        return f"--set {key}=null"  # a field back at "default" has no flag value
    if isinstance(value, list):
        value = ",".join(value)
    return f"{option} {shlex.quote(str(value))}"
