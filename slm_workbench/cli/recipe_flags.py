"""Command-line flags derived from a recipe class, as litgpt derives them from signatures.

``add_recipe_flags(parser, ExportRecipe, positional=("model",))`` adds one argument per field
(nested sections flattened: ``lora.r`` is ``--lora-r``) with its type, the field's docstring
as help and the recipe's default named in it; ``Literal`` fields get ``choices``, booleans
``--x/--no-x``, lists a comma-separated value, mappings a repeatable ``KEY=VALUE``. Every
default is ``None``: a flag not given leaves the field to the recipe (or to the recipe file),
so a default is stated once, in the recipe class. ``build_recipe(args, ...)`` validates
through the class, so an error names the field (``slmw export: block_size: ...``).
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..config.fields import REQUIRED, field_at, literal_choices, members, recipe_fields, scalar_kind

ALWAYS_EXCLUDED = {"stage": "the command itself chooses the stage"}


@dataclass(frozen=True)
class Flag:
    path: str
    """Dotted field path in the recipe (``lora.r``)."""
    dest: str
    """Attribute of the parsed namespace."""
    option: str
    """How the user writes it: ``--lora-r``, or the positional's name."""


@dataclass
class RecipeFlags:
    """The flags one parser took from one recipe class; kept on the namespace as ``recipe_flags``."""

    cls: type[BaseModel]
    flags: list[Flag] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    """Fields without a flag, each with the reason (shown by the coverage test)."""

    def values(self, args: argparse.Namespace) -> dict[str, Any]:
        """The fields given on the command line, as a nested dict (``{"lora": {"r": 8}}``)."""
        out: dict[str, Any] = {}
        for flag in self.flags:
            value = getattr(args, flag.dest, None)
            if value is not None:
                _set(out, flag.path, value)
        return out

    def fill_defaults(self, args: argparse.Namespace) -> None:
        """Replace each ``None`` left by an absent flag with the recipe's default (for the
        commands that read ``args`` directly rather than building a recipe)."""
        for flag in self.flags:
            if getattr(args, flag.dest, None) is None:
                default = field_at(self.cls, flag.path).default
                if default is not REQUIRED:
                    setattr(args, flag.dest, default)


def _set(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        out = out.setdefault(name, {})
    out[leaf] = value


def _merge(base: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in more.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


# -- values ----------------------------------------------------------------------------------------
def comma_list(text: str) -> list[str]:
    names = [n.strip() for n in text.replace(" ", ",").split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name, comma-separated")
    return names


def pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


class _Pairs(argparse.Action):
    """Repeatable ``KEY=VALUE`` collected into one dict (``None`` when never given)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = dict(getattr(namespace, self.dest, None) or {})
        key, value = values
        current[key] = value
        setattr(namespace, self.dest, current)


def _kind(annotation: Any) -> dict[str, Any]:
    """argparse keywords (type, choices, action, metavar) for a field's annotation."""
    args = members(annotation)
    choices = literal_choices(args[0]) if len(args) == 1 else None
    if choices:
        return {"choices": choices}
    kind, _optional = scalar_kind(annotation)
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if kind in (int, float):
        return {"type": kind, "metavar": "N" if kind is int else "X"}
    if kind is str:
        return {"type": str}
    if kind is list:
        return {"type": comma_list, "metavar": "A,B,…"}
    if kind is dict:
        return {"type": pair, "action": _Pairs, "metavar": "KEY=VALUE"}
    literal = next((c for c in map(literal_choices, args) if c), None)
    if literal and any(typing.get_origin(a) is list for a in args):  # e.g. "all-linear" | [names]
        return {"type": lambda text: text if text in literal else comma_list(text),
                "metavar": "|".join(literal) + "|A,B,…"}
    raise TypeError(f"no command-line form for a field of type {annotation!r}")


# -- the two halves ----------------------------------------------------------------------------------
def add_recipe_flags(
    parser: argparse.ArgumentParser,
    cls: type[BaseModel],
    *,
    fields: Iterable[str] | None = None,
    exclude: Mapping[str, str] | None = None,
    positional: Sequence[str] = (),
    renames: Mapping[str, str] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    required: Iterable[str] = (),
    help: Mapping[str, str] | None = None,
) -> RecipeFlags:
    """Add the fields of ``cls`` to ``parser`` (all of them, or those in ``fields``; dotted paths
    name a nested field) and return what was added; the namespace also gets it as ``recipe_flags``.

    ``renames`` gives a field another flag name (``{"force": "reconvert"}``: ``--reconvert``);
    ``aliases`` extra option strings (``{"decode_runs": ["--runs"]}``); ``help`` replaces a
    field's docstring where the command gives the field another meaning; ``exclude`` names
    the fields left out, with the reason."""
    renames, aliases, helps = dict(renames or {}), dict(aliases or {}), dict(help or {})
    required = set(required)
    result = RecipeFlags(cls, excluded={**ALWAYS_EXCLUDED, **dict(exclude or {})})
    wanted = None if fields is None else list(fields)

    for shown in recipe_fields(cls, exclude=result.excluded):
        path = shown.path
        if wanted is not None and path not in wanted:
            continue
        name_out = renames.get(path, path.replace(".", "_"))
        kwargs = _kind(shown.annotation)
        kwargs["help"] = (helps[path] if path in helps else shown.help).replace("%", "%%")
        if path in positional:
            parser.add_argument(name_out, **kwargs)
            result.flags.append(Flag(path, name_out, name_out))
            continue
        option = "--" + name_out.replace("_", "-")
        dest = name_out.replace("-", "_")
        short = [a for a in aliases.get(path, ()) if not a.startswith("--")]
        longer = [a for a in aliases.get(path, ()) if a.startswith("--")]
        parser.add_argument(*short, option, *longer, dest=dest, default=None, required=path in required, **kwargs)
        result.flags.append(Flag(path, dest, option))

    parser.set_defaults(recipe_flags=result)
    return result


def build_recipe(args: argparse.Namespace, *, where: str, base: Mapping[str, Any] | None = None,
                 fixed: Mapping[str, Any] | None = None) -> Any:
    """The recipe of ``args.recipe_flags.cls``: ``base`` (e.g. a recipe file's fields), then the
    flags given, then ``fixed`` (values the command computed); validated by the class, a
    ``RecipeError`` naming ``where`` and the field otherwise."""
    from ..config.loading import format_validation_error
    from ..engine.errors import RecipeError

    flags: RecipeFlags = args.recipe_flags
    data = _merge(_merge(dict(base or {}), flags.values(args)), dict(fixed or {}))
    try:
        return flags.cls.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc, where)) from None
