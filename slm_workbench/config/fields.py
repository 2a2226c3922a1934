"""A recipe class's fields as the things generated from it read them: CLI flags
(``cli/recipe_flags.py``) and TUI forms (``ui/widgets/recipe_form.py``).

Both walk the same schema (nested sections flattened to dotted paths, ``lora.r``), ask the
same questions of an annotation (its ``Literal`` choices, whether ``None`` is allowed, which
scalar it is) and show the same help (the field's docstring and its default), so a field is
described once, in its recipe class.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

REQUIRED = object()
"""The default of a field that has none."""


@dataclass(frozen=True)
class RecipeField:
    path: str
    """Dotted path in the recipe (``lora.r``)."""
    info: FieldInfo

    @property
    def annotation(self) -> Any:
        return self.info.annotation

    @property
    def default(self) -> Any:
        return REQUIRED if self.info.is_required() else self.info.get_default(call_default_factory=True)

    @property
    def help(self) -> str:
        """The field's docstring on one line, and its default when it has a telling one."""
        text = " ".join((self.info.description or "").replace("``", "`").split())
        default = self.default
        if default is not REQUIRED and default not in (None, "", [], {}) and not callable(default):
            shown = ", ".join(map(str, default)) if isinstance(default, list) else default
            text += f" (default: {str(shown).lower() if isinstance(default, bool) else shown})"
        return text


def section(annotation: Any) -> type[BaseModel] | None:
    """The nested recipe section a field holds (also an optional one, ``Section | None``: absent until
    one of its fields is given), or None for a plain value."""
    kinds = members(annotation)
    one = kinds[0] if len(kinds) == 1 else None
    return one if isinstance(one, type) and issubclass(one, BaseModel) else None


def recipe_fields(cls: type[BaseModel], exclude: Container[str] = ()) -> list[RecipeField]:
    """Every leaf field of ``cls`` in schema order, nested sections flattened; ``exclude`` names
    paths (a leaf or a whole section) left out."""
    out: list[RecipeField] = []

    def visit(schema: type[BaseModel], prefix: str) -> None:
        for name, info in schema.model_fields.items():
            path = f"{prefix}{name}"
            if path in exclude:
                continue
            nested = section(info.annotation)
            if nested is not None:
                visit(nested, f"{path}.")
            else:
                out.append(RecipeField(path, info))

    visit(cls, "")
    return out


def field_at(cls: type[BaseModel], path: str) -> RecipeField:
    *parents, leaf = path.split(".")
    for name in parents:
        cls = section(cls.model_fields[name].annotation) or cls.model_fields[name].annotation  # type: ignore[assignment]
    return RecipeField(path, cls.model_fields[leaf])


def members(annotation: Any) -> list[Any]:
    """The types a field takes, ``None`` left out (``int | None`` -> ``[int]``)."""
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return [a for a in args if a is not type(None)]


def is_optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def literal_choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return None


def scalar_kind(annotation: Any) -> tuple[Any, bool]:
    """(int | float | str | bool | dict | list | None, optional) for an annotation such as ``int | None``;
    None when it is none of these (a choice of a literal or a list, say)."""
    kinds = members(annotation)
    optional = is_optional(annotation)
    if len(kinds) != 1:
        return None, optional
    (one,) = kinds
    origin = typing.get_origin(one)
    if origin in (dict, list):
        return origin, optional
    return (one if one in (int, float, str, bool) else None), optional
