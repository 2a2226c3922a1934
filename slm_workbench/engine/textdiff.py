"""One word diff for every view that sets two texts side by side: two chat answers (the Chat
pane's diff, ``slmw chat`` comparing models) and an eval example's reference against the
prediction (the Eval pane). Pure: no model, no UI.

Two readings of "word", one algorithm (``difflib.SequenceMatcher`` over the words):

- ``exact=True`` (answers compared as written): words are the runs of non-space text and of
  space between them, compared as they are;
- ``exact=False`` (as the eval metrics score): a word is a word or one punctuation mark with the
  whitespace before it (JSON braces and quotes count, so a missing brace shows), compared
  case-insensitively.

Each side keeps its text exactly, split in spans a view colours.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

SpanKind = Literal["equal", "missing", "extra"]

_EXACT_WORDS = re.compile(r"\s+|[^\s]+")
_WORDS = re.compile(r"\s*(?:\w+|[^\w\s])(?:\s+$)?|\s+$")
"""A word or one punctuation mark with the whitespace before it (and, the last one, after it)."""


@dataclass(frozen=True)
class Span:
    text: str
    kind: SpanKind
    """``missing``: in the first text, not in the second; ``extra``: the other way round."""


@dataclass(frozen=True)
class WordDiff:
    reference: list[Span]
    """The first text, exactly, in spans ``equal`` / ``missing``."""
    prediction: list[Span]
    """The second text, exactly, in spans ``equal`` / ``extra``."""
    merged: list[Span]
    """One reading order (as ``git diff --word-diff``): equal text (the second's), and where they
    differ what was missing, then what came instead."""
    ratio: float
    """How alike the two are, 0..1 (``SequenceMatcher.ratio`` over the words)."""


def _spans(words: list[str], kind: SpanKind) -> list[Span]:
    return [Span("".join(words), kind)] if words else []


def _joined(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in spans:
        if out and out[-1].kind == span.kind:
            out[-1] = Span(out[-1].text + span.text, span.kind)
        else:
            out.append(span)
    return out


def word_diff(reference: str, prediction: str, *, exact: bool = False) -> WordDiff:
    """Which words of ``reference`` ``prediction`` lacks and which it adds (see the module)."""
    if exact:
        ref, pred = _EXACT_WORDS.findall(reference), _EXACT_WORDS.findall(prediction)
        matcher = difflib.SequenceMatcher(None, ref, pred, autojunk=False)
    else:
        ref, pred = _WORDS.findall(reference), _WORDS.findall(prediction)
        matcher = difflib.SequenceMatcher(None, [w.strip().casefold() for w in ref],
                                          [w.strip().casefold() for w in pred], autojunk=False)
    left: list[Span] = []
    right: list[Span] = []
    merged: list[Span] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left += _spans(ref[i1:i2], "equal")
            right += _spans(pred[j1:j2], "equal")
            merged += _spans(pred[j1:j2], "equal")
            continue
        left += _spans(ref[i1:i2], "missing")
        right += _spans(pred[j1:j2], "extra")
        merged += _spans(ref[i1:i2], "missing") + _spans(pred[j1:j2], "extra")
    return WordDiff(_joined(left), _joined(right), _joined(merged), matcher.ratio())
