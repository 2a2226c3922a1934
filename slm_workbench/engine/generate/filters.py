"""What a teacher's answer must pass to become a training row, and the checker it may be judged by.

Every answer is first checked as the Data engine checks a training row (``data/checks.py``:
the prompt turns plus the answer as a conversation whose last turn is a non-empty assistant
message, roles in order), so a kept row is one ``slmw train`` accepts. Then the filters of
``FilterSettings``, in a fixed order; the verdict is ``kept`` or the first reason to drop
(docs/distill.md).

A checker is ``module:function`` or ``path/to/file.py:function``, called as
``f(answer, reference, messages) -> bool``; ``slmw:check_extraction`` is the demo's own.
It is imported when the job starts (and by the launch check), so a bad one is one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

from ...config.generate import FilterSettings
from ..errors import WorkbenchError
from .layout import KEPT, Verdict

Checker = Callable[[str, str | None, list[dict[str, str]]], bool]
BUILTIN_CHECKERS = ("slmw:check_extraction",)


def check_extraction(answer: str, reference: str | None, messages: list[dict[str, str]]) -> bool:
    """The demo's checker: the answer's first line is the reference's JSON object (other rows pass)."""
    from ...demo.make_demo_data import check_extraction as demo_check

    try:
        expected = json.loads(reference) if reference else None
    except ValueError:
        expected = None
    if not isinstance(expected, dict):
        return True
    return demo_check(expected, answer)


def load_checker(spec: str) -> Checker:
    """The function ``spec`` names, or a ``WorkbenchError`` naming it and why it cannot be used."""
    if spec == "slmw:check_extraction":
        return check_extraction
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise WorkbenchError(f"checker {spec!r}: give it as module:function or path/to/file.py:function",
                             hint="or the built-in slmw:check_extraction")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser()
            if not path.is_file():
                raise WorkbenchError(f"checker {spec!r}: no such file {path}")
            module_spec = importlib.util.spec_from_file_location(f"slmw_checker_{path.stem}", path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except WorkbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure of user code is one line
        raise WorkbenchError(f"checker {spec!r}: cannot import {target}: {type(exc).__name__}: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise WorkbenchError(f"checker {spec!r}: {target} has no function {name}")
    return function


def _json_ok(answer: str) -> bool:
    text = answer.strip()
    for candidate in (text.splitlines()[0] if text else "", text):
        try:
            json.loads(candidate)
            return True
        except ValueError:
            continue
    return False


def validation_issue(messages: list[dict[str, str]], answer: str) -> str | None:
    """The Data engine's first error for the prompt + answer as a training row, or None when it is valid."""
    from ..data.checks import normalise
    from ..data.formats import make_spec
    from ..data.issues import Loc

    record, issues = normalise({"messages": [*messages, {"role": "assistant", "content": answer}]},
                               make_spec("messages"), Loc(0), "answer")
    if record is not None:
        return None
    error = next(i for i in issues if i.severity == "error")
    return f"{error.field}: {error.message}" if error.field else error.message


def verdict(answer: str, *, finished: bool, messages: list[dict[str, str]], reference: str | None,
            kept_before: set[str], settings: FilterSettings, checker: Checker | None) -> Verdict:
    """``kept``, or the first reason the answer is dropped."""
    problem = validation_issue(messages, answer)
    if problem is not None:
        return Verdict("invalid", str(problem))
    text = answer.strip()
    if settings.valid_json and not _json_ok(text):
        return Verdict("not JSON")
    if len(text) < settings.min_chars:
        return Verdict("too short")
    if settings.max_chars is not None and len(text) > settings.max_chars:
        return Verdict("too long")
    if settings.dedupe and text in kept_before:
        return Verdict("duplicate")
    if settings.drop_truncated and not finished:
        return Verdict("truncated")
    if checker is not None:
        try:
            ok = checker(answer, reference, messages)
        except Exception as exc:  # noqa: BLE001 - the user's checker failing on one answer drops that answer
            return Verdict("checker", f"raised {type(exc).__name__}: {str(exc)[:120]}")
        if not ok:
            return Verdict("checker", "rejected")
    return Verdict(KEPT)
