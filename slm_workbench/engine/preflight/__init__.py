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
from .disk import check_disk
from .needs import LaunchNeeds

FORCE_HINT = "--force starts it anyway"


def check_launch(recipe: Any, *, force: bool = False) -> list[str]:
    """Warnings to show; raises ``WorkbenchError`` when the job would not fit (unless ``force``).

    What is checked is the stage's own launch check (``check`` beside its runner), found
    through the stage registry; a stage without one needs nothing checked."""
    from ..stages import find_stage

    stage = getattr(recipe, "stage", "?")
    spec = find_stage(stage)
    check = spec.launch_check() if spec is not None else None
    needs = check(recipe) if check is not None else LaunchNeeds()
    refusals = list(needs.refusals)
    if (short := check_disk(stage, needs.disk)) is not None:
        refusals.append((short, "free some space there, or point SLMW_HOME at a larger disk"))
    if refusals and not force:
        message, hint = refusals[0]
        raise WorkbenchError(message, hint=f"{hint}; {FORCE_HINT}")
    return needs.warnings + [f"{message} (started anyway: forced)" for message, _ in refusals]
