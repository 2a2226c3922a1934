"""Job stage ``models.prepare``: prepare a model as a detached job with progress events."""

from __future__ import annotations

from ...config.models import PrepareModelRecipe
from ..runs.context import RunContext
from .prepare import prepare_model
from .resolve import parse_model


def run(recipe: PrepareModelRecipe, ctx: RunContext) -> None:
    ref = parse_model(recipe.model)

    def on_phase(phase: str, done: int, total: int) -> None:
        ctx.progress(phase, done, total or None, unit="steps")
        print(f"[models.prepare] {phase}", flush=True)

    folder = prepare_model(ref, force=recipe.force, on_phase=on_phase, check_cancelled=ctx.check_cancelled)
    ctx.artifact("model", folder, f"Hugging Face folder for {ref.name}")
