"""The launch check every job goes through (``launcher.start_recipe``): will it fit?

Memory (training: the estimate of ``engine.train.memory`` against free RAM or VRAM), context
(``max_length`` beyond the model's ``max_position_embeddings``) and disk (what the stage
writes against the free space where it writes it). A model's context is a hard error; a
memory or disk refusal names the knobs or the space and can be overridden with ``force``
(``--force``), which turns it into a warning. Nothing here loads torch or weights.
"""

from __future__ import annotations

from typing import Any

from ..errors import WorkbenchError
from .disk import DiskNeed, check_disk

FORCE_HINT = "--force starts it anyway"


def check_launch(recipe: Any, *, force: bool = False) -> list[str]:
    """Warnings to show; raises ``WorkbenchError`` when the job would not fit (unless ``force``)."""
    stage = getattr(recipe, "stage", "?")
    errors: list[str] = []
    refusals: list[tuple[str, str]] = []  # (message, hint)
    needs: list[DiskNeed] = []
    if stage == "train":
        needs = _check_train(recipe, errors, refusals)
    elif stage in ("export", "compare"):
        from .needs import export_needs

        variants = recipe.variants or []
        needs = export_needs(recipe.model, variants, overwrite=getattr(recipe, "overwrite", False))
    elif stage == "models.prepare":
        from .needs import prepare_model_needs

        needs = prepare_model_needs(recipe.model, recipe.force)
    elif stage == "data.prepare":
        from .needs import prepare_data_needs

        needs = prepare_data_needs(recipe.source, recipe.output)
    if errors:
        raise WorkbenchError(errors[0], hint="; ".join(errors[1:]) or None)
    if (short := check_disk(stage, needs)) is not None:
        refusals.append((short, "free some space there, or point SLMW_HOME at a larger disk"))
    if refusals and not force:
        message, hint = refusals[0]
        raise WorkbenchError(message, hint=f"{hint}; {FORCE_HINT}")
    return [f"{message} (started anyway: forced)" for message, _ in refusals]


def _check_train(recipe: Any, errors: list[str], refusals: list[tuple[str, str]]) -> list[DiskNeed]:
    from ..models.resolve import parse_model
    from ..train.preflight import context_error
    from .needs import train_needs

    try:
        ref = parse_model(recipe.model)
    except WorkbenchError as exc:
        errors.append(str(exc))
        return []
    device = _device()
    if not ref.prepared:  # prepared by the job: its memory and context are checked there
        from .needs import prepare_model_needs

        return prepare_model_needs(recipe.model, False) + train_needs(recipe, None, device)
    if beyond := context_error(recipe, ref.folder):
        errors.append(beyond)
        return []
    from ..train.memory import available_memory, estimate_memory

    estimate = estimate_memory(recipe, ref.folder, device=device, available=available_memory(device))
    if estimate.fits is False:
        refusals.append((
            f"this train job needs about {_gib(estimate.total)} of memory by the estimate, "
            f"{_gib(estimate.available or 0)} is free on {device} (`slmw train RECIPE --estimate` shows the terms)",
            "change " + "; ".join(estimate.hints) if estimate.hints else "use a smaller model, batch or max_length",
        ))
    return train_needs(recipe, ref.folder, device)


def _device() -> str:
    from .. import system

    return "cuda" if system.gpus() else "cpu"


def _gib(value: float) -> str:
    gib = value / 2**30
    return f"{gib:.1f} GiB" if gib < 1e5 else f"{gib:.2g} GiB"
