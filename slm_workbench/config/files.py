"""Read a recipe file into a mapping and apply ``--set`` overrides, without validating it.

Apart from ``loading.py`` (which validates against the union of every stage's recipe) so that a
recipe class can read a recipe another one names (``config/train.py``'s ``inline_train_recipe``)
without importing that union, which imports the recipe classes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..engine.errors import RecipeError


def require_mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is a mapping of keys to values, got {type(data).__name__}")
    return data


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
    data = require_mapping({} if data is None else data, str(path))
    return apply_overrides(data, overrides or [])


def dotted_items(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested recipe mapping as ``{"lora.r": 16, ...}``: the dotted keys ``--set`` and ``--param`` take."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(dotted_items(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
