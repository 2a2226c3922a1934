"""Job stage ``models.prepare``: prepare a model as a detached job with progress events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...config.models import PrepareModelRecipe
from ..errors import WorkbenchError
from ..preflight.disk import DiskNeed
from ..preflight.needs import LaunchNeeds
from .prepare import prepare_model
from .resolve import parse_model

if TYPE_CHECKING:
    from ..runs.context import RunContext


def run(recipe: PrepareModelRecipe, ctx: RunContext) -> None:
    ref = parse_model(recipe.model)

    def on_phase(phase: str, done: int, total: int) -> None:
        ctx.progress(phase, done, total or None, unit="steps")
        print(f"[models.prepare] {phase}", flush=True)

    folder = prepare_model(ref, force=recipe.force, chat_template=recipe.chat_template, on_phase=on_phase,
                           check_cancelled=ctx.check_cancelled)
    ctx.artifact("model", folder, f"Hugging Face folder for {ref.name}")


def check(recipe: PrepareModelRecipe) -> LaunchNeeds:
    """The launch check: a chosen chat template renders a conversation; the disk the converted model takes."""
    if recipe.chat_template:
        from .chat_template import check_fits, check_renders, load_template

        chosen = load_template(recipe.chat_template)
        ref = parse_model(recipe.model)
        if ref.prepared:
            check_fits(ref.folder, chosen)
        else:
            check_renders(chosen)  # its end of turn is checked against the GGUF's tokenizer once that is read
    return LaunchNeeds(prepare_model_needs(recipe.model, recipe.force))


def prepare_model_needs(model: str, force: bool) -> list[DiskNeed]:
    """A GGUF converted to an HF folder takes the fp32 size of its parameters (none for a folder,
    a hub id or a model prepared already); a built-in GGUF still to be assembled, its own size too."""
    from pathlib import Path

    from .builtin import BUILTIN_MODELS
    from .gguf_convert import inspect_gguf

    try:
        ref = parse_model(model)
        if ref.kind in ("folder", "hub") or (ref.prepared and not force):
            return []
        builtin = BUILTIN_MODELS.get(ref.name) if ref.kind == "builtin" else None
        gguf = builtin.ready_gguf() if builtin else Path(ref.source)
        if gguf is None and builtin is not None and builtin.assembly is not None:
            assembly = builtin.assembly
            return [
                DiskNeed(builtin.assembled_path(), assembly.size, f"{builtin.filename} assembled"),
                DiskNeed(ref.folder.parent, assembly.parameters * 4, f"{ref.name} in fp32"),
            ]
        if gguf is None:
            return []
        fp32 = inspect_gguf(gguf).fp32_bytes
    except WorkbenchError:
        return []
    return [DiskNeed(ref.folder.parent, fp32, f"{ref.name} in fp32")]
