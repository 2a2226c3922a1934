"""Check one row and turn it into a canonical record, or say exactly what is wrong.

``normalise(value, spec, loc, file)`` returns ``(record, issues)``: the record is None when
any issue is an error. Every issue names the field (``messages[2].content``) and says what
to do. The checks are plain Python on dicts and strings (no tokenizer), cheap enough to
run on every row of a large file.
"""

from __future__ import annotations

import json
from typing import Any

from .formats import FIELDS, ROLES, FormatSpec
from .issues import Issue, Loc

ROLE_SYNONYMS = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant",
                 "ai": "assistant", "chatgpt": "assistant", "sys": "system", "developer": "system"}
TYPE_NAMES = {dict: "an object", list: "a list", int: "a number", float: "a number", bool: "a boolean"}


class _Row:
    """Collects the issues of one row."""

    __slots__ = ("loc", "file", "issues", "failed")

    def __init__(self, loc: Loc, file: str) -> None:
        self.loc, self.file, self.issues, self.failed = loc, file, [], False

    def error(self, code: str, field: str | None, message: str, hint: str | None = None) -> None:
        self.failed = True
        self.issues.append(self.loc.issue(self.file, code, message, field=field, hint=hint))

    def warn(self, code: str, field: str | None, message: str, hint: str | None = None) -> None:
        self.issues.append(self.loc.issue(self.file, code, message, field=field, hint=hint, severity="warning"))

    def text(self, value: Any, field: str, *, required: bool = True) -> str | None:
        """A non-empty string, or an issue naming the field. Missing optional fields give ''."""
        if value is None:
            if required:
                self.error("wrong_type", field, "is null", "give the text as a string")
            return None if required else ""
        if not isinstance(value, str):
            kind = TYPE_NAMES.get(type(value), type(value).__name__)
            hint = ("join the text parts into one string" if isinstance(value, list)
                    else f'write it as a JSON string: "{value}"' if isinstance(value, (int, float)) else None)
            self.error("wrong_type", field, f"is {kind}, expected a string", hint)
            return None
        if required and not value.strip():
            self.error("empty_content", field, "is empty", "remove the row or fill in the text")
            return None
        return value


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def normalise(value: Any, spec: FormatSpec, loc: Loc, file: str) -> tuple[dict[str, Any] | None, list[Issue]]:
    row = _Row(loc, file)
    if not isinstance(value, dict):
        kind = TYPE_NAMES.get(type(value), "a string" if isinstance(value, str) else "null" if value is None else type(value).__name__)
        row.error("not_object", None, f"is {kind}, not a JSON object",
                  'each row must be an object such as {"messages": [...]}')
        return None, row.issues
    missing = [f for f in FIELDS[spec.name] if f not in ("role", "content", "system", "input") and spec.column(f) not in value]
    for canonical in missing:
        col = spec.column(canonical)
        present = ", ".join(list(value)[:6]) or "none"
        row.error("missing_field", col, f"missing (format {spec.name} needs it; this row has: {present})",
                  "every row of a file must use the same format and columns")
    if missing:
        return None, row.issues
    used = spec.used_columns()
    for key in value:
        if key not in used:
            row.warn("unexpected_field", key, f"not a field of format {spec.name}; ignored",
                     f"drop the column, or map it with --map FIELD={key}")
    record = _BUILDERS[spec.name](value, spec, row)
    return (None if row.failed else record), row.issues


def _system_prefix(value: dict[str, Any], spec: FormatSpec, row: _Row) -> list[dict[str, str]]:
    col = spec.column("system")
    system = row.text(value.get(col), col, required=False) if col in value else ""
    return [{"role": "system", "content": system}] if system and system.strip() else []


def _prompt_completion(value: dict[str, Any], spec: FormatSpec, row: _Row) -> dict[str, Any] | None:
    pcol, ccol = spec.column("prompt"), spec.column("completion")
    prompt, completion = value[pcol], value[ccol]
    if isinstance(prompt, list) and isinstance(completion, list):  # TRL's conversational prompt/completion
        return _conversation(prompt + completion, spec, row, pcol)
    prompt, completion = row.text(prompt, pcol), row.text(completion, ccol)
    system = _system_prefix(value, spec, row)
    if row.failed:
        return None
    return {"messages": system + [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]}


