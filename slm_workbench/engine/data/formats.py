"""Dataset formats: detect one from the columns, and map every row to a canonical record.

Four formats are understood; anything else is mapped onto one of them with ``columns``
(canonical field -> column of the file) and ``roles`` (role in the file -> canonical role):

=================  =======================================  ====================================
format             fields                                   becomes
=================  =======================================  ====================================
messages           messages: [{role, content}, ...]         the conversation itself
prompt_completion  prompt, completion, (system)             [system], user, assistant
alpaca             instruction, (input), output, (system)   user = instruction + input, assistant
text               text                                     plain text, trained whole
=================  =======================================  ====================================

A canonical record is a plain dict, ``{"messages": [{"role", "content"}, ...]}`` or
``{"text": ...}``, so it can be stored in a ``datasets`` column as is. The row checks live
in ``checks.py``; detection here only looks at column names and the first rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .issues import DataFormatError

FormatName = Literal["messages", "prompt_completion", "alpaca", "text"]
FORMATS: tuple[FormatName, ...] = ("messages", "prompt_completion", "alpaca", "text")
FIELDS: dict[str, tuple[str, ...]] = {
    "messages": ("messages", "role", "content"),
    "prompt_completion": ("prompt", "completion", "system"),
    "alpaca": ("instruction", "input", "output", "system"),
    "text": ("text",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "messages": ("messages",), "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"), "text": ("text",),
}
ROLES = ("system", "user", "assistant")
PROMPT_ALIASES = ("prompt", "question", "query", "input")
COMPLETION_ALIASES = ("completion", "response", "answer", "output")
CONVERSATION_ALIASES = ("messages", "conversations", "conversation", "dialog", "chat")
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


@dataclass(frozen=True)
class FormatSpec:
    name: FormatName
    columns: Mapping[str, str] = field(default_factory=dict)
    """Canonical field -> the file's column (or message key, for ``role``/``content``)."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """A role as written in the file -> ``system``, ``user`` or ``assistant``."""

    def column(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)

    def used_columns(self) -> set[str]:
        top = [f for f in FIELDS[self.name] if f not in ("role", "content")]
        return {self.column(f) for f in top}

    def describe(self) -> str:
        mapped = [f"{k}={v}" for k, v in self.columns.items() if k != v]
        roles = [f"{k}->{v}" for k, v in self.roles.items() if k != v]
        extra = "; ".join(part for part in (", ".join(mapped), ", ".join(roles)) if part)
        return self.name + (f" ({extra})" if extra else "")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "columns": dict(self.columns), "roles": dict(self.roles)}


@dataclass(frozen=True)
class Detection:
    spec: FormatSpec | None
    """None when no format fits; ``reason`` then says what was seen."""
    reason: str
    columns: list[str]


def make_spec(name: str, columns: Mapping[str, str] | None = None, roles: Mapping[str, str] | None = None) -> FormatSpec:
    """Build and check a format given by the user (``--format``, ``--map``, ``--role``)."""
    if name not in FORMATS:
        raise DataFormatError(f"unknown format {name!r}", hint=f"formats: {', '.join(FORMATS)}")
    for key in columns or {}:
        if key not in FIELDS[name]:
            raise DataFormatError(f"--map {key}=...: {key!r} is not a field of format {name}",
                                  hint=f"its fields are {', '.join(FIELDS[name])}")
    for key, value in (roles or {}).items():
        if value not in ROLES:
            raise DataFormatError(f"--role {key}={value}: a role maps to one of {', '.join(ROLES)}")
    return FormatSpec(name, dict(columns or {}), dict(roles or {}))  # type: ignore[arg-type]


def column_names(rows: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            seen.update(dict.fromkeys(row))
    return list(seen)


def _conversation_spec(rows: list[Any], key: str, columns: dict[str, str]) -> FormatSpec | None:
    for row in rows:
        value = row.get(key) if isinstance(row, dict) else None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            first = value[0]
            if "role" in first or "content" in first:
                return FormatSpec("messages", {**({"messages": key} if key != "messages" else {}), **columns})
            if "from" in first and "value" in first:  # ShareGPT
                return FormatSpec("messages", {"messages": key, "role": "from", "content": "value", **columns},
                                  dict(SHAREGPT_ROLES))
    return FormatSpec("messages", columns) if key == "messages" else None


def detect_format(rows: list[Any], columns: Mapping[str, str] | None = None) -> Detection:
    """Guess the format from the first rows' columns; the user confirms or overrides it."""
    names = column_names(rows)
    user = dict(columns or {})
    visible = set(names) | {canonical for canonical, src in user.items() if src in names}
    for key in CONVERSATION_ALIASES:
        if key in visible:
            spec = _conversation_spec(rows, user.get("messages", key), user)
            if spec:
                return Detection(spec, f"column {spec.column('messages')!r} holds conversations", names)
    if "instruction" in visible and "output" in visible:
        return Detection(FormatSpec("alpaca", user), "columns instruction and output (Alpaca)", names)
    prompt = next((a for a in PROMPT_ALIASES if a in visible), None)
    completion = next((a for a in COMPLETION_ALIASES if a in visible and a != prompt), None)
    if prompt and completion:
        mapped = {k: v for k, v in (("prompt", prompt), ("completion", completion)) if k != v}
        spec = FormatSpec("prompt_completion", {**mapped, **user})
        return Detection(spec, f"columns {spec.column('prompt')} and {spec.column('completion')}", names)
    if "text" in visible:
        return Detection(FormatSpec("text", user), "column text", names)
    shown = ", ".join(names[:12]) or "none"
    return Detection(None, f"no known format fits the columns ({shown})", names)


def check_columns(spec: FormatSpec, names: list[str], file: str) -> None:
    """Fail early, naming the column, when a required field maps to no column of the file."""
    if not names:
        return
    for canonical in REQUIRED[spec.name]:
        col = spec.column(canonical)
        if col not in names:
            hint = f"map it: --map {canonical}=COLUMN" if canonical not in names else None
            other = detect_format([dict.fromkeys(names)]).spec
            if other and other.name != spec.name:
                hint = f"the columns look like format {other.name}: --format {other.name}" + (f", or {hint}" if hint else "")
            raise DataFormatError(
                f"{file}: no column {col!r}, which format {spec.name} needs for {canonical!r}; "
                f"the columns are: {', '.join(names[:12])}", hint=hint)
