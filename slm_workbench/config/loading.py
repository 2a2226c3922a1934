"""Read, override, validate and write recipes.

Errors name the file and the dotted field (``recipe.yaml: seconds: Input should be greater
than 0``), never a pydantic traceback. Reading a file and applying ``--set`` overrides live in
``files.py`` (recipe classes use them without importing the recipe union); they are part of this
module's API too, so a command that reads, overrides and validates imports one module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from ..engine.errors import RecipeError
from .files import apply_overrides, parse_override, read_recipe_data, recipe_file, require_mapping
from .recipes import Recipe

__all__ = ["apply_overrides", "dump_recipe", "format_validation_error", "load_recipe", "parse_override",
           "read_recipe_data", "recipe_file", "stage_names", "validate_recipe"]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Recipe)


def format_validation_error(exc: ValidationError, where: str) -> str:
    stages = set(stage_names())
    problems = []
    for err in exc.errors():
        parts = list(err["loc"])
        if parts and parts[0] in stages:  # pydantic puts the union's tag first; it is not a field
            parts = parts[1:]
        if err["type"].startswith("union_tag"):
            parts = ["stage"]
        loc = ".".join(str(part) for part in parts) or "(top level)"
        problems.append(f"{loc}: {err['msg']}")
    return f"{where}: " + "; ".join(problems)


def validate_recipe(data: Any, where: str = "recipe") -> Any:
    require_mapping(data, where)
    if "stage" not in data:
        raise RecipeError(f"{where}: missing 'stage' (one of {', '.join(stage_names())})")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc, where)) from None


def stage_names() -> list[str]:
    from ..engine.stages import stage_names as registered

    return registered()


def load_recipe(path: Path, overrides: list[str] | None = None) -> Any:
    path = recipe_file(path)
    return validate_recipe(read_recipe_data(path, overrides), str(path))


def dump_recipe(recipe: Any, header: str = "") -> str:
    body = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    return (header.rstrip() + "\n" if header else "") + body