def _alpaca(value: dict[str, Any], spec: FormatSpec, row: _Row) -> dict[str, Any] | None:
    icol, incol, ocol = spec.column("instruction"), spec.column("input"), spec.column("output")
    instruction, output = row.text(value[icol], icol), row.text(value[ocol], ocol)
    extra = row.text(value.get(incol), incol, required=False)
    system = _system_prefix(value, spec, row)
    if row.failed:
        return None
    user = instruction if not (extra and extra.strip()) else f"{instruction}\n\n{extra}"
    return {"messages": system + [{"role": "user", "content": user}, {"role": "assistant", "content": output}]}


def _text(value: dict[str, Any], spec: FormatSpec, row: _Row) -> dict[str, Any] | None:
    col = spec.column("text")
    text = row.text(value[col], col)
    return None if row.failed else {"text": text}


def _messages(value: dict[str, Any], spec: FormatSpec, row: _Row) -> dict[str, Any] | None:
    col = spec.column("messages")
    messages = value[col]
    if isinstance(messages, str) and messages.lstrip().startswith("["):
        try:  # a CSV cell (or a stringified column) holding the JSON list
            messages = json.loads(messages)
        except json.JSONDecodeError as exc:
            row.error("wrong_type", col, f"is text that is not a valid JSON list ({exc.msg})")
            return None
    return _conversation(messages, spec, row, col)


def _role(raw: Any, spec: FormatSpec, row: _Row, field: str) -> str | None:
    role = spec.roles.get(raw, raw) if isinstance(raw, str) else raw
    if role in ROLES:
        return role
    if not isinstance(raw, str):
        row.error("wrong_type", field, f"is {_shown(raw)}, expected one of {', '.join(ROLES)}")
        return None
    guess = ROLE_SYNONYMS.get(raw.lower().strip(), raw.lower().strip() if raw.lower().strip() in ROLES else None)
    hint = f"map it: --role {raw}={guess}" if guess else f"roles are {', '.join(ROLES)}; map others with --role {raw}=ROLE"
    row.error("unknown_role", field, f"unknown role {raw!r}", hint)
    return None


def _conversation(messages: Any, spec: FormatSpec, row: _Row, col: str) -> dict[str, Any] | None:
    if not isinstance(messages, list):
        row.error("wrong_type", col, f"is {TYPE_NAMES.get(type(messages), _shown(messages))}, expected a list of "
                  "{role, content} objects")
        return None
    if not messages:
        row.error("empty_content", col, "has no messages", "remove the row")
        return None
    rkey, ckey = spec.column("role"), spec.column("content")
    out: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        where = f"{col}[{i}]"
        if not isinstance(message, dict):
            row.error("wrong_type", where, f"is {TYPE_NAMES.get(type(message), _shown(message))}, expected an object "
                      f"with {rkey!r} and {ckey!r}")
            continue
        for key in message:
            if key not in (rkey, ckey):
                row.warn("unexpected_field", f"{col}[].{key}", f"message key {key!r} is ignored")
        absent = [k for k in (rkey, ckey) if k not in message]
        for key in absent:
            row.error("missing_field", f"{where}.{key}", "missing", f"each message needs {rkey!r} and {ckey!r}")
        if absent:
            continue
        role = _role(message[rkey], spec, row, f"{where}.{rkey}")
        content = row.text(message[ckey], f"{where}.{ckey}")
        if role and content is not None:
            out.append({"role": role, "content": content})
    if row.failed:
        return None
    _check_order(out, row, col)
    return None if row.failed else {"messages": out}


def _check_order(messages: list[dict[str, str]], row: _Row, col: str) -> None:
    previous = None
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "system" and i > 0:
            row.error("wrong_order", f"{col}[{i}].role", "a system message after the first turn",
                      "put the system message first, or make it a user turn")
            return
        if role != "system" and previous in (None, "system") and role == "assistant":
            row.error("wrong_order", f"{col}[{i}].role", "the conversation starts with an assistant turn",
                      "start with the user's message, or drop the leading assistant turn")
            return
        if role == previous and role != "system":
            row.error("wrong_order", f"{col}[{i}].role", f"two {role} turns in a row",
                      "merge them into one turn, or add the missing turn between them")
            return
        previous = role
    if not any(m["role"] == "assistant" for m in messages):
        row.error("no_assistant", col, "no assistant turn, so nothing to learn from",
                  "add the assistant's answer, or remove the row")
    elif messages[-1]["role"] != "assistant":
        row.warn("trailing_turn", f"{col}[{len(messages) - 1}]",
                 f"ends with a {messages[-1]['role']} turn that no assistant turn answers (it is kept, untrained)")


_BUILDERS = {"messages": _messages, "prompt_completion": _prompt_completion, "alpaca": _alpaca, "text": _text}
