"""Read, override, validate and write recipes.

Errors name the file and the dotted field (``recipe.yaml: seconds: Input should be greater
than 0``), never a pydantic traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from ..engine.errors import RecipeError
from .recipes import Recipe

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


def _require_mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is a mapping of keys to values, got {type(data).__name__}")
    return data


def validate_recipe(data: Any, where: str = "recipe") -> Any:
    _require_mapping(data, where)
    if "stage" not in data:
        raise RecipeError(f"{where}: missing 'stage' (one of {', '.join(stage_names())})")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc, where)) from None


def stage_names() -> list[str]:
    from ..engine.stages import stage_names as registered

    return registered()


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` -> (["a", "b"], value parsed as YAML)."""
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected key=value")
    key, _, value = text.partition("=")
    try:
        parsed = yaml.safe_load(value) if value != "" else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set {text!r}: '{key}' is not a section")
        node[keys[-1]] = value
    return data


def recipe_file(path: Path) -> Path:
    """``path``, or the shipped recipe of that name (``smoke-lora``) when there is no such file here."""
    path = Path(path)
    if path.exists() or len(path.parts) > 1:
        return path
    from ..shipped import shipped_recipes

    return shipped_recipes().get(path.name.removesuffix(".yaml"), path)


def load_recipe(path: Path, overrides: list[str] | None = None) -> Any:
    path = recipe_file(path)
    return validate_recipe(read_recipe_data(path, overrides), str(path))


def read_recipe_data(path: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """A recipe file's mapping with the ``--set`` overrides applied, not validated yet."""
    path = recipe_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError(f"{path}: not valid YAML{at}") from None
    data = _require_mapping({} if data is None else data, str(path))
    return apply_overrides(data, overrides or [])


def dump_recipe(recipe: Any, header: str = "") -> str:
    body = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    return (header.rstrip() + "\n" if header else "") + body
