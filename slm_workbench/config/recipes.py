"""The recipe of every job stage, as one union; ``stage`` selects the schema.

The members come from the stage registry (``engine/stages.py``): a new stage adds its recipe
class there, not here. The classes are re-exported for callers that name one.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from ..engine.stages import recipe_classes
from .data import PrepareDataRecipe
from .export import CompareRecipe, ExportRecipe
from .models import PrepareModelRecipe
from .system import SystemCheckRecipe
from .train import TrainRecipe

RECIPE_CLASSES: tuple[type, ...] = recipe_classes()

Recipe = Annotated[Union[RECIPE_CLASSES], Field(discriminator="stage")]  # type: ignore[valid-type]

__all__ = ["CompareRecipe", "ExportRecipe", "PrepareDataRecipe", "PrepareModelRecipe", "RECIPE_CLASSES", "Recipe",
           "SystemCheckRecipe", "TrainRecipe"]
